"""The walk's clocks: the runbooks' timers (time left shown at each node, a missed deadline
journalled once, a met one when its node is done) and the status-update cadence.

The verdicts come from :mod:`aiir.reports.timers`, which ``aiir show`` and the reports read too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiir.formats.schema import Runbook
from aiir.formats.timers import Cadence, span
from aiir.incident import payloads
from aiir.incident.events import EventType
from aiir.reports.timers import MISSED, OPEN, TimerStatus, left_text, specs, statuses
from aiir.timestamps import iso

if TYPE_CHECKING:
    from aiir.engine.frames import Frame
    from aiir.engine.walk import Walk

HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class StatusCadence:
    """When status updates are due: the first within ``first`` of the start, then every
    ``every`` (every ``later`` once the incident is ``later_after`` old, if set)."""

    first: dt.timedelta
    every: dt.timedelta
    severities: frozenset[str]
    later: dt.timedelta | None = None
    later_after: dt.timedelta = 2 * HOUR

    def every_at(self, elapsed: dt.timedelta) -> dt.timedelta:
        if self.later is not None and elapsed >= self.later_after:
            return self.later
        return self.every

    @classmethod
    def stated(cls, cadence: Cadence) -> StatusCadence:
        return cls(
            span(cadence.first_within),
            span(cadence.every),
            frozenset(s.value for s in cadence.severity),
        )


# PagerDuty's cadence for major incidents: a first post within 5 minutes of the incident call,
# then at least every 20 minutes for the first 2 hours, hourly after. Used when nothing is stated.
DEFAULT_CADENCE = StatusCadence(
    dt.timedelta(minutes=5), dt.timedelta(minutes=20), frozenset({"SEV1", "SEV2"}), later=HOUR
)


def minutes(span_: dt.timedelta) -> str:
    """``20 min`` (``45 s`` under a minute)."""
    seconds = int(span_.total_seconds())
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def cadence(walk: Walk) -> StatusCadence:
    """The root runbook's ``status_updates``, else the workspace's, else the default."""
    root = next(iter(walk.frames.values()), None)
    stated = root.runbook.status_updates if root is not None else None
    if stated is None and walk.env.workspace is not None:
        stated = walk.env.workspace.config.status_updates
    return DEFAULT_CADENCE if stated is None else StatusCadence.stated(stated)


def walked(walk: Walk) -> dict[str, Runbook]:
    return {frame.runbook.id: frame.runbook for frame in walk.frames.values()}


_TIMED: dict[int, tuple[Runbook, bool]] = {}  # id -> (the runbook, kept alive; has timers)


def _has_timers(runbook: Runbook) -> bool:
    """Whether a runbook states any timer, asked once per runbook (at every node otherwise)."""
    known = _TIMED.get(id(runbook))
    if known is None or known[0] is not runbook:
        if len(_TIMED) > 256:  # a long-lived process that walks many runbooks
            _TIMED.clear()
        known = _TIMED[id(runbook)] = (runbook, bool(specs(runbook)))
    return known[1]


def _now_statuses(walk: Walk) -> tuple[dt.datetime, list[TimerStatus]]:
    """Now and every timer's status; the clock is not read for a walk without timers."""
    if not any(_has_timers(frame.runbook) for frame in walk.frames.values()):
        return dt.datetime.min, []  # asked four times a node: no runbook map made for it
    now = walk.env.clock.now()
    return now, statuses(walk.incident, walked(walk), now)


def _data(item: TimerStatus) -> payloads.TimerVerdict:
    """What ``timer.met`` and ``timer.missed`` say of a timer."""
    spec = item.spec
    assert item.due is not None
    return payloads.TimerVerdict(
        {
            "runbook": spec.runbook,
            "timer": spec.name,
            "within": spec.within,
            "from": spec.start,
            "until": spec.until,
            "due": iso(item.due),
        }
    )


def check(walk: Walk) -> None:
    """Journal each deadline that has passed unmet, once, and say so."""
    if walk.replaying:
        return
    _, found = _now_statuses(walk)
    if not found:  # no timers: nothing to judge, and the journal is not read
        return
    verdicts = walk.incident.timer_verdicts
    for item in found:
        if item.state != MISSED or (item.spec.runbook, item.spec.name) in verdicts:
            continue
        assert item.due is not None
        walk.record(EventType.TIMER_MISSED, _data(item))
        walk.screen.reminder(
            f"timer {item.spec.name!r} missed: {item.spec.describe()} (due {item.due:%H:%M} UTC)"
        )


def done(walk: Walk, frame: Frame, node_id: str) -> None:
    """The walk finished ``node_id``: journal the timers it meets in time."""
    if walk.replaying:
        return
    check(walk)
    _, found = _now_statuses(walk)
    for item in found:
        spec = item.spec
        if item.state == OPEN and spec.runbook == frame.runbook.id and spec.until == node_id:
            walk.record(EventType.TIMER_MET, _data(item))
            walk.screen.note(f"timer {spec.name!r} met ({spec.describe()})")


def finish(walk: Walk) -> None:
    """The walk ends: timers until the end are met if still open; the rest are judged."""
    if walk.replaying:
        return
    check(walk)
    _, found = _now_statuses(walk)
    for item in found:
        if item.state == OPEN and item.spec.until is None:
            walk.record(EventType.TIMER_MET, _data(item))
            walk.screen.note(f"timer {item.spec.name!r} met ({item.spec.describe()})")


def show(walk: Walk) -> None:
    """Time left on every running timer, shown as a node is entered."""
    now, found = _now_statuses(walk)
    left = [
        f"{item.spec.name} {left_text(item.due, now)}"
        for item in found
        if item.state == OPEN and item.due is not None
    ]
    if left:
        walk.screen.note("timers: " + " · ".join(left))
