"""Drift of a canary suite's signals against a baseline window of its earlier runs.

Five signals, from the replies of one run: latency (ms), output length (characters), refusals
(0 or 1), confidence (mean token log-probability, when the endpoint returns log-probabilities)
and the model the replies name. A signal drifts only when two things hold at once: the evidence
(a test says the change is unlikely to be chance) and the effect (the change is big enough to
matter). Either alone is not enough: with enough samples a test finds a 2% move "significant",
and with few samples a big-looking move is often chance.

Each value is judged against its own prompt's baseline: latency and length as a ratio to that
prompt's baseline median, confidence as an offset from it, so that prompts with long and short
replies do not blur each other. A prompt with at least ``min_samples`` values on both sides is
judged alone; the others are pooled (each still relative to its own baseline). With several
groups the tests' thresholds are divided between them (Bonferroni), so more prompts do not mean
more false alarms.

A run in which a signal moved by its minimum without the evidence does not alert, but it is kept
out of the baseline of later runs: a real shift that one run could not prove must not become the
new normal before the next runs can. docs/canary-drift.md explains the method and its measured
error rates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aiir.canary import stats
from aiir.formats.canary import DriftLimits

LATENCY = "latency_ms"
LENGTH = "length"
REFUSED = "refused"
LOGPROB = "logprob"
SIGNALS = (LATENCY, LENGTH, REFUSED, LOGPROB)

PromptSamples = Mapping[str, Mapping[str, Sequence[float]]]  # prompt id -> signal -> values


@dataclass(frozen=True)
class Signal:
    """The verdict on one signal: which moved, by how much, against which threshold."""

    name: str
    drifted: bool
    summary: str
    values: dict[str, float] = field(default_factory=dict)
    moved: bool = False  # by the minimum effect, evidence or not: no baseline for later runs

    def as_dict(self) -> dict[str, object]:
        return {
            "signal": self.name,
            "drifted": self.drifted,
            "moved": self.moved,
            "summary": self.summary,
            **self.values,
        }


@dataclass
class Baseline:
    """The earlier runs a run is judged against: samples per prompt, models named, run count."""

    prompts: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    models: dict[str, int] = field(default_factory=dict)
    runs: int = 0


@dataclass(frozen=True)
class _Group:
    """Values judged together: one prompt's, or several prompts' pooled."""

    where: str
    before: list[float]  # relative to each prompt's own baseline
    now: list[float]
    raw_before: list[float]
    raw_now: list[float]


@dataclass(frozen=True)
class _Verdict:
    evidence: bool
    big: bool  # the effect is at least the minimum
    effect: float  # how far it moved, in the unit its minimum is stated in
    summary: str
    values: dict[str, float]

    @property
    def drifted(self) -> bool:
        return self.evidence and self.big


def compare(
    baseline: Baseline,
    current: PromptSamples,
    models: Mapping[str, int],
    limits: DriftLimits,
) -> list[Signal]:
    """Every signal with enough samples on both sides, judged against ``limits``."""
    judged: list[Signal] = []
    for name, label, scale, judge in _JUDGES:
        groups = _groups(baseline.prompts, current, name, limits.min_samples, scale)
        if groups:
            verdicts = [(g, judge(g, limits, len(groups))) for g in groups]
            judged.append(_signal(label, verdicts))
    model = _model(baseline.models, models, limits)
    if model is not None:
        judged.append(model)
    return judged


# --- grouping ---------------------------------------------------------------------------------

Scale = Callable[[float, float], float]


def _ratio(value: float, reference: float) -> float:
    return value / max(reference, 1.0)  # a 0 ms or empty-reply baseline: against 1


def _offset(value: float, reference: float) -> float:
    return value - reference


def _same(value: float, reference: float) -> float:
    return value


def _groups(
    baseline: Mapping[str, Mapping[str, Sequence[float]]],
    current: PromptSamples,
    name: str,
    min_samples: int,
    scale: Scale,
) -> list[_Group]:
    """Each prompt with enough samples alone, then the rest pooled (if that is enough)."""
    groups: list[_Group] = []
    pooled: list[_Group] = []
    for prompt, signals in current.items():
        raw_now = list(signals.get(name, []))
        raw_before = list(baseline.get(prompt, {}).get(name, []))
        if not raw_now or not raw_before:
            continue
        reference = stats.median(raw_before)
        before = [scale(v, reference) for v in raw_before]
        now = [scale(v, reference) for v in raw_now]
        group = _Group(f"prompt {prompt}", before, now, raw_before, raw_now)
        alone = len(raw_before) >= min_samples and len(raw_now) >= min_samples
        (groups if alone else pooled).append(group)
    before = [v for g in pooled for v in g.before]
    now = [v for g in pooled for v in g.now]
    if len(before) >= min_samples and len(now) >= min_samples:
        where = pooled[0].where if len(pooled) == 1 else f"{len(pooled)} prompts pooled"
        raw_before = [v for g in pooled for v in g.raw_before]
        raw_now = [v for g in pooled for v in g.raw_now]
        groups.append(_Group(where, before, now, raw_before, raw_now))
    return groups


def _signal(label: str, verdicts: list[tuple[_Group, _Verdict]]) -> Signal:
    """One verdict for the signal: the group that moved most (a drifted one first)."""
    drifted = [(g, v) for g, v in verdicts if v.drifted]
    group, verdict = max(drifted or verdicts, key=lambda gv: abs(gv[1].effect))
    summary = verdict.summary
    moved = any(v.big for _, v in verdicts)
    if not drifted and moved:
        summary += "; moved by the minimum without the evidence: kept out of the baseline"
    summary += f" [{group.where}]"
    others = [g.where for g, _ in drifted if g is not group]
    if others:
        summary += f"; also drifted: {', '.join(others)}"
    values = {**verdict.values, "groups": float(len(verdicts))}
    return Signal(label, bool(drifted), summary, values, moved)


# --- the signals ------------------------------------------------------------------------------


def _relative(group: _Group) -> float:
    """How far the median moved, as a fraction of the baseline's (values are ratios already)."""
    was, is_ = stats.median(group.before), stats.median(group.now)
    return (is_ - was) / was if was > 0 else is_  # a baseline of empty replies: against 1


