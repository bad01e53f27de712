"""Prompters: how the engine asks the operator. Every question has a stable id.

- :class:`TerminalPrompter` asks with questionary in a real terminal.
- :class:`ScriptedPrompter` answers from an ``--answers`` file, falling back to another prompter.
- :class:`NoTerminalPrompter` refuses, naming the node and the flag that would answer it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiir.errors import InputError
from aiir.safe import plain


@dataclass(frozen=True)
class Option:
    """One answer the operator can pick."""

    value: str
    label: str


class MissingAnswer(InputError):
    """No terminal to ask, and no scripted answer for this question."""


class Prompter(Protocol):
    """Asks questions; ``key`` is the id an answers file uses for the same question."""

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str: ...

    def confirm(self, key: str, message: str, default: bool = False) -> bool: ...

    def text(self, key: str, message: str, default: str | None = None) -> str: ...

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

    def confirm(self, key: str, message: str, default: bool = False) -> bool:
        raise self._missing(key, "yes | no")

    def text(self, key: str, message: str, default: str | None = None) -> str:
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

    def confirm(self, key: str, message: str, default: bool = False) -> bool:
        if key not in self.answers:
            return self.fallback.confirm(key, message, default)
        return as_bool(self.answers[key], key)

    def text(self, key: str, message: str, default: str | None = None) -> str:
        if key not in self.answers:
            return self.fallback.text(key, message, default)
        return str(self.answers[key])

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


class TerminalPrompter:
    """Interactive questions with questionary; Ctrl-C (or Ctrl-D) raises KeyboardInterrupt."""

    def _ask(self, question: Any) -> Any:
        """One answer; unsafe_ask lets KeyboardInterrupt through to the engine.

        Ctrl-D (end of input) is the operator leaving too: as an EOFError it would skip the
        engine's interrupt handling and leave the incident without a resumable end.
        """
        try:
            return question.unsafe_ask()
        except EOFError:
            raise KeyboardInterrupt from None

    def choose(self, key: str, message: str, options: Sequence[Option]) -> str:
        import questionary

        choices = [questionary.Choice(title=plain(o.label), value=o.value) for o in options]
        return str(self._ask(questionary.select(plain(message), choices=choices)))

    def confirm(self, key: str, message: str, default: bool = False) -> bool:
        import questionary

        return bool(self._ask(questionary.confirm(plain(message), default=default)))

    def text(self, key: str, message: str, default: str | None = None) -> str:
        import questionary

        return str(self._ask(questionary.text(plain(message), default=default or "")))

    def checklist(self, key: str, message: str, options: Sequence[Option]) -> list[str]:
        import questionary

        choices = [questionary.Choice(title=plain(o.label), value=o.value) for o in options]
        picked = self._ask(questionary.checkbox(plain(message), choices=choices))
        return [str(v) for v in picked or []]
