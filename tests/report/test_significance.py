"""The change between two runs: two-proportion z-test and Newcombe's interval on the difference."""

from __future__ import annotations

import math

from harness.report.significance import newcombe_interval, normal_sf, two_proportion_p


def test_normal_tail() -> None:
    assert math.isclose(normal_sf(1.959964), 0.025, abs_tol=1e-6)
    assert math.isclose(normal_sf(0.0), 0.5)


def test_two_proportion_z_test_by_hand() -> None:
    # pooled p = 0.55, se = sqrt(0.55 * 0.45 * (2 / 100)) = 0.070356, z = 1.4213, two-sided p = 0.1552
    assert math.isclose(two_proportion_p(0.5, 100, 0.6, 100), 0.1552, abs_tol=2e-4)
    assert two_proportion_p(0.5, 1000, 0.6, 1000) < 1e-5
    assert two_proportion_p(0.7, 200, 0.7, 200) == 1.0


def test_two_proportion_degenerate() -> None:
    assert two_proportion_p(1.0, 50, 1.0, 50) == 1.0
    assert two_proportion_p(0.0, 50, 1.0, 50) < 1e-20
    assert math.isnan(two_proportion_p(0.5, 0, 0.5, 10))
    assert math.isnan(two_proportion_p(float("nan"), 10, 0.5, 10))


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 vs 48/80 -> 0.0524 to 0.3339.
    low, high = newcombe_interval(48 / 80, 80, 56 / 70, 70)
    assert math.isclose(low, 0.0524, abs_tol=1e-4)
    assert math.isclose(high, 0.3339, abs_tol=1e-4)


def test_newcombe_interval_is_antisymmetric_and_contains_the_difference() -> None:
    low, high = newcombe_interval(0.8, 120, 0.7, 150)
    back_low, back_high = newcombe_interval(0.7, 150, 0.8, 120)
    assert math.isclose(low, -back_high) and math.isclose(high, -back_low)
    assert low < -0.1 < high
