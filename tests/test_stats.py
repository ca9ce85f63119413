"""The pure statistics of the time-to-accuracy protocol (MLPerf's rules) and of the normalised scores
across datasets (the AutoML benchmark's)."""

from __future__ import annotations

import math

import pytest

from harness import stats
from harness.stats import cross_dataset_scores, normalised_score, time_to_target

# -------------------------------------------------------------------------------------------------
# Time to target
# -------------------------------------------------------------------------------------------------


def test_the_fastest_and_slowest_runs_are_dropped_and_the_rest_averaged() -> None:
    result = time_to_target([5.0, 1.0, 3.0, 9.0, 4.0])
    assert result.dropped == (1.0, 9.0) and result.kept == (3.0, 4.0, 5.0)
    assert result.mean == pytest.approx(4.0) and result.std == pytest.approx(1.0)
    assert result.valid and result.runs == 5 and result.reached == 5 and result.not_reached == 0 and not result.why


def test_one_run_that_never_reached_the_target_is_the_slowest_and_dropped() -> None:
    result = time_to_target([2.0, None, 6.0, 4.0])
    assert result.dropped == (2.0, None) and result.kept == (4.0, 6.0) and result.mean == pytest.approx(5.0)
    assert result.valid and result.reached == 3 and result.not_reached == 1


def test_two_runs_that_never_reached_the_target_leave_no_result_but_are_counted() -> None:
    result = time_to_target([2.0, None, 6.0, math.nan, 4.0])
    assert not result.valid and math.isnan(result.mean) and result.kept == ()
    assert result.runs == 5 and result.reached == 3 and result.not_reached == 2
    assert result.why == "2 of 5 runs did not reach the target; the protocol allows one (as the slowest, dropped)"


def test_no_run_reached_the_target() -> None:
    result = time_to_target([None, None, None])
    assert not result.valid and result.reached == 0 and result.not_reached == 3 and result.dropped == (None, None)


@pytest.mark.parametrize("times, mean", [([3.0], 3.0), ([2.0, 4.0], 3.0)])
def test_fewer_than_three_runs_drop_nothing(times: list[float], mean: float) -> None:
    result = time_to_target(times)
    assert result.dropped == () and result.kept == tuple(times) and result.mean == pytest.approx(mean)
    assert math.isnan(result.std) == (len(times) == 1)


@pytest.mark.parametrize("times", [[None], [2.0, None]])
def test_fewer_than_three_runs_with_one_that_missed_have_no_result(times: list[float | None]) -> None:
    result = time_to_target(times)
    assert not result.valid and result.not_reached == 1
    assert "none (fewer than 3 runs: none is dropped)" in result.why


def test_three_runs_keep_the_middle_one() -> None:
    result = time_to_target([3.0, 1.0, 2.0])
    assert result.kept == (2.0,) and result.mean == 2.0 and math.isnan(result.std)
    assert time_to_target([]).why == "no run"


# -------------------------------------------------------------------------------------------------
# Normalised scores across datasets
# -------------------------------------------------------------------------------------------------


def test_normalised_score_puts_the_baseline_at_0_and_the_reference_at_1() -> None:
    assert normalised_score(0.5, 0.5, 0.9) == 0.0 and normalised_score(0.9, 0.5, 0.9) == 1.0
    assert normalised_score(0.7, 0.5, 0.9) == pytest.approx(0.5)
    assert normalised_score(0.4, 0.5, 0.9) == pytest.approx(-0.25)  # below the baseline: negative
    assert normalised_score(1.0, 0.5, 0.9) == pytest.approx(1.25)  # better than the reference: above 1
    assert math.isnan(normalised_score(0.7, 0.6, 0.6))  # reference == baseline: no scale
    assert math.isnan(normalised_score(math.nan, 0.5, 0.9))


ACCURACY = {"a": {"none-cnn": 0.9, "flip-cnn": 0.7, "none-mlp": 0.6},
            "b": {"none-cnn": 0.6, "flip-cnn": 0.8, "none-mlp": 0.5}}
BASELINES = {"a": 0.5, "b": 0.5}


