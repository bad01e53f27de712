"""Timers and cadences a runbook (or the workspace) states: deadlines the walk measures and
reminders it gives, relative to the incident's start or to a node.

A *timer* is a deadline: ``{name: ack, within: 15m, from: start, until: page-ic}`` is met when
the walk finishes node ``page-ic`` within 15 minutes of the start (``until`` left out: when the
walk ends). ``from`` is ``start`` or a node: the timer runs from that node's first entry. A node's
own ``within: 10m`` is a timer named after the node, from the start, until the node is done. A
*cadence* is how often the status is posted (``status_updates: {every: 30m, first_within: 5m}``).
"""

# No ``from __future__ import annotations``: see aiir.formats.schema.
import datetime as dt
import re

from aiir.formats.common import Duration, NodeId, Severity, Slug, Strict
from aiir.formats.modeling import ConfigDict, Field

START = "start"  # a timer's ``from`` when it counts from the incident's start
_DURATION = re.compile(r"^([0-9]{1,6})([smhd])$")  # the format's bound (common.DURATION)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def span(text: str) -> dt.timedelta:
    """``15m`` as a time span (the format's pattern has checked the text)."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 15m, 2h, 1d)")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Timer(Strict):
    """A deadline: reach the end of ``until`` within ``within`` of ``from``."""

    name: Slug = Field(description="how reports and drill scenarios name this timer")
    within: Duration = Field(description="the deadline, e.g. 15m, 4h, 1d")
    from_: NodeId = Field(
        default=START,
        alias="from",
        description="'start' (the incident's start) or the node whose first entry starts it",
    )
    until: NodeId | None = Field(
        default=None, description="the node that meets it when done; default: the walk's end"
    )
    severity: list[Severity] = Field(
        default_factory=list,
        description="only for incidents that reach one of these severities; default: every one",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class Cadence(Strict):
    """How often status updates are due: the first within ``first_within`` of the start, then
    one every ``every`` after the last one a status channel took."""

    every: Duration = Field(description="time between status updates, e.g. 30m")
    first_within: Duration = Field(default="5m", description="the first update after the start")
    severity: list[Severity] = Field(
        default_factory=lambda: [Severity.SEV1, Severity.SEV2],
        description="severities that need status updates",
    )
