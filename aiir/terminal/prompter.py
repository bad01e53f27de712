"""Prompters: how the engine asks the operator. Every question has a stable id.

- :class:`TerminalPrompter` asks with questionary in a real terminal.
- :class:`ScriptedPrompter` answers from an ``--answers`` file, falling back to another prompter.
- :class:`NoTerminalPrompter` refuses, naming the node and the flag that would answer it.

A prompter checks a text answer itself (``check``): a person at a keyboard is asked again on the
spot, a script is told which answer is wrong. The engine never asks which prompter it has.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiir.errors import InputError
from aiir.terminal.inert import plain

Check = Callable[[str], str | None]  # what is wrong with an answer, or None
YES = frozenset({"y", "yes"})
NO = frozenset({"n", "no"})
DETAILS = frozenset({"d", "details"})


@dataclass(frozen=True)
class Option:
    """One answer the operator can pick."""

    value: str
    label: str


class MissingAnswer(InputError):
    """No terminal to ask, and no scripted answer for this question."""


class OperatorLeft(KeyboardInterrupt):
    """The operator left a prompt: Ctrl-C, or Ctrl-D (end of input)."""

    def __init__(self, key: str = "Ctrl-C") -> None:
        super().__init__(key)
        self.key = key


class Prompter(Protocol):
    """Asks questions; ``key`` is the id an answers file uses for the same question."""

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str: ...

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        """Yes or no; ``details`` is shown on request (the full request behind a lever)."""
        ...

    def text(
        self, key: str, message: str, default: str | None = None, check: Check | None = None
    ) -> str:
        """A line of text that ``check`` accepts."""
        ...

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]: ...


class NoTerminalPrompter:
    """For CI: every question is an error naming the flag to answer it with."""

    def _missing(self, key: str, hint: str) -> MissingAnswer:
        return MissingAnswer(
            f"{key!r} needs an answer and there is no terminal: "
            f"answer it in --answers FILE as `{key}: {hint}`"
        )

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str:
        raise self._missing(key, " | ".join(o.value for o in options))

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        raise self._missing(key, "yes | no")

    def text(
        self, key: str, message: str, default: str | None = None, check: Check | None = None
    ) -> str:
        raise self._missing(key, "<text>")

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        raise self._missing(key, "all | [" + ", ".join(o.value for o in options) + "]")


class ScriptedPrompter:
    """Answers from a mapping (an ``--answers`` file); unknown questions go to ``fallback``."""

    def __init__(self, answers: Mapping[str, Any], fallback: Prompter) -> None:
        self.answers = answers
        self.fallback = fallback

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str:
        if key not in self.answers:
            return self.fallback.choose(key, message, options)
        value = str(self.answers[key])
        for option in options:
            if value in {option.value, option.label}:
                return option.value
        allowed = ", ".join(o.value for o in options)
        raise InputError(f"--answers: {key}: {value!r} is not one of: {allowed}")

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        if key not in self.answers:
            return self.fallback.confirm(key, message, default, details)
        return as_bool(self.answers[key], key)

    def text(
        self, key: str, message: str, default: str | None = None, check: Check | None = None
    ) -> str:
        if key not in self.answers:
            return self.fallback.text(key, message, default, check)
        value = str(self.answers[key])
        problem = check(value) if check is not None else None
        if problem is not None:
            raise InputError(f"--answers: {key}: {problem}")
        return value

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        if key not in self.answers:
            return self.fallback.checklist(key, message, options)
        value = self.answers[key]
        known = [o.value for o in options]
        if value == "all" or value is True:
            return known
        if value in (None, "none", False):
            return []
        items = value if isinstance(value, list) else [value]
        unknown = [str(v) for v in items if str(v) not in known]
        if unknown:
            raise InputError(f"--answers: {key}: unknown item(s) {', '.join(unknown)}")
        return [str(v) for v in items]


def as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"yes", "y", "true", "1"}:
        return True
    if text in {"no", "n", "false", "0"}:
        return False
    raise InputError(f"--answers: {key}: {value!r} is not yes or no")


def yes_no_problem(answer: str, *, details: bool = False) -> str | None:
    """Why a typed answer to a yes/no question is not one; Enter alone takes the default."""
    word = answer.strip().lower()
    if not word or word in YES | NO or (details and word in DETAILS):
        return None
    return "type y (yes) or n (no)" + (", or d for the details," if details else "") + " then Enter"


class TerminalPrompter:
    """Interactive questions with questionary.

    Only what the operator typed at the question on the screen answers it: keys typed earlier
    (while a request was in flight, or a second Enter after the last answer) are discarded
    before each prompt is drawn. A yes/no needs a word and Enter, never a single key.
    Ctrl-C or Ctrl-D raise :class:`OperatorLeft`.
    """

    def __init__(self, show: Callable[[str], None] | None = None) -> None:
        self.show = show or print  # where the details of a confirm are printed

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
        return str(self._ask(questionary.select(plain(message), choices=choices)))

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        marks = ("(Y/n" if default else "(y/N") + ("/d)" if details else ")")
        while True:
            answer = self._ask(_yes_no_question(plain(message), marks, details is not None))
            word = str(answer).strip().lower()
            if details is not None and word in DETAILS:
                self.show(details)
                continue
            return default if not word else word in YES

    def text(
        self, key: str, message: str, default: str | None = None, check: Check | None = None
    ) -> str:
        import questionary

        def valid(answer: str) -> bool | str:
            problem = check(answer) if check is not None else None
            return True if problem is None else problem

        return str(
            self._ask(questionary.text(plain(message), default=default or "", validate=valid))
        )

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        import questionary

        choices = [questionary.Choice(title=plain(o.label), value=o.value) for o in options]
        picked = self._ask(questionary.checkbox(plain(message), choices=choices))
        return [str(v) for v in picked or []]


def _yes_no_question(message: str, marks: str, details: bool) -> Any:
    """A yes/no that takes a word and Enter (never a lone key): ``(y/N)`` shows while it asks,
    and the answer typed stays on screen once it is given."""
    import questionary
    from prompt_toolkit import PromptSession
    from prompt_toolkit.application.current import get_app
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.validation import Validator
    from questionary.styles import merge_styles_default

    def tokens() -> StyleAndTextTuples:
        shown: StyleAndTextTuples = [("class:qmark", "?"), ("class:question", f" {message} ")]
        if not get_app().is_done:
            shown.append(("class:instruction", f"{marks} "))
        return shown

    validator = Validator.from_callable(
        lambda answer: yes_no_problem(answer, details=details) is None,
        error_message=yes_no_problem("?", details=details) or "",
        move_cursor_to_end=True,
    )
    session: PromptSession[str] = PromptSession(
        tokens, validator=validator, style=merge_styles_default([None])
    )
    return questionary.Question(session.app)


def discard_typeahead() -> None:
    """Drop keys typed before the prompt is drawn: the terminal's pending input and what
    prompt_toolkit read ahead after the last answer (it would feed them to the next prompt)."""
    import sys
    import termios

    from prompt_toolkit.input import typeahead
    from prompt_toolkit.input.defaults import create_input

    with contextlib.suppress(OSError, ValueError, termios.error):  # not a terminal: a pipe
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    typeahead.clear_typeahead(create_input())
