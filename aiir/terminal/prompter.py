"""The terminal's prompter: questions asked with questionary, the answer typed at the keyboard."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from aiir.prompts import (
    DETAILS,
    NOTE,
    YES,
    Check,
    NoteSink,
    OperatorLeft,
    Option,
    Prompter,
    note_in,
    yes_no_problem,
)
from aiir.terminal.inert import plain
from aiir.terminal.lines import LinePrompter, control_in
from aiir.terminal.lists import fit_list

_ADD_NOTE = "\x00note"  # the value of the "add a note" entry of a list


class TerminalPrompter:
    """Interactive questions with questionary.

    Only what the operator typed at the question on the screen answers it: keys typed earlier
    (while a request was in flight, or a second Enter after the last answer) are discarded
    before each prompt is drawn. A yes/no needs a word and Enter, never a single key.
    Ctrl-C or Ctrl-D raise :class:`OperatorLeft`. With a note sink (``notes``, set by the
    walk), ``:note TEXT`` typed at a yes/no or text prompt, or the "add a note" entry of a list,
    journals a note and asks the same question again.
    """

    def __init__(self, show: Callable[[str], None] | None = None) -> None:
        self.show = show or print  # where the details of a confirm are printed
        self.notes: NoteSink | None = None

    def _noted(self, answer: str) -> bool:
        """Whether ``answer`` was a note (and so was taken down)."""
        text = note_in(answer) if self.notes is not None else None
        if text is None or self.notes is None:
            return False
        if text:
            self.notes(text)
        else:
            self.show(f"a note needs some text: {NOTE} what happened")
        return True

    def _ask(self, question: Any) -> Any:
        """One answer; unsafe_ask lets Ctrl-C through to the engine, as OperatorLeft."""
        discard_typeahead()
        try:
            return question.unsafe_ask()
        except EOFError:
            raise OperatorLeft("Ctrl-D") from None
        except KeyboardInterrupt:
            raise OperatorLeft("Ctrl-C") from None

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str:
        import questionary

        choices = [questionary.Choice(title=plain(o.label), value=o.value) for o in options]
        if self.notes is not None:
            choices.append(questionary.Choice(title="✎ add a note", value=_ADD_NOTE))
        while True:
            picked = str(self._ask(_listed(questionary.select(plain(message), choices=choices))))
            if picked != _ADD_NOTE:
                return picked
            self._noted(f"{NOTE} " + str(self._ask(questionary.text("Note:"))))

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        marks = ("(Y/n" if default else "(y/N") + ("/d)" if details else ")")
        while True:
            answer = self._ask(_yes_no_question(plain(message), marks, details is not None))
            word = str(answer).strip().lower()
            if self._noted(str(answer)):
                continue
            if details is not None and word in DETAILS:
                self.show(details)
                continue
            return default if not word else word in YES

    def text(
        self, key: str, message: str, default: str | None = None, check: Check | None = None
    ) -> str:
        import questionary

        def valid(answer: str) -> bool | str:
            typo = control_in(answer)
            if typo is not None:
                return typo
            if self.notes is not None and note_in(answer) is not None:
                return True
            problem = check(answer) if check is not None else None
            return True if problem is None else problem

        while True:
            question = questionary.text(
                plain(message), default=default or "", validate=valid, enable_suspend=True
            )
            answer = str(self._ask(question))
            if not self._noted(answer):
                return answer

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        import questionary

        choices = [questionary.Choice(title=plain(o.label), value=o.value) for o in options]
        picked = self._ask(_listed(questionary.checkbox(plain(message), choices=choices)))
        return [str(v) for v in picked or []]

    def choose_many(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        """Space ticks a choice, Enter takes the ticked ones (none is an answer too)."""
        import questionary

        choices = [questionary.Choice(title=plain(o.label), value=o.value) for o in options]
        picked = self._ask(
            _listed(
                questionary.checkbox(
                    plain(message), choices=choices, instruction="(Space to pick, Enter when done)"
                )
            )
        )
        return [str(v) for v in picked or []]


def terminal_prompter() -> Prompter:
    """The prompter for this terminal: questionary's lists and prompts, or one line per
    question on a terminal that cannot move its cursor (``TERM=dumb``, as prompt_toolkit
    reads it)."""
    from prompt_toolkit.utils import is_dumb_terminal

    if is_dumb_terminal():
        return LinePrompter()
    return TerminalPrompter()


def _listed(question: Any) -> Any:
    """A list (select, checkbox) that Ctrl-D leaves as a text or yes/no prompt does (questionary
    binds only Ctrl-C, and a Ctrl-D at a list was silently ignored), fitted to the terminal
    (:func:`aiir.terminal.lists.fit_list`)."""
    from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

    leave = KeyBindings()

    @leave.add("c-d", eager=True)
    def _(event: Any) -> None:
        event.app.exit(exception=EOFError, style="class:aborting")

    app = question.application
    app.key_bindings = merge_key_bindings([b for b in (app.key_bindings, leave) if b])
    return fit_list(question)


def _yes_no_question(message: str, marks: str, details: bool) -> Any:
    """A yes/no that takes a word and Enter (never a lone key): ``(y/N)`` shows while it asks,
    and the answer typed stays on screen once it is given."""
    import questionary
    from prompt_toolkit import PromptSession
    from prompt_toolkit.application.current import get_app
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.validation import Validator
    from questionary.styles import merge_styles_default

    default = "yes" if marks.startswith("(Y") else "no"

    def tokens() -> StyleAndTextTuples:
        shown: StyleAndTextTuples = [("class:qmark", "?"), ("class:question", f" {message} ")]
        app = get_app()
        if not app.is_done:
            shown.append(("class:instruction", f"{marks} "))
        elif not app.current_buffer.text.strip() and _answered(app):  # Enter alone: say which
            shown.append(("class:answer", f"{default} (the default)"))
        return shown

    validator = Validator.from_callable(
        lambda answer: yes_no_problem(answer, details=details) is None,
        error_message=yes_no_problem("?", details=details) or "",
        move_cursor_to_end=True,
    )
    session: PromptSession[str] = PromptSession(
        tokens, validator=validator, style=merge_styles_default([None]), enable_suspend=True
    )
    return questionary.Question(session.app)


def _answered(app: Any) -> bool:
    """Whether the question ended with an answer (Enter), not with Ctrl-C or Ctrl-D: those end
    it too, and the line left on screen said the default was taken when the walk had stopped."""
    future = app.future
    return future is not None and not future.cancelled() and future.exception() is None


def discard_typeahead() -> None:
    """Drop keys typed before the prompt is drawn: the terminal's pending input and what
    prompt_toolkit read ahead after the last answer (it would feed them to the next prompt)."""
    import sys
    import termios

    from prompt_toolkit.input import typeahead
    from prompt_toolkit.input.defaults import create_input

    with contextlib.suppress(AttributeError, OSError, ValueError, termios.error):  # a pipe
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    typeahead.clear_typeahead(create_input())
