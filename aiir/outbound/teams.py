"""Microsoft Teams: a notify node's message as an Adaptive Card for a Teams Workflows webhook.

A Workflows trigger ("When a Teams webhook request is received") takes a ``message`` activity
whose attachments are Adaptive Cards; aiir sends one card of version 1.5: a header, the message
over as many TextBlocks as it needs, and the incident's context line. Values a template inserts
arrive escaped for the TextBlock markdown (:func:`aiir.formats.templating.teams_escape`); the
header and the context line, made here from the incident, are escaped the same way.
"""

from __future__ import annotations

import json
from typing import Any

from aiir.formats.printable import plain
from aiir.formats.templating import teams_escape
from aiir.incident.state import Incident
from aiir.outbound.pieces import split

CARD_VERSION = "1.5"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams refuses a message over about 28 KB (HTTP 413): a card's body, as sent (compact JSON in
# UTF-8, where a quote or a backslash takes two bytes and an emoji four), is kept within BODY.
TEXT_BLOCK = 2000
TEXT_BLOCKS = 10
HEADER = 150
BODY = 26 * 1024


def teams_message(text: str, incident: Incident, anchor: str | None = None) -> dict[str, Any]:
    """The webhook's body: one ``message`` with one Adaptive Card attachment (its context line
    carries the journal's ``anchor`` when given)."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": CARD_CONTENT_TYPE,
                "contentUrl": None,
                "content": card(text, incident, anchor),
            }
        ],
    }


def card(text: str, incident: Incident, anchor: str | None = None) -> dict[str, Any]:
    """The Adaptive Card. A message too long for one card ends in a block that says how much more
    is in the incident's journal: nothing is cut silently."""
    pieces = split_markdown(text, TEXT_BLOCK) or ["(no text)"]
    title = plain(f"[{incident.severity}] {incident.title}")  # a runbook's title is anyone's text
    title = title if len(title) <= HEADER else title[: HEADER - 1] + "…"
    context = f"{incident.id} · runbook {incident.runbook}" + (" · DRILL" if incident.drill else "")
    if anchor:
        context += f" · journal anchor {anchor}"
    header = {
        "type": "TextBlock",
        "text": teams_escape(title),
        "size": "Medium",
        "weight": "Bolder",
        "wrap": True,
        "style": "heading",
    }
    footer = {
        "type": "TextBlock",
        "text": teams_escape(context),
        "isSubtle": True,
        "size": "Small",
        "wrap": True,
    }
    return {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": [header, *_fitted(pieces, BODY - _size([header, footer])), footer],
    }


def _block(text: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True}


def _size(value: Any) -> int:
    """Its bytes as the webhook's body carries them: compact JSON, UTF-8."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _fitted(pieces: list[str], budget: int) -> list[dict[str, Any]]:
    """The message's blocks, as many as fit in ``budget`` bytes (and :data:`TEXT_BLOCKS`); when
    not all do, the last says how many characters more are in the incident's journal: nothing
    is cut silently."""
    blocks = [_block(piece) for piece in pieces]
    if len(blocks) <= TEXT_BLOCKS and _size(blocks) <= budget:
        return blocks
    kept, used = 0, 0
    room = budget - _size([_block(_more(10**12))])  # the closing block, at its longest
    while kept < min(len(blocks), TEXT_BLOCKS - 1):
        used += _size(blocks[kept]) + 1  # and its comma
        if used > room:
            break
        kept += 1
    return [*blocks[:kept], _block(_more(sum(len(p) for p in pieces[kept:])))]


def _more(left: int) -> str:
    return f"_… {left:,} more characters of this message are in the incident's journal._"


def split_markdown(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at the last line end, else the
    last space, else at the limit; never between a backslash and the character it escapes.
    The line end or space cut at is the only character dropped; blank pieces are skipped."""
    return split(text, limit, _cut_at)


def _cut_at(text: str, limit: int) -> int:
    for separator in ("\n", " "):
        at = text.rfind(separator, limit // 2, limit + 1)
        if at > 0:
            return at
    cut = limit
    while cut > 1 and _escapes_next(text, cut):
        cut -= 1
    return cut


def _escapes_next(text: str, cut: int) -> bool:
    """Whether the text before ``cut`` ends in an odd run of backslashes (one escaping the next)."""
    run = len(text[:cut]) - len(text[:cut].rstrip("\\"))
    return run % 2 == 1
