"""Timestamps of the simulated world: UTC ISO-8601 with milliseconds and a Z, as aiir writes."""

from __future__ import annotations

import datetime as dt


def now(offset_s: float = 0.0) -> str:
    """Now (or ``offset_s`` seconds from now) as ``2026-01-01T03:15:00.000Z``."""
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_s)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def within(ts: str, start: str, end: str) -> bool:
    """``ts`` in ``[start, end]``; an empty bound is open."""
    return (not start or ts >= start) and (not end or ts <= end)