def _latency(group: _Group, limits: DriftLimits, groups: int) -> _Verdict:
    was, is_ = stats.median(group.raw_before), stats.median(group.raw_now)
    change = _relative(group)
    shift_ms = change * was
    alpha = limits.ks_p / groups
    if limits.latency_alert == "slower":
        d, p = stats.ks_greater(group.before, group.now)
        big = change >= limits.latency_min_change and shift_ms >= limits.latency_min_shift_ms
        test = "KS one-sided (slower)"
    else:
        d, p = stats.ks_2samp(group.before, group.now)
        big = (
            abs(change) >= limits.latency_min_change
            and abs(shift_ms) >= limits.latency_min_shift_ms
        )
        test = "KS"
    evidence = p < alpha
    summary = (
        f"latency: median {was:.0f} ms -> {is_:.0f} ms, {change:+.0%} against each prompt's "
        f"baseline ({shift_ms:+.0f} ms; alert from {_signed(limits)}{limits.latency_min_change:.0%}"
        f" and {limits.latency_min_shift_ms:g} ms); {test} D={d:.2f} p={p:.2g} "
        f"(alert below {alpha:.2g})"
    )
    if limits.latency_alert == "slower" and change < 0:
        summary += "; faster, which never alerts (latency_alert: slower)"
    elif evidence and not big:
        summary += "; a move smaller than the minimum: jitter"
    values = {"ks_d": d, "ks_p": p, "baseline": was, "current": is_, "change": change}
    return _Verdict(evidence, big, change, summary, values)


def _signed(limits: DriftLimits) -> str:
    return "+" if limits.latency_alert == "slower" else "±"