def test_scores_against_the_best_of_the_run_on_each_dataset() -> None:
    board = cross_dataset_scores(ACCURACY, BASELINES)
    assert board.references == {"a": ("none-cnn", 0.9), "b": ("flip-cnn", 0.8)} and not board.unscaled
    cnn = board.scores["none-cnn"]
    assert cnn.scores == pytest.approx({"a": 1.0, "b": 1 / 3})
    assert cnn.mean == pytest.approx(2 / 3) and cnn.low == pytest.approx(1 / 3) and cnn.high == pytest.approx(1.0)
    assert cnn.std == pytest.approx(stats.mean_interval([1.0, 1 / 3])[1])
    assert board.scores["flip-cnn"].mean == pytest.approx((0.5 + 1.0) / 2)
    assert board.scores["none-mlp"].scores == pytest.approx({"a": 0.25, "b": 0.0})


def test_scores_against_a_named_reference() -> None:
    board = cross_dataset_scores(ACCURACY, BASELINES, reference="flip-cnn")
    assert board.references == {"a": ("flip-cnn", 0.7), "b": ("flip-cnn", 0.8)}
    assert board.scores["flip-cnn"].scores == {"a": 1.0, "b": 1.0} and board.scores["flip-cnn"].std == 0.0
    assert board.scores["none-cnn"].scores == pytest.approx({"a": 2.0, "b": 1 / 3})


def test_a_missing_result_scores_as_the_baseline_and_is_listed() -> None:
    accuracy = {"a": dict(ACCURACY["a"]), "b": {**ACCURACY["b"], "none-mlp": math.nan}}
    score = cross_dataset_scores(accuracy, BASELINES).scores["none-mlp"]
    assert score.scores["b"] == 0.0 and score.imputed == ("b",)
    absent = cross_dataset_scores({"a": ACCURACY["a"], "b": {"none-cnn": 0.6}}, BASELINES).scores["none-mlp"]
    assert absent.imputed == ("b",) and absent.scores["b"] == 0.0


def test_a_reference_no_better_than_the_baseline_leaves_its_dataset_out() -> None:
    board = cross_dataset_scores(ACCURACY, {"a": 0.5, "b": 0.6}, reference="none-cnn")
    assert "b" not in board.references and "does not beat the baseline" in board.unscaled["b"]
    assert board.scores["none-cnn"].scores["a"] == 1.0 and math.isnan(board.scores["none-cnn"].scores["b"])
    assert board.scores["none-cnn"].mean == 1.0 and math.isnan(board.scores["none-cnn"].std)


def test_a_reference_without_a_result_and_a_dataset_where_nothing_trained_are_left_out() -> None:
    accuracy = {"a": ACCURACY["a"], "b": {"none-cnn": math.nan, "flip-cnn": 0.8}, "c": {"none-cnn": math.nan}}
    board = cross_dataset_scores(accuracy, {**BASELINES, "c": 0.5}, reference="none-cnn")
    assert set(board.references) == {"a"}
    assert board.unscaled == {"b": "the reference none-cnn has no test accuracy on it",
                              "c": "the reference none-cnn has no test accuracy on it"}
    nothing = cross_dataset_scores({"c": {"none-cnn": math.nan}}, {"c": 0.5})
    assert nothing.unscaled == {"c": "no combination has a test accuracy on it"}
    assert math.isnan(nothing.scores["none-cnn"].mean) and math.isnan(nothing.scores["none-cnn"].low)


# -------------------------------------------------------------------------------------------------
# Paired comparisons (scipy for the exact tests)
# -------------------------------------------------------------------------------------------------


