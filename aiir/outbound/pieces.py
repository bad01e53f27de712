"""Cutting a long message into pieces a channel takes (Slack sections, Teams TextBlocks)."""

from __future__ import annotations

from collections.abc import Callable


def split(text: str, limit: int, cut_at: Callable[[str, int], int]) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut where ``cut_at`` says (each channel
    knows what its markup must keep together). The line end or space cut at is the only character
    dropped; blank pieces are skipped."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = cut_at(rest, limit)
        piece, rest = rest[:cut], rest[cut:]
        if rest[:1] in {"\n", " "}:
            rest = rest[1:]
        if piece.strip():
            pieces.append(piece.rstrip())
    if rest.strip():
        pieces.append(rest)
    return pieces
