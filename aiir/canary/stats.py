"""The statistics behind drift detection, in plain Python (no numpy or scipy).

- Two-sample Kolmogorov–Smirnov: the statistic D and its asymptotic p-value with Stephens'
  small-sample correction (Numerical Recipes, 3rd ed., section 14.3.3; Stephens 1970); one-sided
  (``D+``, Smirnov's ``exp(-2 lam^2)`` tail) for "is the current sample larger".
- Population stability index over quantile bins of the baseline, as many bins as the smaller
  sample can fill (2 at 15 samples, 7 at 225, 10 from 400), the current sample's shares pulled
  toward the baseline's by :data:`PSI_PRIOR` pseudo-samples: by chance alone, identical
  distributions stay under 0.2 (docs/canary-drift.md has the figures).
- Fisher's exact test on a 2x2 table (two-sided: every table at most as likely as the one seen).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

PSI_FLOOR = 1e-4  # an empty bin counts as this fraction, so ln(a/e) stays finite
MAX_BINS = 10
PSI_PRIOR = 15  # pseudo-samples drawn from the baseline, added to the current sample's bins


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


def psi_bins(smaller: int) -> int:
    """Bins for a PSI whose smaller sample has ``smaller`` values: about half its square root.

    Ten bins (the textbook count) want hundreds of values on each side; at 15 values most bins
    would hold one or none, and the index would measure the sampling noise.
    """
    return max(2, min(MAX_BINS, int(math.sqrt(smaller) / 2)))


def psi(baseline: Sequence[float], current: Sequence[float], bins: int | None = None) -> float:
    """PSI of ``current`` against ``baseline``, over quantile bins of the baseline.

    The current sample's shares are ``(count + k * baseline share) / (n + k)`` with ``k`` =
    :data:`PSI_PRIOR`: a few values cannot fill (or empty) a bin by themselves, while a sample
    that really moved still outweighs the prior (at 15 values, half the weight).
    """
    if not baseline or not current:
        raise ValueError("the population stability index needs values on both sides")
    count = bins if bins is not None else psi_bins(min(len(baseline), len(current)))
    edges = bin_edges(baseline, max(2, count))
    expected = fractions(baseline, edges)
    seen = fractions(current, edges)
    n = len(current)
    pulled = [
        (share * n + PSI_PRIOR * e) / (n + PSI_PRIOR)
        for share, e in zip(seen, expected, strict=True)
    ]
    return psi_fractions(expected, pulled)


def ks_greater(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """One-sided two-sample KS: is ``b`` stochastically larger than ``a``? ``(D+, p)``.

    ``D+`` is the largest amount by which ``a``'s distribution function runs above ``b``'s
    (``b`` has moved right); ``p`` is Smirnov's asymptotic tail ``exp(-2 lam^2)`` with the same
    small-sample correction as :func:`ks_2samp`.
    """
    if not a or not b:
        raise ValueError("the Kolmogorov-Smirnov test needs values on both sides")
    xs, ys = sorted(a), sorted(b)
    distance = 0.0
    for point in sorted(set(xs) | set(ys)):
        fa = bisect.bisect_right(xs, point) / len(xs)
        fb = bisect.bisect_right(ys, point) / len(ys)
        distance = max(distance, fa - fb)
    en = math.sqrt(len(a) * len(b) / (len(a) + len(b)))
    lam = (en + 0.12 + 0.11 / en) * distance
    return distance, min(1.0, math.exp(-2 * lam * lam)) if distance > 0 else 1.0


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test on the table ``[[a, b], [c, d]]``.

    With the margins fixed, the top-left cell is hypergeometric; the p-value sums the
    probabilities of every table no more likely than the one observed (R's and scipy's rule,
    with the same relative tolerance for ties).
    """
    if min(a, b, c, d) < 0:
        raise ValueError("a contingency table holds counts")
    row, column, total = a + b, a + c, a + b + c + d
    low, high = max(0, row + column - total), min(row, column)

    def log_p(x: int) -> float:
        return _log_comb(column, x) + _log_comb(total - column, row - x) - _log_comb(total, row)

    seen = log_p(a)
    tolerance = 1e-7
    p = math.fsum(math.exp(log_p(x)) for x in range(low, high + 1) if log_p(x) <= seen + tolerance)
    return min(1.0, p)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