def _tango_by_hand(b: int, c: int, n: int, delta: float) -> float:
    """Tango's (1998) score statistic, written out again: the constrained estimate of P(right by B alone)
    is the positive root of 2n q^2 + (-b - c + (2n - b + c) delta) q - c delta (1 - delta) = 0."""
    qa, qb, qc = 2 * n, -b - c + (2 * n - b + c) * delta, -c * delta * (1 - delta)
    q = (-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    return (b - c - n * delta) / math.sqrt(n * (2 * q + delta * (1 - delta)))


def _tango_closed_form(b: int, c: int, n: int, z: float = stats.Z95) -> tuple[float, float]:
    """Tango's limits as the outer real roots of the quartic of Yang, Sun and Hardin (2012, "A non-iterative
    implementation of Tango's score confidence interval for a paired difference of proportions")."""
    import numpy as np

    g = z * z
    coefficients = [n**2 * (n / g + 1) ** 2,
                    -n * (b - c) * (n / g + 1) * (4 * n / g + 1),
                    2 * n * (b - c) ** 2 * (3 * n / g + 2) / g - n**2 * ((b + c) / g + 1),
                    n * (b - c) * (2 * (b + c) / g + 1) - (b - c) ** 3 * (4 * n / g + 1) / g,
                    (b - c) ** 2 * ((b - c) ** 2 / g - (b + c)) / g]
    roots = sorted(r.real for r in np.roots(coefficients) if abs(r.imag) < 1e-9)
    return roots[0], roots[-1]


@pytest.mark.parametrize("b, c, n", [(40, 20, 160), (12, 1, 50), (1, 7, 21), (5, 0, 200), (0, 0, 200), (3, 2, 50)])
def test_the_tango_interval_is_where_the_score_test_stops_rejecting(b: int, c: int, n: int) -> None:
    low, high = stats.tango_interval(b, c, n)
    assert low < (b - c) / n < high or b == c == 0 and low < 0 < high
    assert _tango_by_hand(b, c, n, low) == pytest.approx(stats.Z95, abs=1e-6)
    assert _tango_by_hand(b, c, n, high) == pytest.approx(-stats.Z95, abs=1e-6)
    assert (low, high) == pytest.approx(_tango_closed_form(b, c, n), abs=1e-9)


def test_tango_score_at_no_difference_is_mcnemars_z() -> None:
    assert stats.tango_score(40, 20, 160, 0.0) == pytest.approx(20 / math.sqrt(60))
    assert stats.tango_score(0, 0, 100, 0.0) == 0.0


def test_the_paired_difference_of_a_hand_made_table() -> None:
    result = stats.paired_difference(12, 1, 50)  # A right alone on 12 images, B alone on 1, 50 images in all
    assert result.difference == pytest.approx(11 / 50)
    assert result.p_value == pytest.approx(2 * (13 + 1) / 2**13)  # exact two-sided binomial, 12 or more of 13
    assert result.low > 0 and "Tango" in result.method
    assert stats.paired_difference(3, 2, 50).p_value == pytest.approx(1.0)
    nothing = stats.paired_difference(0, 0, 0)
    assert math.isnan(nothing.difference) and math.isnan(nothing.low)


def test_the_pooled_paired_difference_is_a_t_interval_over_the_images() -> None:
    from scipy import stats as sp

    per_image = [1.0, 0.5, 0.0, 0.0, -0.5, 1.0, 0.0, 0.5]
    result = stats.pooled_paired_difference(per_image)
    mean = sum(per_image) / len(per_image)
    sd = math.sqrt(sum((v - mean) ** 2 for v in per_image) / (len(per_image) - 1))
    half = sp.t.ppf(0.975, len(per_image) - 1) * sd / math.sqrt(len(per_image))
    assert result.difference == pytest.approx(mean)
    assert (result.low, result.high) == pytest.approx((mean - half, mean + half))
    t = mean / (sd / math.sqrt(len(per_image)))
    assert result.p_value == pytest.approx(2 * sp.t.sf(abs(t), len(per_image) - 1))
    same = stats.pooled_paired_difference([0.0] * 10)
    assert same.difference == 0.0 and same.p_value == 1.0 and same.low == same.high == 0.0
    assert math.isnan(stats.pooled_paired_difference([]).difference)


@pytest.mark.parametrize("k, n, p", [(40, 50, 0.6), (1, 10, 0.3), (180, 200, 0.5), (5, 5, 0.5), (0, 5, 0.5)])
def test_binomial_sf_is_the_exact_upper_tail(k: int, n: int, p: float) -> None:
    exact = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
    from scipy.stats import binom

    assert stats.binomial_sf(k, n, p) == pytest.approx(exact, rel=1e-9)
    assert stats.binomial_sf(k, n, p) == pytest.approx(float(binom.sf(k - 1, n, p)), rel=1e-12)
    assert stats.binomial_sf(k + n + 1, n, p) == 0.0 and stats.binomial_sf(3, n, 0.0) == 0.0
