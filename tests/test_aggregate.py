"""harness.aggregate: the interquartile mean, the probability of improvement and their stratified bootstrap
intervals (Agarwal et al., NeurIPS 2021), checked against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from harness import aggregate


@pytest.mark.parametrize(("scores", "expected"), [
    ([0.1, 0.9, 0.2, 0.3], (0.2 + 0.3) / 2),  # 4 scores: the lowest and the highest trimmed
    ([7, 1, 100, 3, 4, 2, 6, 5], (3 + 4 + 5 + 6) / 4),  # 8 scores: two trimmed at each end, 100 ignored
    ([0.7, 0.8, 0.9], 0.8),  # 3 scores: nothing trimmed, the mean
    ([0.5], 0.5),
])
def test_the_iqm_is_the_mean_of_the_middle_half(scores: list[float], expected: float) -> None:
    assert math.isclose(aggregate.iqm(scores), expected)


def test_the_iqm_ignores_missing_scores_and_refuses_none() -> None:
    assert math.isclose(aggregate.iqm([0.1, math.nan, 0.2, 0.3, 0.9]), 0.25)
    with pytest.raises(ValueError, match="at least one score"):
        aggregate.iqm([])


def test_probability_of_improvement_by_hand_with_ties() -> None:
    # x=[1,2,2] against y=[2,3]: of 6 pairs none is won, 2 are ties (2 vs 2): 2 x 1/2 / 6
    assert math.isclose(aggregate.improvement([[1, 2, 2]], [[2, 3]]), 1 / 6)
    # 0.9 beats 0.7 and 0.8, 0.8 beats 0.7 and ties 0.8: 3.5 of 4 pairs
    assert math.isclose(aggregate.improvement([[0.9, 0.8]], [[0.7, 0.8]]), 0.875)
    # identical scores: one half; two tasks: the mean of the tasks' probabilities
    assert aggregate.improvement([[3, 3]], [[3, 3]]) == 0.5
    assert math.isclose(aggregate.improvement([[0.9, 0.8], [1, 2, 2]], [[0.7, 0.8], [2, 3]]), (0.875 + 1 / 6) / 2)


def test_probability_of_improvement_is_complementary_and_is_mann_whitney_u() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 5, 7).tolist(), rng.integers(0, 5, 5).tolist()
    forward, backward = aggregate.improvement([x], [y]), aggregate.improvement([y], [x])
    assert math.isclose(forward + backward, 1.0)
    assert math.isclose(forward, mannwhitneyu(x, y).statistic / (len(x) * len(y)))
    # the bootstrap's vectorized count is the same number
    assert math.isclose(float(aggregate._share_greater(np.array(x), np.array(y))), forward)


def test_probability_of_improvement_needs_as_many_tasks_on_both_sides() -> None:
    with pytest.raises(ValueError, match="2 tasks against 1"):
        aggregate.improvement([[1, 2], [3, 4]], [[1, 2]])


def test_the_iqm_interval_contains_the_iqm_and_is_reproducible() -> None:
    scores = [0.81, 0.86, 0.79, 0.9, 0.84]
    first = aggregate.iqm_interval([scores])
    assert first == aggregate.iqm_interval([scores])  # fixed seed: the same report twice
    assert math.isclose(first.value, aggregate.iqm(scores))
    assert min(scores) <= first.low <= first.value <= first.high <= max(scores)
    assert first.low < first.high
    assert aggregate.iqm_interval([scores], seed=1) != first  # the seed is what makes it reproducible


def test_the_bootstrap_resamples_seeds_within_each_task() -> None:
    # Stratified: every resample keeps three scores of each task, so the pooled IQM of [0,0,0,1,1,1]
    # (0, 0, 1, 1 once trimmed) is always one half; pooling the tasks before resampling would not be.
    estimate = aggregate.iqm_interval([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    assert (estimate.value, estimate.low, estimate.high) == (0.5, 0.5, 0.5)


def test_one_seed_has_no_interval() -> None:
    estimate = aggregate.iqm_interval([[0.8]])
    assert estimate.value == 0.8 and math.isnan(estimate.low) and math.isnan(estimate.high)
    assert math.isnan(aggregate.improvement_interval([[0.8]], [[0.7, 0.6]]).low)


def test_the_improvement_interval_contains_the_probability_and_is_reproducible() -> None:
    x, y = [[0.9, 0.91, 0.85, 0.88]], [[0.8, 0.86, 0.93, 0.84]]
    estimate = aggregate.improvement_interval(x, y)
    assert estimate == aggregate.improvement_interval(x, y)
    assert math.isclose(estimate.value, aggregate.improvement(x, y))
    assert 0.0 <= estimate.low <= estimate.value <= estimate.high <= 1.0
    separated = aggregate.improvement_interval([[0.9, 0.95, 0.92]], [[0.5, 0.52, 0.51]])
    assert (separated.value, separated.low, separated.high) == (1.0, 1.0, 1.0)
