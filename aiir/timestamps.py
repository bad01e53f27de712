"""Moments as the journal writes them (UTC ISO-8601, milliseconds, a Z) and elapsed time as the
screen and the reports show it (``T+01:02:03``)."""

from __future__ import annotations

import datetime as dt


def iso(moment: dt.datetime) -> str:
    """UTC ISO-8601 with milliseconds and a Z."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def clock_text(elapsed: dt.timedelta) -> str:
    """``T+01:02:03``."""
    seconds = max(int(elapsed.total_seconds()), 0)
    return f"T+{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
