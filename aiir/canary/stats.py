"""The statistics behind drift detection, in plain Python (no numpy or scipy).

- Two-sample Kolmogorov–Smirnov: the statistic D and its asymptotic p-value with Stephens'
  small-sample correction (Numerical Recipes, 3rd ed., §14.3.3; Stephens 1970).
- Population stability index over quantile bins of the baseline: < 0.1 no change, 0.1–0.25
  moderate, > 0.25 major (DOMAIN.md §7).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

PSI_FLOOR = 1e-4  # an empty bin counts as this fraction, so ln(a/e) stays finite
MAX_BINS = 10


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0–1) with linear interpolation between order statistics."""
    if not values:
        raise ValueError("quantile of no values")
    return _quantile_of_sorted(sorted(values), q)


def _quantile_of_sorted(ordered: Sequence[float], q: float) -> float:
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return quantile(values, 0.5)


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)


def ks_statistic(a: Sequence[float], b: Sequence[float]) -> float:
    """The largest distance between the two empirical distribution functions."""
    if not a or not b:
        raise ValueError("the Kolmogorov-Smirnov test needs values on both sides")
    xs, ys = sorted(a), sorted(b)
    distance = 0.0
    for point in sorted(set(xs) | set(ys)):
        fa = bisect.bisect_right(xs, point) / len(xs)
        fb = bisect.bisect_right(ys, point) / len(ys)
        distance = max(distance, abs(fa - fb))
    return distance


def kolmogorov_sf(lam: float) -> float:
    """P(K > lam) for the Kolmogorov distribution: ``Q_KS`` of Numerical Recipes."""
    if lam <= 0:
        return 1.0
    if lam < 1.18:  # the theta-function form converges fast for small lam
        factor = math.sqrt(2 * math.pi) / lam
        total = sum(math.exp(-((2 * j - 1) ** 2) * math.pi**2 / (8 * lam**2)) for j in range(1, 6))
        return min(1.0, max(0.0, 1.0 - factor * total))
    total = 0.0
    for j in range(1, 101):
        term = (-1) ** (j - 1) * math.exp(-2 * j * j * lam * lam)
        total += term
        if abs(term) < 1e-12:
            break
    return min(1.0, max(0.0, 2 * total))


def ks_2samp(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided two-sample Kolmogorov–Smirnov test: ``(D, p)``."""
    d = ks_statistic(a, b)
    en = math.sqrt(len(a) * len(b) / (len(a) + len(b)))
    return d, kolmogorov_sf((en + 0.12 + 0.11 / en) * d)


def psi_fractions(expected: Sequence[float], actual: Sequence[float]) -> float:
    """PSI of two distributions over the same bins, given as fractions."""
    if len(expected) != len(actual):
        raise ValueError("both distributions need the same bins")
    total = 0.0
    for given_e, given_a in zip(expected, actual, strict=True):
        e, a = max(given_e, PSI_FLOOR), max(given_a, PSI_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def bin_edges(baseline: Sequence[float], bins: int) -> list[float]:
    """Inner edges at the baseline's quantiles; repeated values collapse into one bin."""
    ordered = sorted(baseline)
    return sorted({_quantile_of_sorted(ordered, i / bins) for i in range(1, bins)})


def fractions(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    """Share of ``values`` in each bin ``(-inf, e0], (e0, e1], …, (en, inf)``."""
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[bisect.bisect_left(edges, value)] += 1
    return [c / len(values) for c in counts]


def psi(baseline: Sequence[float], current: Sequence[float], bins: int = MAX_BINS) -> float:
    """PSI of ``current`` against ``baseline``, over quantile bins of the baseline."""
    if not baseline or not current:
        raise ValueError("the population stability index needs values on both sides")
    edges = bin_edges(baseline, max(2, min(bins, len(baseline) // 5)))
    return psi_fractions(fractions(baseline, edges), fractions(current, edges))
