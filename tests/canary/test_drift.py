"""The drift statistics against known values, the verdicts built on them, and their error rates
on a simulated jittery model (the benchmark's, bench/canary_drift.py, seeded)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from aiir.canary import stats
from aiir.canary.drift import LATENCY, LENGTH, LOGPROB, REFUSED, Baseline, Signal, compare
from aiir.canary.history import History
from aiir.formats.canary import DriftLimits
from bench.canary_drift import LATENCY_FLOOR_MS, SHIFTS, JitteryModel, Shift, simulated_run

# Critical values of the Kolmogorov distribution (Smirnov 1948; Massey 1951, table 1):
# P(K > 1.2238) = 0.10, P(K > 1.3581) = 0.05, P(K > 1.6276) = 0.01, P(K > 1.9495) = 0.001.
KOLMOGOROV = [(1.2238, 0.10), (1.3581, 0.05), (1.6276, 0.01), (1.9495, 0.001)]


@pytest.mark.parametrize(("lam", "p"), KOLMOGOROV)
def test_kolmogorov_tail_matches_the_critical_values(lam: float, p: float) -> None:
    assert stats.kolmogorov_sf(lam) == pytest.approx(p, rel=2e-3)


def test_kolmogorov_tail_at_one_and_a_half() -> None:
    # 1 - K(1) and 1 - K(0.5): the tabulated CDF is 0.7300003 and 0.0360547.
    assert stats.kolmogorov_sf(1.0) == pytest.approx(0.2699997, abs=1e-6)
    assert stats.kolmogorov_sf(0.5) == pytest.approx(0.9639453, abs=1e-6)


def test_kolmogorov_tail_is_continuous_where_the_series_switch() -> None:
    assert stats.kolmogorov_sf(1.1799999) == pytest.approx(stats.kolmogorov_sf(1.18), abs=1e-6)
    assert stats.kolmogorov_sf(0) == 1.0
    assert stats.kolmogorov_sf(10) == pytest.approx(0.0, abs=1e-12)


def test_ks_statistic_by_hand() -> None:
    # F_a steps at 1, 2, 3; F_b at 2.5, 3.5: the largest gap is 2/3 at x = 2.
    assert stats.ks_statistic([1, 2, 3], [2.5, 3.5]) == pytest.approx(2 / 3)
    assert stats.ks_statistic([1, 2, 3], [1, 2, 3]) == 0.0
    assert stats.ks_statistic([1, 1, 1], [2, 2]) == 1.0
    assert stats.ks_statistic([1, 2, 2, 3], [2, 2, 2, 2]) == pytest.approx(0.25)


def test_ks_2samp_p_value_uses_stephens_correction() -> None:
    d, p = stats.ks_2samp(list(range(1, 6)), list(range(6, 11)))
    en = math.sqrt(25 / 10)
    assert d == 1.0
    assert p == pytest.approx(stats.kolmogorov_sf((en + 0.12 + 0.11 / en) * 1.0))
    assert p == pytest.approx(0.0037814, rel=1e-4)
    same_d, same_p = stats.ks_2samp([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0])
    assert (same_d, same_p) == (0.0, 1.0)


def test_psi_of_known_fractions() -> None:
    # sum (a - e) ln(a / e) over four bins, worked by hand: 0.137444 + 0.011157 + 0.009116 + 0.070501
    assert stats.psi_fractions([0.25] * 4, [0.1, 0.2, 0.3, 0.4]) == pytest.approx(
        0.2282174, abs=1e-6
    )
    assert stats.psi_fractions([0.5, 0.5], [0.5, 0.5]) == 0.0


def test_psi_floors_empty_bins() -> None:
    # an emptied bin counts as 1e-4: (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(1 / 0.5)
    expected = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + 0.5 * math.log(2)
    assert stats.psi_fractions([0.5, 0.5], [0.0, 1.0]) == pytest.approx(expected)
    assert expected == pytest.approx(4.6043, abs=1e-4)


def test_psi_over_quantile_bins_of_the_baseline() -> None:
    baseline = [float(v) for v in range(100)]
    assert stats.psi(baseline, baseline) == 0.0
    assert stats.psi([5.0] * 20, [5.0] * 10) == 0.0
    shifted = [v + 50 for v in baseline]
    assert stats.psi(baseline, shifted) > 0.25  # "major"
    assert stats.psi(baseline, [v * 0.7 for v in baseline]) > 0.2


@pytest.mark.parametrize(
    ("smaller", "bins"), [(15, 2), (30, 2), (60, 3), (100, 5), (225, 7), (400, 10), (5000, 10)]
)
def test_psi_bins_suit_the_sample_size(smaller: int, bins: int) -> None:
    assert stats.psi_bins(smaller) == bins


@pytest.mark.parametrize("n", [15, 30, 60, 120, 225])
def test_psi_of_identical_distributions_stays_under_0_2(n: int) -> None:
    """A run of n replies against a baseline of 5 such runs, both from one distribution: the
    index stays under 0.2 in 99 of 100 draws (10 bins and no smoothing: 1.2 at 15 happened)."""
    rng = random.Random(n)
    over = even = 0
    for _ in range(200):
        baseline = [rng.gauss(220, 5) for _ in range(5 * n)]
        current = [rng.gauss(220, 5) for _ in range(n)]
        over += stats.psi(baseline, current) > 0.2
        even += stats.psi(baseline[:n], current) > 0.2  # a baseline no larger: 2 in 100
    assert over <= 2
    assert even <= 4


def test_fisher_exact_against_published_values() -> None:
    # scipy.stats.fisher_exact's own examples, two-sided
    assert stats.fisher_exact(8, 2, 1, 5) == pytest.approx(0.0349650, abs=1e-6)
    assert stats.fisher_exact(1, 9, 11, 3) == pytest.approx(0.0027595, abs=1e-6)
    assert stats.fisher_exact(3, 1, 1, 3) == pytest.approx(0.4857143, abs=1e-6)  # the tea
    assert stats.fisher_exact(0, 10, 0, 10) == 1.0
    assert stats.fisher_exact(5, 0, 0, 5) == pytest.approx(2 / math.comb(10, 5))


def test_one_sided_ks_looks_one_way() -> None:
    low, high = [float(v) for v in range(20)], [float(v) + 30 for v in range(20)]
    d, p = stats.ks_greater(low, high)
    assert d == 1.0
    assert p < 1e-6
    assert stats.ks_greater(high, low) == (0.0, 1.0)  # smaller is not "greater"


def test_quantile_interpolates_like_numpy_linear() -> None:
    assert stats.quantile([1, 2, 3, 4], 0.5) == 2.5
    assert stats.quantile([1, 2, 3, 4], 0.25) == 1.75
    assert stats.median([3, 1, 2]) == 2


# --- verdicts -----------------------------------------------------------------------------------

LIMITS = DriftLimits()
# The simulated model answers in tens of ms: its absolute latency floor is the benchmark's.
SIMULATED = DriftLimits(latency_min_shift_ms=LATENCY_FLOOR_MS)


def replies(
    latency: list[float], length: float = 200, refused: float = 0, logprob: float = -0.05
) -> dict[str, list[float]]:
    n = len(latency)
    return {
        LATENCY: latency,
        LENGTH: [length] * n,
        REFUSED: [refused] * n,
        LOGPROB: [logprob] * n,
    }


def baseline_of(*prompts: tuple[str, dict[str, list[float]]], model: str = "m") -> Baseline:
    named = sum(len(signals[LATENCY]) for _, signals in prompts)
    return Baseline(dict(prompts), {model: named}, runs=5)


def judged(
    before: Baseline,
    now: dict[str, dict[str, list[float]]],
    limits: DriftLimits = LIMITS,
    model: str = "m",
) -> dict[str, Signal]:
    named = sum(len(signals[LATENCY]) for signals in now.values())
    return {s.name: s for s in compare(before, now, {model: named}, limits)}


def around(centre: float, n: int, spread: float = 0.05, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [centre * rng.uniform(1 - spread, 1 + spread) for _ in range(n)]


def test_no_drift_when_nothing_moved() -> None:
    before = baseline_of(("a", replies(around(400, 30))), ("b", replies(around(900, 30), 50)))
    now = {"a": replies(around(400, 12, seed=2)), "b": replies(around(900, 12, seed=3), 50)}
    signals = judged(before, now)
    assert list(signals) == ["latency", "output-length", "refusal-rate", "confidence", "model"]
    assert not any(s.drifted for s in signals.values())


def test_latency_slowdown_is_drift_and_says_by_how_much() -> None:
    before = baseline_of(("a", replies(around(400, 30))))
    now = {"a": replies(around(600, 12, seed=2))}
    latency = judged(before, now)["latency"]
    assert latency.drifted
    assert latency.summary.startswith("latency: median 398 ms -> 606 ms, +52% against each")
    assert "KS one-sided (slower) D=1.00" in latency.summary
    assert latency.summary.endswith("[prompt a]")  # enough replies to judge the prompt alone
    assert latency.values["change"] == pytest.approx(0.5, abs=0.06)


def test_a_faster_run_never_alerts_on_latency_by_default() -> None:
    before = baseline_of(("a", replies(around(400, 30))))
    now = {"a": replies(around(200, 12, seed=2))}  # twice as fast
    latency = judged(before, now)["latency"]
    assert not latency.drifted
    assert "faster, which never alerts (latency_alert: slower)" in latency.summary
    both = judged(before, now, DriftLimits(latency_alert="both"))["latency"]
    assert both.drifted
    assert "KS D=1.00" in both.summary


def test_a_26_ms_faster_run_does_not_page() -> None:
    """The wolf of the issue: a run 26 ms faster than its baseline."""
    before = baseline_of(("a", replies([float(v) for v in range(180, 210)])))
    now = {"a": replies([v - 26.0 for v in range(180, 192)])}
    assert not judged(before, now)["latency"].drifted
    assert not judged(before, now, DriftLimits(latency_alert="both"))["latency"].drifted


def test_evidence_without_effect_is_jitter() -> None:
    # every reply 10% slower: the test is sure, the move is below the +30% minimum
    before = baseline_of(("a", replies(around(400, 60))))
    now = {"a": replies([v * 1.10 for v in around(400, 30)])}
    latency = judged(before, now)["latency"]
    assert latency.values["ks_p"] < 0.01
    assert not latency.drifted
    assert latency.summary.endswith("; a move smaller than the minimum: jitter [prompt a]")


def test_effect_without_evidence_is_not_drift() -> None:
    # 1 refusal in 3 replies against none in 30: +33 points, but Fisher's p is 0.09
    before = baseline_of(("a", replies(around(400, 30))))
    now = {"a": {**replies(around(400, 3)), REFUSED: [1.0, 0.0, 0.0]}}
    limits = DriftLimits(min_samples=3)
    refusals = judged(before, now, limits)["refusal-rate"]
    assert refusals.values["change"] == pytest.approx(1 / 3)
    assert refusals.values["fisher_p"] > 0.05
    assert not refusals.drifted


def test_shorter_replies_more_refusals_and_lower_confidence_drift() -> None:
    before = baseline_of(("a", replies(around(400, 30), length=200)))
    now = {"a": replies(around(400, 12, seed=2), length=140, refused=1, logprob=-1.5)}
    # the same length every time (temperature 0): one bin, which PSI cannot tell from the
    # next; the KS test can
    signals = judged(before, now)
    assert {n for n, s in signals.items() if s.drifted} == {
        "output-length",
        "refusal-rate",
        "confidence",
    }
    assert signals["output-length"].summary.startswith(
        "output length: median 200 -> 140 characters, -30% against each prompt's baseline"
    )
    assert signals["refusal-rate"].summary.startswith(
        "refusal rate: 0% -> 100% (+100 points; alert from ±10); Fisher p="
    )
    assert "-0.05 -> -1.50 (-1.45" in signals["confidence"].summary


def test_a_different_model_is_drift() -> None:
    before = baseline_of(("a", replies(around(400, 30))), model="gpt-x-2026-08")
    now = {"a": replies(around(400, 12, seed=2))}
    model = judged(before, now, model="gpt-x-2026-11")["model"]
    assert model.drifted
    assert model.summary == (
        "model: 100% of replies name gpt-x-2026-11, never named in the baseline "
        "(gpt-x-2026-08; alert from 25% of replies)"
    )
    same = judged(before, now, model="gpt-x-2026-08")["model"]
    assert not same.drifted


def test_prompts_are_judged_against_their_own_baseline() -> None:
    """Short and long replies, pooled raw, look like drift when the mix changes; each prompt
    against its own baseline, a run missing one prompt's replies is no drift."""
    before = baseline_of(
        ("short", replies(around(100, 20), length=40)),
        ("long", replies(around(900, 20), length=2000)),
    )
    now = {"short": replies(around(100, 4, seed=5), length=40)}
    for name, signal in judged(before, now, DriftLimits(min_samples=4)).items():
        assert not signal.drifted, (name, signal.summary)


