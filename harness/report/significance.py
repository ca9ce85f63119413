"""Is the change in accuracy between two runs real? Tests on two measured proportions.

Both runs are usually evaluated on the same test images (the split is fixed by its seed), so the two
accuracies are paired; without per-image predictions the record cannot pair them, and these unpaired
tests are then conservative (they overstate the variance of the difference when the runs agree on most
images), which is the safe side for a regression check.
"""

from __future__ import annotations

import math

from harness.stats import wilson_interval


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def two_proportion_p(p1: float, n1: int, p2: float, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test of ``p1 == p2`` (accuracies on n1, n2 images)."""
    if n1 <= 0 or n2 <= 0 or math.isnan(p1) or math.isnan(p2):
        return float("nan")
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0.0:
        return 1.0 if p1 == p2 else 0.0
    z = abs(p2 - p1) / math.sqrt(variance)
    return min(1.0, 2.0 * normal_sf(z))


def newcombe_interval(p1: float, n1: int, p2: float, n2: int) -> tuple[float, float]:
    """95% Newcombe (hybrid Wilson score) interval of the difference ``p2 - p1``."""
    if n1 <= 0 or n2 <= 0 or math.isnan(p1) or math.isnan(p2):
        return float("nan"), float("nan")
    low1, high1 = wilson_interval(p1, n1)
    low2, high2 = wilson_interval(p2, n2)
    difference = p2 - p1
    low = difference - math.sqrt((p2 - low2) ** 2 + (high1 - p1) ** 2)
    high = difference + math.sqrt((high2 - p2) ** 2 + (p1 - low1) ** 2)
    return low, high
