"""Drift of a canary suite's signals against a baseline window of its earlier runs.

Four signals, each from the replies of one run: latency (ms), output length (characters), refusals
(0 or 1) and confidence (mean token log-probability, when the endpoint returns log-probabilities).
A signal is only judged when both sides have at least ``min_samples`` values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiir.canary import stats
from aiir.formats.canary import DriftLimits

LATENCY = "latency_ms"
LENGTH = "length"
REFUSED = "refused"
LOGPROB = "logprob"
SIGNALS = (LATENCY, LENGTH, REFUSED, LOGPROB)

Samples = Mapping[str, Sequence[float]]


@dataclass(frozen=True)
class Signal:
    """The verdict on one signal: which moved, by how much, against which threshold."""

    name: str
    drifted: bool
    summary: str
    values: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "signal": self.name,
            "drifted": self.drifted,
            "summary": self.summary,
            **self.values,
        }


def compare(baseline: Samples, current: Samples, limits: DriftLimits) -> list[Signal]:
    """Every signal with enough samples on both sides, judged against ``limits``."""
    judged: list[Signal] = []
    for name, judge in _JUDGES.items():
        before, now = list(baseline.get(name, [])), list(current.get(name, []))
        if len(before) >= limits.min_samples and len(now) >= limits.min_samples:
            judged.append(judge(before, now, limits))
    return judged


def _latency(before: list[float], now: list[float], limits: DriftLimits) -> Signal:
    d, p = stats.ks_2samp(before, now)
    index = stats.psi(before, now)
    was, is_ = stats.median(before), stats.median(now)
    shift = is_ - was
    moved = abs(shift) >= limits.latency_min_shift_ms
    drifted = moved and (p < limits.ks_p or index > limits.psi)
    summary = (
        f"latency: median {was:.0f} ms -> {is_:.0f} ms ({shift:+.0f} ms); "
        f"KS D={d:.2f} p={p:.2g} (alert below {limits.ks_p:g}); "
        f"PSI {index:.2f} (alert above {limits.psi:g})"
    )
    if not moved and (p < limits.ks_p or index > limits.psi):
        summary += f"; the median moved less than {limits.latency_min_shift_ms:g} ms: jitter"
    values = {"ks_d": d, "ks_p": p, "psi": index, "baseline": was, "current": is_}
    return Signal("latency", drifted, summary, values)


def _length(before: list[float], now: list[float], limits: DriftLimits) -> Signal:
    index = stats.psi(before, now)
    was, is_ = stats.median(before), stats.median(now)
    summary = (
        f"output length: median {was:.0f} -> {is_:.0f} characters; "
        f"PSI {index:.2f} (alert above {limits.psi:g})"
    )
    values = {"psi": index, "baseline": was, "current": is_}
    return Signal("output-length", index > limits.psi, summary, values)


def _refusals(before: list[float], now: list[float], limits: DriftLimits) -> Signal:
    was, is_ = stats.mean(before), stats.mean(now)
    change = is_ - was
    summary = (
        f"refusal rate: {was:.0%} -> {is_:.0%} ({change * 100:+.0f} points; "
        f"alert beyond ±{limits.refusal_rate * 100:g})"
    )
    values = {"baseline": was, "current": is_, "change": change}
    return Signal("refusal-rate", abs(change) > limits.refusal_rate, summary, values)


def _confidence(before: list[float], now: list[float], limits: DriftLimits) -> Signal:
    d, p = stats.ks_2samp(before, now)
    was, is_ = stats.mean(before), stats.mean(now)
    shift = is_ - was
    drifted = p < limits.ks_p and abs(shift) >= limits.logprob_min_shift
    summary = (
        f"confidence: mean token log-probability {was:.2f} -> {is_:.2f} ({shift:+.2f}); "
        f"KS D={d:.2f} p={p:.2g} (alert below {limits.ks_p:g})"
    )
    values = {"ks_d": d, "ks_p": p, "baseline": was, "current": is_}
    return Signal("confidence", drifted, summary, values)


_JUDGES = {LATENCY: _latency, LENGTH: _length, REFUSED: _refusals, LOGPROB: _confidence}
