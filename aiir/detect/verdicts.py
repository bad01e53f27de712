"""Judging one evaluation of a rule against what the previous ones left: ok, failing (not yet
for long enough), firing, no data, or an error.

A rule fails when a sample is on the wrong side of its threshold and fires once it has failed
``for`` evaluations in a row. An evaluation that could not measure (the source did not answer)
or measured nothing (an empty result, too few spans) neither counts for nor against the rule:
its streak and its alert stay as they were, so an outage of Prometheus itself neither pages
about error rates nor resolves a page that is still true.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiir.detect.sources import MAX_SAMPLES, Measured, Sample, finite
from aiir.formats.detect import DetectRule
from aiir.outbound.alerting import AlertState

OPENING = "opening"  # an incident's state while the evaluation that opens it is under way


class Status(StrEnum):
    OK = "ok"
    FAILING = "failing"  # on the wrong side, not yet ``for`` evaluations in a row
    FIRING = "firing"
    NO_DATA = "no data"
    ERROR = "error"


@dataclass(frozen=True)
class RuleState:
    """What one rule's last evaluation leaves for the next."""

    status: Status = Status.OK
    streak: int = 0
    alert: AlertState = field(default_factory=AlertState)
    incident: str | None = None  # the incident opened when it started firing, or OPENING
    opening: str | None = None  # while OPENING: the name of the evidence it is opened with

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "streak": self.streak,
            "alert": self.alert.as_dict(),
            "incident": self.incident,
            "opening": self.opening,
        }

    @classmethod
    def of(cls, data: object) -> RuleState:
        if not isinstance(data, dict):
            return cls()
        try:
            status = Status(str(data.get("status")))
        except ValueError:
            status = Status.OK
        streak = data.get("streak")
        incident, opening = data.get("incident"), data.get("opening")
        return cls(
            status,
            streak if isinstance(streak, int) and not isinstance(streak, bool) else 0,
            AlertState.of(data.get("alert")),
            incident if isinstance(incident, str) else None,
            opening if isinstance(opening, str) else None,
        )


@dataclass
class Verdict:
    """One rule at one evaluation."""

    rule: DetectRule
    measured: Measured
    status: Status
    streak: int
    previous: RuleState
    alert: AlertState
    incident: str | None = None
    opening: str | None = None

    @property
    def offending(self) -> list[Sample]:
        """The samples on the wrong side of the threshold, worst first."""
        bad = [s for s in self.measured.samples if self.rule.fails(s.value)]
        return sorted(bad, key=lambda s: s.value, reverse=self.rule.above is not None)

    @property
    def value(self) -> float | None:
        """The worst sample's value (the one that decides), or None."""
        samples = self.offending or sorted(
            self.measured.samples, key=lambda s: s.value, reverse=self.rule.above is not None
        )
        return samples[0].value if samples else None

    @property
    def started_firing(self) -> bool:
        """Firing now, and no incident opened for it yet: it was not firing before, or the
        evaluation that began opening one was cut short before the incident existed."""
        if self.status is not Status.FIRING:
            return False
        return self.previous.status is not Status.FIRING or self.incident == OPENING

    def state(self) -> RuleState:
        opening = self.opening if self.incident == OPENING else None
        return RuleState(self.status, self.streak, self.alert, self.incident, opening)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.id,
            "status": str(self.status),
            "value": finite(self.value),
            "threshold": self.rule.threshold,
            "streak": self.streak,
            "for": self.rule.for_,
            "note": self.measured.note,
            "error": self.measured.error,
            "samples": [s.as_dict() for s in self.measured.samples[:MAX_SAMPLES]],
            "offending": len(self.offending),
            "alert": self.alert.as_dict(),
            "incident": self.incident,
        }


def judge(rule: DetectRule, measured: Measured, previous: RuleState) -> Verdict:
    """The rule's status after ``measured``, given the previous evaluation's state."""
    if measured.error is not None or not measured.samples:
        status = Status.ERROR if measured.error is not None else Status.NO_DATA
        held = previous.streak
        return Verdict(
            rule,
            measured,
            status,
            held,
            previous,
            previous.alert,
            previous.incident,
            previous.opening,
        )
    if not any(rule.fails(s.value) for s in measured.samples):
        return Verdict(rule, measured, Status.OK, 0, previous, previous.alert)
    streak = previous.streak + 1
    status = Status.FIRING if streak >= rule.for_ else Status.FAILING
    if previous.status is not Status.FIRING:
        return Verdict(rule, measured, status, streak, previous, previous.alert)
    return Verdict(
        rule,
        measured,
        status,
        streak,
        previous,
        previous.alert,
        previous.incident,
        previous.opening,
    )
