"""The prompter of a terminal that cannot move its cursor (``TERM=dumb``: an editor's shell
buffer, a serial console). questionary draws its lists with cursor movements such a terminal
prints as garbage, and some send a line only once Enter is pressed, so arrows cannot work:
here every question is a line, and every answer a line typed and Enter (a choice by its number
or value). The same rules as :class:`aiir.terminal.prompter.TerminalPrompter`: keys typed
before the question are dropped, a yes/no needs a word, Ctrl-C or Ctrl-D leave
(:class:`OperatorLeft`), ``:note TEXT`` journals a note and asks again."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Sequence

from aiir.prompts import (
    DETAILS,
    YES,
    Check,
    NoteSink,
    OperatorLeft,
    Option,
    note_in,
    yes_no_problem,
)
from aiir.terminal.inert import plain

ALL, NONE = frozenset({"all", "a"}), frozenset({"", "none"})


def _flush() -> None:
    """Drop what was typed before the question was shown (not a terminal: nothing to drop)."""
    import termios

    with contextlib.suppress(AttributeError, OSError, ValueError, termios.error):
        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)


class LinePrompter:
    """One line per question, one line per answer: no cursor movement, no colour."""

    def __init__(self, read: Callable[[str], str] = input) -> None:
        self.read = read
        self.notes: NoteSink | None = None
        self.said: list[str] = []  # lines for above the next question

    def show(self, line: str) -> None:
        """Said with the next question, in one write: printed on its own, a line could come
        out after the question (a tabletop holds what is printed while a question waits)."""
        self.said.append(line)

    def _line(self, prompt: str) -> str:
        _flush()
        above, self.said = "".join(f"{line}\n" for line in self.said), []
        try:
            return self.read(f"{above}? {plain(prompt)} ")
        except EOFError:
            raise OperatorLeft("Ctrl-D") from None
        except KeyboardInterrupt:
            raise OperatorLeft("Ctrl-C") from None

    def _noted(self, answer: str) -> bool:
        text = note_in(answer) if self.notes is not None else None
        if text is None or self.notes is None:
            return False
        if text:
            self.notes(text)
        else:
            self.show("a note needs some text: :note what happened")
        return True

    def _picks(self, message: str, options: Sequence[Option], hint: str) -> list[str]:
        """The options' values named by number or value in one line, in the order given."""
        for number, option in enumerate(options, 1):
            self.show(f"  {number}) {plain(option.label)}")
        while True:
            answer = self._line(f"{message} ({hint})")
            if self._noted(answer):
                continue
            words = [w for w in re.split(r"[\s,]+", answer.strip()) if w]
            several = hint != "a number"
            if several and answer.strip().lower() in NONE:
                return []
            if several and len(words) == 1 and words[0].lower() in ALL:
                return [o.value for o in options]
            picked = [_option(w, options) for w in words]
            if all(p is not None for p in picked):
                return list(dict.fromkeys(p.value for p in picked if p is not None))
            unknown = next(w for w, p in zip(words, picked, strict=True) if p is None)
            self.show(f"{plain(unknown)!r} is not one of 1-{len(options)}")

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str:
        while True:
            picked = self._picks(message, options, "a number")
            if len(picked) == 1:
                return picked[0]
            self.show(f"one answer: a number from 1 to {len(options)}, then Enter")

    def confirm(
        self, key: str, message: str, default: bool = False, details: str | None = None
    ) -> bool:
        marks = ("(Y/n" if default else "(y/N") + ("/d)" if details else ")")
        while True:
            answer = self._line(f"{message} {marks}")
            word = answer.strip().lower()
            if self._noted(answer):
                continue
            problem = yes_no_problem(answer, details=details is not None)
            if problem is not None:
                self.show(problem)
                continue
            if details is not None and word in DETAILS:
                self.show(details)
                continue
            return default if not word else word in YES

    def text(
        self, key: str, message: str, default: str | None = None, check: Check | None = None
    ) -> str:
        shown = f"{message} [{plain(default)}]" if default else message
        while True:
            answer = self._line(shown)
            if self._noted(answer):
                continue
            answer = answer or (default or "")
            problem = control_in(answer) or (check(answer) if check is not None else None)
            if problem is None:
                return answer
            self.show(problem)

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        return self._picks(message, options, "the numbers done, all, or Enter for none")

    def choose_many(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        return self._picks(message, options, "numbers, all, or Enter for none")


def control_in(answer: str) -> str | None:
    """What is wrong with a typed line that holds a control key (a Ctrl-Z or Ctrl-V pressed by
    mistake goes into the text as a character, and a lever would use it) or a pasted line
    break; None for a plain line (a tab is text)."""
    for char in answer:
        if char in "\n\r":
            return "one line only: the answer holds a line break (a pasted block?); erase it"
        if char != "\t" and (char < " " or "\x7f" <= char <= "\x9f"):
            key = f"^{chr(ord(char) ^ 0x40)}" if char <= "\x7f" else f"U+{ord(char):04X}"
            return f"the answer holds a control character ({key}): erase it"
    return None


def _option(word: str, options: Sequence[Option]) -> Option | None:
    if word.isdigit() and 1 <= int(word) <= len(options):
        return options[int(word) - 1]
    return next((o for o in options if word in {o.value, o.label}), None)
