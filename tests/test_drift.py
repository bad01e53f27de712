"""The drift statistics against known values, and the verdicts built on them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from aiir.canary import stats
from aiir.canary.drift import LATENCY, LENGTH, LOGPROB, REFUSED, Signal, compare
from aiir.canary.history import History
from aiir.formats.canary import DriftLimits

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
    assert stats.psi(baseline, shifted) > 0.25  # "major" (DOMAIN.md §7)


def test_quantile_interpolates_like_numpy_linear() -> None:
    assert stats.quantile([1, 2, 3, 4], 0.5) == 2.5
    assert stats.quantile([1, 2, 3, 4], 0.25) == 1.75
    assert stats.median([3, 1, 2]) == 2


LIMITS = DriftLimits()


def samples(
    latency: list[float], length: float = 40, refused: float = 0, logprob: float = -0.05
) -> dict[str, list[float]]:
    n = len(latency)
    return {
        LATENCY: latency,
        LENGTH: [length] * n,
        REFUSED: [refused] * n,
        LOGPROB: [logprob] * n,
    }


def by_name(signals: list[Signal]) -> dict[str, Signal]:
    return {s.name: s for s in signals}


def test_no_drift_when_nothing_moved() -> None:
    base = samples([20 + (i % 5) for i in range(30)])
    now = samples([20 + (i % 4) for i in range(12)])
    signals = compare(base, now, LIMITS)
    assert [s.name for s in signals] == ["latency", "output-length", "refusal-rate", "confidence"]
    assert not any(s.drifted for s in signals)


def test_latency_shift_is_drift_and_says_by_how_much() -> None:
    base = samples([20 + (i % 5) for i in range(30)])
    now = samples([220 + (i % 5) for i in range(12)])
    latency = compare(base, now, LIMITS)[0]
    assert latency.drifted
    assert latency.summary.startswith("latency: median 22 ms -> 222 ms (+200 ms); KS D=1.00 p=")
    assert latency.values["ks_p"] < 0.05
    assert latency.values["psi"] > 0.2


def test_small_latency_moves_are_jitter() -> None:
    base = samples([1.0] * 15 + [2.0] * 15)
    now = samples([3.0] * 12)
    latency = compare(base, now, LIMITS)[0]
    assert latency.values["ks_p"] < 0.05
    assert not latency.drifted
    assert latency.summary.endswith("the median moved less than 20 ms: jitter")


def test_output_length_refusal_rate_and_confidence_drift() -> None:
    base = samples([20.0] * 30)
    now = samples([20.0] * 12, length=400, refused=1, logprob=-1.5)
    signals = by_name(compare(base, now, LIMITS))
    assert [
        signals[n].drifted for n in ("latency", "output-length", "refusal-rate", "confidence")
    ] == [False, True, True, True]
    assert (
        signals["refusal-rate"].summary
        == "refusal rate: 0% -> 100% (+100 points; alert beyond ±10)"
    )
    assert "-0.05 -> -1.50 (-1.45)" in signals["confidence"].summary


def test_thresholds_are_configurable() -> None:
    base = samples([20.0] * 30, refused=0)
    now = samples([20.0] * 10 + [20.0] * 2, refused=0)
    now[REFUSED] = [1.0] * 3 + [0.0] * 9  # 25 points
    assert by_name(compare(base, now, LIMITS))["refusal-rate"].drifted
    lenient = DriftLimits(refusal_rate=0.3)
    assert not by_name(compare(base, now, lenient))["refusal-rate"].drifted


def test_too_few_samples_give_no_verdict() -> None:
    assert compare(samples([1.0] * 9), samples([1.0] * 30), LIMITS) == []
    assert compare(samples([1.0] * 30), samples([1.0] * 9), LIMITS) == []


def test_baseline_pools_the_last_passing_runs_of_the_same_target(tmp_path: Path) -> None:
    history = History.of(tmp_path, "suite")
    for index in range(7):
        history.append(
            {
                "target": {"key": "a"},
                "ok": index != 5,
                "samples": {LATENCY: [float(index)]},
                "alert": {"open": index == 6, "dedup_key": "a", "since": "t"},
            }
        )
    history.append({"target": {"key": "b"}, "ok": True, "samples": {LATENCY: [99.0]}})
    with (tmp_path / "suite.jsonl").open("a") as handle:
        handle.write('{"cut short')
    reread = History.of(tmp_path, "suite")
    pooled, runs = reread.baseline("a", window=3)
    assert (pooled[LATENCY], runs) == ([3.0, 4.0, 6.0], 3)
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