def test_a_small_prompt_moves_inside_the_pool_and_a_large_one_alone() -> None:
    before = baseline_of(
        ("alone", replies(around(400, 30))),
        ("p1", replies(around(400, 6))),
        ("p2", replies(around(800, 6))),
    )
    now = {
        "alone": replies(around(400, 12, seed=2)),
        "p1": replies(around(800, 6, seed=3)),  # both small prompts twice as slow
        "p2": replies(around(1600, 6, seed=4)),
    }
    latency = judged(before, now)["latency"]
    assert latency.drifted
    assert latency.summary.endswith("[2 prompts pooled]")
    assert latency.values["groups"] == 2


def test_thresholds_are_configurable() -> None:
    before = baseline_of(("a", replies(around(400, 60))))
    now = {"a": {**replies(around(400, 20)), REFUSED: [1.0] * 8 + [0.0] * 12}}  # +40 points
    assert judged(before, now)["refusal-rate"].drifted
    assert not judged(before, now, DriftLimits(refusal_rate=0.5))["refusal-rate"].drifted
    slower = {"a": replies([v * 1.2 for v in around(400, 20)])}
    assert not judged(before, slower)["latency"].drifted
    assert judged(before, slower, DriftLimits(latency_min_change=0.1))["latency"].drifted


def test_too_few_samples_give_no_verdict() -> None:
    few = baseline_of(("a", replies([1.0] * 9)))
    assert compare(few, {"a": replies([1.0] * 30)}, {}, LIMITS) == []
    assert (
        compare(baseline_of(("a", replies([1.0] * 30))), {"a": replies([1.0] * 9)}, {}, LIMITS)
        == []
    )


