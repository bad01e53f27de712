"""What one run of one suite found: samples, failures, drift, and what was done about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiir.canary.drift import LATENCY, LENGTH, LOGPROB, REFUSED, Signal
from aiir.canary.runner import Sample
from aiir.canary.suite import LoadedSuite, Target
from aiir.formats.common import Severity
from aiir.redact import scrub
from aiir.terminal.inert import plain

if TYPE_CHECKING:  # sent only with --alert
    from aiir.outbound.notify import Delivery

EXCERPT = 200
SEVERITY_ORDER = [s.value for s in Severity]


@dataclass(frozen=True)
class Failure:
    """One failed assertion, one reply that never came, or one drifted signal."""

    prompt_id: str
    prompt: str
    check: str
    detail: str
    output: str
    severity: str
    repeat: int = 0
    description: str | None = None
    spec: dict[str, Any] | None = None  # the assertion as written in the suite

    def as_dict(self, secrets: frozenset[str], excerpt: int | None = EXCERPT) -> dict[str, Any]:
        """Secrets masked; hostile text made plain and, with ``excerpt``, cut short."""
        return {
            "prompt_id": self.prompt_id,
            "repeat": self.repeat,
            "check": self.check,
            "detail": clean(self.detail, secrets, None),
            "prompt": clean(self.prompt, secrets, excerpt),
            "output": clean(self.output, secrets, excerpt),
            "severity": self.severity,
            "description": self.description,
        }


def _signals(samples: list[Sample]) -> dict[str, list[float]]:
    answered = [s for s in samples if s.error is None]
    return {
        LATENCY: [round(s.latency_ms, 3) for s in answered],
        LENGTH: [float(len(s.output)) for s in answered],
        REFUSED: [1.0 if s.refused else 0.0 for s in answered],
        LOGPROB: [round(s.logprob, 6) for s in answered if s.logprob is not None],
    }


def clean(text: str, secrets: frozenset[str], limit: int | None) -> str:
    """Text from a model or a user, safe for a terminal, a report or a page."""
    shown = plain(scrub(text, secrets))
    if limit is not None and len(shown) > limit:
        return shown[: limit - 1] + "…"
    return shown


# No generated repr: asyncio.run formats the finished task, result included, when it puts the
# SIGINT handler back (Python 3.11), and a generated one would print every sample and prompt.
@dataclass(repr=False)
class SuiteRun:
    """One run of one suite against its target."""

    loaded: LoadedSuite
    target: Target
    run_id: str
    started: str
    token: str | None
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    signals: list[Signal] = field(default_factory=list)
    baseline_runs: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    incident: str | None = None
    notes: list[str] = field(default_factory=list)
    practice: str | None = None  # "sandbox": its alerts went to the exercise's inbox

    def __repr__(self) -> str:
        return f"<SuiteRun {self.name} {self.run_id}: {len(self.samples)} samples>"

    def delivery_records(self) -> list[dict[str, Any]]:
        """The alerts as the history and ``--json`` keep them; practice's marked ``simulated``."""
        marked = {"simulated": self.practice} if self.practice else {}
        return [d.as_dict() | marked for d in self.deliveries]

    @property
    def name(self) -> str:
        return self.loaded.suite.canary

    @property
    def secrets(self) -> frozenset[str]:
        """Masked in everything shown or stored; the canary token too, so a report never
        gives away the marker of a deployed system prompt."""
        return self.target.secrets | frozenset([self.token] if self.token else [])

    @property
    def checks(self) -> int:
        return sum(len(s.prompt.assert_) for s in self.samples)

    @property
    def drifted(self) -> list[Signal]:
        return [s for s in self.signals if s.drifted]

    @property
    def failures(self) -> list[Failure]:
        """Every failed assertion and error, in suite order, then every drifted signal."""
        suite_severity = self.loaded.suite.severity.value
        found: list[Failure] = []
        for sample in self.samples:
            severity = (sample.prompt.severity or self.loaded.suite.severity).value
            base = (sample.prompt.id, sample.prompt.prompt)
            if sample.error is not None:
                found.append(Failure(*base, "reply", sample.error, "", severity, sample.repeat))
            judged = sample.prompt.assert_ if sample.verdicts else []
            for check, verdict in zip(judged, sample.verdicts, strict=True):
                if not verdict.ok:
                    spec = check.model_dump(by_alias=True, exclude_none=True)
                    found.append(
                        Failure(
                            *base,
                            verdict.check,
                            verdict.detail,
                            sample.output,
                            severity,
                            sample.repeat,
                            verdict.description,
                            spec,
                        )
                    )
        for signal in self.drifted:
            found.append(
                Failure("(drift)", "", f"drift:{signal.name}", signal.summary, "", suite_severity)
            )
        return found

    @property
    def ok(self) -> bool:
        """No failed assertion, no error, no drift (what :attr:`failures` lists, without listing)."""
        return not self.drifted and all(sample.ok for sample in self.samples)

    @property
    def severity(self) -> str:
        """The most severe severity among the failures (SEV1 is the most severe)."""
        levels = [f.severity for f in self.failures] or [self.loaded.suite.severity.value]
        return min(levels, key=SEVERITY_ORDER.index)

    def signal_samples(self) -> dict[str, list[float]]:
        """This run's values of each drift signal (failed requests carry none)."""
        return _signals(self.samples)

    def prompt_samples(self) -> dict[str, dict[str, list[float]]]:
        """This run's values of each drift signal, per prompt (in suite order)."""
        by_prompt: dict[str, list[Sample]] = {}
        for sample in self.samples:
            by_prompt.setdefault(sample.prompt.id, []).append(sample)
        return {prompt: _signals(samples) for prompt, samples in by_prompt.items()}

    def models(self) -> dict[str, int]:
        """How many replies named each model (the reply's ``model`` field)."""
        named: dict[str, int] = {}
        for sample in self.samples:
            if sample.error is None and sample.model:
                named[sample.model] = named.get(sample.model, 0) + 1
        return named

    def summary(self) -> str:
        failures = self.failures
        where = f"{self.target.model} via {self.target.gateway}"
        if not failures:
            return f"{self.name}: all {self.checks} check(s) passed on {where}"
        failed = sum(1 for f in failures if not f.check.startswith("drift:"))
        parts = []
        if failed:
            parts.append(f"{failed} of {self.checks} check(s) failed")
        if self.drifted:
            parts.append("drift in " + ", ".join(s.name for s in self.drifted))
        return f"{self.name}: {'; '.join(parts)} on {where}"
