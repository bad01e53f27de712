"""Prompts: how the engine asks the operator (the :class:`Prompter` protocol), and the prompters
that need no terminal. Every question has a stable id.

- :class:`ScriptedPrompter` answers from an ``--answers`` file, falling back to another prompter.
- :class:`NoTerminalPrompter` refuses, naming the node and the flag that would answer it.
- :class:`aiir.terminal.prompter.TerminalPrompter` asks with questionary in a real terminal.

A prompter checks a text answer itself (``check``): a person at a keyboard is asked again on the
spot, a script is told which answer is wrong. The engine never asks which prompter it has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiir.errors import InputError
from aiir.formats.answers import as_bool, repeated

Check = Callable[[str], str | None]  # what is wrong with an answer, or None
YES = frozenset({"y", "yes"})
NO = frozenset({"n", "no"})
DETAILS = frozenset({"d", "details"})
NOTE = ":note"  # typed at a prompt, ``:note TEXT`` adds a note to the journal and asks again
# Where a prompter that takes notes sends them (the walk journals them); None: it takes none.
NoteSink = Callable[[str], None]


def note_in(answer: str) -> str | None:
    """The note in an answer typed as ``:note TEXT`` (stripped), else None."""
    word = answer.strip()
    if word[: len(NOTE)].lower() != NOTE or (
        len(word) > len(NOTE) and not word[len(NOTE)].isspace()
    ):
        return None
    return word[len(NOTE) :].strip()


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

    def choose_many(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        """Several answers to one question (a multi-select), none or all of them."""
        ...


NODE_SUFFIXES = ("approve", "on_failure", "approvals")  # ``node.on_failure``: a key of its own


def answer_line(key: str, hint: str) -> str:
    """How an answers file answers ``key``: ``node: hint``, ``node.on_failure: hint``, and a
    called runbook's node under its runbook (``triage: {intake: hint}``: a flat
    ``triage.intake`` is read as a node ``triage`` of the runbook walked)."""
    parts = key.split(".")
    own = 2 if len(parts) > 1 and parts[-1] in NODE_SUFFIXES else 1
    line = f"{'.'.join(parts[-own:])}: {hint}"
    for runbook in reversed(parts[:-own]):
        line = f"{runbook}: {{{line}}}"
    return line


class NoTerminalPrompter:
    """For CI: every question is an error naming the flag to answer it with, and why none can
    be asked (``why``)."""

    def __init__(self, why: str = "there is no terminal") -> None:
        self.why = why

    def _missing(self, key: str, hint: str) -> MissingAnswer:
        return MissingAnswer(
            f"{key!r} needs an answer and {self.why}: "
            f"answer it in --answers FILE as `{answer_line(key, hint)}`"
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

    def choose_many(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        raise self._missing(key, "[" + ", ".join(o.value for o in options) + "]")


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
        return _once(key, [str(v) for v in items])

    def choose_many(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        if key not in self.answers:
            return self.fallback.choose_many(key, message, options)
        value = self.answers[key]
        items = [] if value is None else value if isinstance(value, list) else [value]
        picked = []
        for item in items:
            option = next((o for o in options if str(item) in {o.value, o.label}), None)
            if option is None:
                allowed = ", ".join(o.value for o in options)
                raise InputError(f"--answers: {key}: {item!r} is not one of: {allowed}")
            picked.append(option.value)
        return _once(key, picked)


def yes_no_problem(answer: str, *, details: bool = False) -> str | None:
    """Why a typed answer to a yes/no question is not one; Enter alone takes the default."""
    word = answer.strip().lower()
    if not word or word in YES | NO or (details and word in DETAILS) or note_in(word):
        return None
    return "type y (yes) or n (no)" + (", or d for the details," if details else "") + " then Enter"


def _once(key: str, picked: list[str]) -> list[str]:
    """Refuse a choice or item answered twice (validation reports it with its line first)."""
    twice = repeated(picked)
    if twice is not None:
        raise InputError(f"--answers: {key}: {twice!r} is picked more than once")
    return picked