def _length(group: _Group, limits: DriftLimits, groups: int) -> _Verdict:
    was, is_ = stats.median(group.raw_before), stats.median(group.raw_now)
    change = _relative(group)
    index = stats.psi(group.before, group.now)
    d, p = stats.ks_2samp(group.before, group.now)
    alpha = limits.ks_p / groups
    # PSI sees a change of shape; KS also one of a model that always says the same (temperature
    # 0), whose values leave the baseline's single bin no wider.
    evidence = index > limits.psi or p < alpha
    big = abs(change) >= limits.length_min_change
    summary = (
        f"output length: median {was:.0f} -> {is_:.0f} characters, {change:+.0%} against each "
        f"prompt's baseline (alert from ±{limits.length_min_change:.0%}); PSI {index:.2f} "
        f"(alert above {limits.psi:g}) or KS p={p:.2g} (below {alpha:.2g})"
    )
    if evidence and not big:
        summary += "; a move smaller than the minimum: jitter"
    values = {"psi": index, "ks_d": d, "ks_p": p, "baseline": was, "current": is_, "change": change}
    return _Verdict(evidence, big, change, summary, values)


def _refusals(group: _Group, limits: DriftLimits, groups: int) -> _Verdict:
    refused_before, refused_now = round(sum(group.before)), round(sum(group.now))
    n_before, n_now = len(group.before), len(group.now)
    was, is_ = refused_before / n_before, refused_now / n_now
    change = is_ - was
    p = stats.fisher_exact(
        refused_now, n_now - refused_now, refused_before, n_before - refused_before
    )
    alpha = limits.refusal_p / groups
    evidence = p < alpha
    big = abs(change) >= limits.refusal_rate
    summary = (
        f"refusal rate: {was:.0%} -> {is_:.0%} ({change * 100:+.0f} points; alert from "
        f"±{limits.refusal_rate * 100:g}); Fisher p={p:.2g} (alert below {alpha:.2g})"
    )
    if evidence and not big:
        summary += "; a move smaller than the minimum"
    values = {"fisher_p": p, "baseline": was, "current": is_, "change": change}
    return _Verdict(evidence, big, change, summary, values)


def _confidence(group: _Group, limits: DriftLimits, groups: int) -> _Verdict:
    d, p = stats.ks_2samp(group.before, group.now)
    was, is_ = stats.mean(group.raw_before), stats.mean(group.raw_now)
    shift = stats.mean(group.now) - stats.mean(group.before)
    alpha = limits.ks_p / groups
    summary = (
        f"confidence: mean token log-probability {was:.2f} -> {is_:.2f} ({shift:+.2f} against "
        f"each prompt's baseline; alert from ±{limits.logprob_min_shift:g}); KS D={d:.2f} "
        f"p={p:.2g} (alert below {alpha:.2g})"
    )
    values = {"ks_d": d, "ks_p": p, "baseline": was, "current": is_, "change": shift}
    return _Verdict(p < alpha, abs(shift) >= limits.logprob_min_shift, shift, summary, values)


def _model(before: Mapping[str, int], now: Mapping[str, int], limits: DriftLimits) -> Signal | None:
    """Replies naming a model the baseline's replies never named."""
    named_before, named_now = sum(before.values()), sum(now.values())
    if named_before < limits.min_samples or named_now < limits.min_samples:
        return None
    new = {name: count for name, count in now.items() if name not in before}
    share = sum(new.values()) / named_now
    known = ", ".join(sorted(before))
    if new:
        names = ", ".join(sorted(new))
        summary = (
            f"model: {share:.0%} of replies name {names}, never named in the baseline "
            f"({known}; alert from {limits.model_min_share:.0%} of replies)"
        )
    else:
        summary = f"model: every reply names a model of the baseline ({known})"
    values = {"change": share}
    return Signal("model", share >= limits.model_min_share, summary, values, bool(new))


_Judge = Callable[[_Group, DriftLimits, int], _Verdict]
_JUDGES: tuple[tuple[str, str, Scale, _Judge], ...] = (
    (LATENCY, "latency", _ratio, _latency),
    (LENGTH, "output-length", _ratio, _length),
    (REFUSED, "refusal-rate", _same, _refusals),
    (LOGPROB, "confidence", _offset, _confidence),
)