# --- error rates on the simulated model ------------------------------------------------------


def simulate(model: JitteryModel, history: History) -> set[str]:
    """One run as ``aiir canary run`` concludes it (the benchmark's, without sockets)."""
    return simulated_run(model, history, SIMULATED)


def test_an_unchanged_jittery_model_does_not_cry_wolf(tmp_path: Path) -> None:
    """Three histories of 100 consecutive runs each: at most one false drift alert per 100 runs
    (the benchmark measures 0.4 per 100 over 3,000)."""
    alarms = []
    for seed in (1, 2, 3):
        model = JitteryModel(seed)
        history = History.of(tmp_path / str(seed), "suite")
        alarms += [drifted for drifted in (simulate(model, history) for _ in range(100)) if drifted]
    assert len(alarms) <= 3, alarms


@pytest.mark.parametrize("shift", SHIFTS, ids=[s.name for s in SHIFTS])
def test_each_real_shift_is_caught_within_three_runs(tmp_path: Path, shift: Shift) -> None:
    for trial in range(10):
        model = JitteryModel(100 + trial)
        history = History.of(tmp_path / str(trial), "suite")
        for _ in range(5):
            simulate(model, history)
        model.shift = shift
        caught = [shift.signal in simulate(model, history) for _ in range(3)]
        assert any(caught), (shift.name, trial)


