"""One exception hierarchy and one exit-status enum for the whole tool."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Process exit codes, as documented in the README."""

    OK = 0
    FAILED = 1  # the work itself failed: runbook ended in failure, drill unmet, canary deviated
    BAD_INPUT = 2  # usage error or an invalid file
    INTERRUPTED = 130  # Ctrl-C


class AiirError(Exception):
    """Base of every error aiir reports to a user without a traceback."""

    exit_status: ExitStatus = ExitStatus.FAILED


class InputError(AiirError):
    """Bad input: a flag, a file that cannot be read, a document that is invalid."""

    exit_status = ExitStatus.BAD_INPUT


class LoadError(InputError):
    """A file could not be loaded; carries the location of the problem."""

    def __init__(self, path: str, line: int, col: int, message: str, breadcrumb: str = "") -> None:
        self.path = path
        self.line = line
        self.col = col
        self.message = message
        self.breadcrumb = breadcrumb
        super().__init__(self.render())

    def render(self) -> str:
        where = f"{self.breadcrumb}: " if self.breadcrumb else ""
        return f"{self.path}:{self.line}:{self.col}: error: {where}{self.message}"


class ValidationFailed(InputError):
    """A document loaded but has findings of error severity."""


_LINE_BREAKS = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


def shown(value: str, keep: int = 160) -> str:
    """A name or path someone gave, as one line of a message: line breaks and tabs written as
    ``\\n``, ``\\r``, ``\\t``, and a very long one kept by its two ends."""
    text = value.translate(_LINE_BREAKS)
    return text if len(text) <= keep else f"{text[: keep - 40]}...{text[-37:]}"
