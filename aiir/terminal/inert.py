"""Hostile text made inert: anything from a model, a user or a gateway is shown through here.

Terminal escape sequences (CSI, OSC such as hyperlinks or title changes), other control characters,
bidirectional overrides and invisible (zero-width) characters are removed; the result is printed
as a rich ``Text``, which never interprets ``[bold]``-style console markup.
"""

from __future__ import annotations

from rich.text import Text

from aiir.formats.printable import json_inert, plain

__all__ = ["inert", "json_inert", "plain"]


def inert(text: str, style: str = "") -> Text:
    """A rich Text that shows ``text`` literally: no markup, no escapes."""
    return Text(plain(text), style=style)
