"""Honest statistics: confidence intervals, the test of beating the label-frequency baseline, Holm's
correction across a run's combinations and the smallest lift a test set can detect."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Significance level of the one-sided test that decides PASSED.
ALPHA = 0.05

#: Power at which :func:`min_detectable_lift` is computed.
POWER = 0.8

#: A test set whose minimum detectable lift is larger than this (in points) is too small to be useful:
#: the report and the terminal say so.
USEFUL_LIFT_POINTS = 10.0

# Two-sided 95% Student t quantiles by degrees of freedom (1..30); beyond, the normal 1.96 is close enough.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]


def t95(df: int) -> float:
    if df < 1:
        return float("nan")
    return _T95[df - 1] if df <= len(_T95) else 1.96


def wilson_interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of an accuracy measured on ``n`` examples."""
    if n <= 0 or math.isnan(accuracy):
        return float("nan"), float("nan")
    denom = 1 + z * z / n
    centre = (accuracy + z * z / (2 * n)) / denom
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: Sequence[float]) -> tuple[float, float, float, float]:
    """Mean, sample standard deviation and the 95% t interval of the mean."""
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return float("nan"), float("nan"), float("nan"), float("nan")
    mean = sum(clean) / len(clean)
    if len(clean) == 1:
        return mean, float("nan"), float("nan"), float("nan")
    std = math.sqrt(sum((v - mean) ** 2 for v in clean) / (len(clean) - 1))
    half = t95(len(clean) - 1) * std / math.sqrt(len(clean))
    return mean, std, mean - half, mean + half


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exactly (log space, fine for test sets of any size)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        for i in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def correct_count(accuracy: float, n: int) -> int:
    """The number of correct answers behind an accuracy measured on ``n`` examples (Keras reports the
    accuracy as a float32 ratio, exact enough to recover the count for any test set under 2**23)."""
    return int(round(accuracy * n))


def ratio(correct: int, n: int) -> float:
    """``correct / n`` as a float: the accuracy with no float32 artefact (0.56, not 0.5600000023841858)."""
    return correct / n if n > 0 else float("nan")


def p_beats_baseline(accuracy: float, n: int, baseline: float) -> float:
    """One-sided p-value that a classifier with this test accuracy is better than always guessing the
    majority class (exact binomial test of the number of correct answers against the baseline rate)."""
    if n <= 0 or math.isnan(accuracy) or math.isnan(baseline):
        return float("nan")
    return binomial_sf(correct_count(accuracy, n), n, baseline)


def beats_baseline(accuracy: float, n: int, baseline: float, alpha: float = ALPHA) -> bool:
    p = p_beats_baseline(accuracy, n, baseline)
    return not math.isnan(p) and accuracy > baseline and p < alpha


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (one per test of a family; NaN stays NaN and does not
    count as a test): reject where the adjusted p is below alpha, and the chance of any false pass in the
    family stays below alpha."""
    order = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(order)
    adjusted = [float("nan")] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def critical_count(n: int, baseline: float, alpha: float = ALPHA) -> int | None:
    """The fewest correct answers out of ``n`` that beat ``baseline`` at ``alpha`` (exact binomial test),
    or ``None`` when even ``n`` out of ``n`` does not."""
    for k in range(int(math.floor(baseline * n)) + 1, n + 1):
        if binomial_sf(k, n, baseline) < alpha:
            return k
    return None


def min_detectable_lift(n: int, baseline: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest lift over ``baseline`` (in points) that a test set of ``n`` images detects with
    probability ``power`` at level ``alpha``: the true accuracy at which the exact binomial test passes
    ``power`` of the time. Infinite when no accuracy can pass (too few images), NaN without a test set."""
    if n <= 0 or math.isnan(baseline):
        return float("nan")
    k = critical_count(n, baseline, alpha)
    if k is None:
        return math.inf
    low, high = baseline, 1.0
    if binomial_sf(k, n, high) < power:
        return math.inf
    for _ in range(60):  # bisection on the true accuracy: P(X >= k) grows with it
        middle = (low + high) / 2
        if binomial_sf(k, n, middle) >= power:
            high = middle
        else:
            low = middle
    return 100.0 * (high - baseline)
