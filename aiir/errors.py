"""One exception hierarchy and one exit-status enum for the whole tool."""

from __future__ import annotations

import enum
import re


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


_LINE_BREAKS = str.maketrans(
    {
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
        # a byte of a name that is not UTF-8, as Python reads argv and paths (surrogateescape):
        # written as the byte, not dropped with the controls (a name of such bytes showed as '')
        **{chr(0xDC80 + byte): f"\\x{0x80 + byte:02x}" for byte in range(128)},
    }
)


def shown(value: str, keep: int = 160) -> str:
    """A name or path someone gave, as one line of a message: line breaks and tabs written as
    ``\\n``, ``\\r``, ``\\t``, a byte that is not UTF-8 as ``\\xff``, and a very long one
    kept by its two ends."""
    text = value.translate(_LINE_BREAKS)
    if len(text) <= keep:
        return text
    from aiir.redact import scrub  # masked before the cut: a cut secret is one no mask finds

    text = scrub(text)
    return text if len(text) <= keep else f"{text[: keep - 40]}...{text[-37:]}"


# A value quoted in a message ('...' or "...", as repr writes it), escapes included; an
# apostrophe within a word (aiir's, runbook's) opens no quote.
_QUOTED = re.compile(r"""(?<!\w)'(?:[^'\\\n]|\\.)*'|(?<!\w)"(?:[^"\\\n]|\\.)*\"""")
QUOTED_KEEP = 80
MESSAGE_KEEP = 1000


def clipped(message: str) -> str:
    """A message as it is printed: a long value quoted in it (a runbook's 300,000-character
    field, named by the error about it) kept by its two ends, and the whole bounded the same
    way, so one error stays one readable line. A line of a readable length is left alone (an
    apostrophe in its prose is no quote)."""
    if len(message) <= MESSAGE_KEEP:
        return message

    def clip(match: re.Match[str]) -> str:
        quoted = match.group()
        if len(quoted) <= QUOTED_KEEP:
            return quoted
        return f"{quoted[: QUOTED_KEEP - 30]}...{quoted[-25:]}"

    text = _QUOTED.sub(clip, message)
    if len(text) <= MESSAGE_KEEP:
        return text
    return f"{text[: MESSAGE_KEEP - 200]}...{text[-197:]}"
