"""Hostile text made inert: anything from a model, a user or a gateway is shown through here.

Terminal escape sequences (CSI, OSC such as hyperlinks or title changes), other control characters,
bidirectional overrides and invisible (zero-width) characters are removed; the result is printed
as a rich ``Text``, which never interprets ``[bold]``-style console markup.

A table's cell is bounded too (:func:`cell`): a 300,000-character model name or check value
folded into a column of an 80-column terminal would be thousands of rows.
"""

from __future__ import annotations

from rich.text import Text

from aiir.formats.printable import json_inert, plain

__all__ = ["CELL", "cell", "ends", "inert", "json_inert", "plain"]

CELL = 240  # characters of a table's cell: a few rows of a narrow column


def inert(text: str, style: str = "") -> Text:
    """A rich Text that shows ``text`` literally: no markup, no escapes."""
    return Text(plain(text), style=style)


def cell(text: str, style: str = "", keep: int = CELL) -> Text:
    """:func:`inert`, and a text longer than ``keep`` characters kept by its two ends (the
    whole is in the command's ``--json``, JUnit or report file)."""
    return Text(ends(plain(text), keep), style=style)


def ends(text: str, keep: int) -> str:
    """``text`` when it has at most ``keep`` characters; else its start and its end around
    ``…``, ``keep`` characters in all."""
    if len(text) <= keep:
        return text
    tail = max((keep - 1) // 3, 0)
    return f"{text[: keep - 1 - tail]}…{text[len(text) - tail :] if tail else ''}"