def test_baseline_pools_the_last_passing_runs_of_the_same_target(tmp_path: Path) -> None:
    history = History.of(tmp_path, "suite")
    for index in range(7):
        history.append(
            {
                "target": {"key": "a"},
                "ok": index != 5,
                "prompts": {"p": {LATENCY: [float(index)]}},
                "models": {"m": 1},
                "alert": {"open": index == 6, "dedup_key": "a", "since": "t"},
            }
        )
    history.append({"target": {"key": "b"}, "ok": True, "prompts": {"p": {LATENCY: [99.0]}}})
    history.append({"target": {"key": "a"}, "ok": True, "samples": {LATENCY: [50.0]}})  # older
    with (tmp_path / "suite.jsonl").open("a") as handle:
        handle.write('{"cut short')
    reread = History.of(tmp_path, "suite")
    baseline = reread.baseline("a", window=3)
    assert baseline.prompts["p"][LATENCY] == [3.0, 4.0, 6.0]
    assert (baseline.models, baseline.runs) == ({"m": 3}, 3)
    assert reread.alert("a").open
    assert not reread.alert("b").open


def test_history_reads_only_its_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import aiir.canary.history as history_module

    history = History.of(tmp_path, "suite")
    for index in range(100):
        history.append({"target": {"key": "a"}, "ok": True, "samples": {LATENCY: [float(index)]}})
    monkeypatch.setattr(history_module, "TAIL_BYTES", 1000)
    tail = History.of(tmp_path, "suite").records
    assert 0 < len(tail) < 100
    assert tail[-1]["samples"][LATENCY] == [99.0]
    assert all(record["v"] == 1 for record in tail)  # no line cut in half
