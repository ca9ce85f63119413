"""Scores over a few seeds, as rliable aggregates them (Agarwal et al., "Deep Reinforcement Learning at the
Edge of the Statistical Precipice", NeurIPS 2021): the interquartile mean (IQM) with a stratified bootstrap
interval, and the probability of improvement of one combination over another with its interval.

Scores come in strata: one sequence of scores (one per seed) per task, here per dataset. The IQM pools every
stratum's scores; the bootstrap resamples the seeds within each stratum independently (a stratified
bootstrap: every resample keeps each task's number of seeds), so that a task with more seeds does not take
another's place. The intervals are percentile intervals, as rliable's, drawn with a fixed seed
(:data:`SEED`): the same scores give the same interval in every report.

Pure functions of their arguments; numpy and scipy are imported inside them, so that ``import harness`` stays
light."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: The confidence level of the intervals.
CONFIDENCE = 0.95
#: Bootstrap resamples per interval (scipy's default).
RESAMPLES = 9999
#: Seed of the bootstrap's random numbers: a report's intervals are reproducible.
SEED = 0
#: The share of scores trimmed off each end by the interquartile mean.
TRIM = 0.25

#: Scores per task: one sequence of per-seed scores for each task (dataset).
Strata = Sequence[Sequence[float]]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with the bounds of its interval (NaN when there is no interval: a stratum with a
    single score cannot be resampled)."""

    value: float
    low: float
    high: float


def _clean(strata: Strata, what: str) -> list[Any]:
    """Each stratum as a float array without NaN; a :class:`ValueError` when one is empty."""
    import numpy as np

    arrays = [np.asarray([float(s) for s in stratum if not math.isnan(float(s))], dtype=float)
              for stratum in strata]
    if not arrays or any(a.size == 0 for a in arrays):
        raise ValueError(f"{what}: every task needs at least one score")
    return arrays


def iqm(scores: Sequence[float]) -> float:
    """The interquartile mean of ``scores``: the mean of the middle half, the lowest and highest quarter
    trimmed off (``scipy.stats.trim_mean(scores, 0.25)``, as rliable computes it; with fewer than four
    scores nothing is trimmed, so it is the mean). Robust to one outlying seed, and less noisy than the
    median over few seeds (Agarwal et al., NeurIPS 2021)."""
    from scipy.stats import trim_mean

    values = _clean([scores], "IQM")[0]
    return float(trim_mean(values, TRIM))


def _bootstrap(samples: list[Any], statistic: Callable[..., Any], resamples: int, seed: int) -> tuple[float, float]:
    """The percentile interval of ``statistic`` over ``samples`` each resampled on its own
    (``scipy.stats.bootstrap``, unpaired: a stratified bootstrap when the samples are the strata)."""
    import numpy as np
    from scipy.stats import bootstrap

    options: dict[str, Any] = {"n_resamples": resamples, "vectorized": True, "method": "percentile",
                               "confidence_level": CONFIDENCE}
    try:
        found = bootstrap(tuple(samples), statistic, rng=np.random.default_rng(seed), **options)
    except TypeError:  # scipy before 1.15 names its generator random_state
        found = bootstrap(tuple(samples), statistic, random_state=np.random.default_rng(seed), **options)
    return float(found.confidence_interval.low), float(found.confidence_interval.high)


def _pooled_iqm(*samples: Any, axis: int = -1) -> Any:
    import numpy as np
    from scipy.stats import trim_mean

    return trim_mean(np.concatenate(samples, axis=axis), TRIM, axis=axis)


def iqm_interval(strata: Strata, resamples: int = RESAMPLES, seed: int = SEED) -> Estimate:
    """The IQM of every stratum's scores pooled, with its stratified bootstrap 95% interval: the seeds are
    resampled with replacement within each stratum (task), as rliable's ``StratifiedBootstrap``. The
    interval says how much the IQM could move with other seeds; it needs two or more scores per stratum
    (NaN bounds otherwise)."""
    import numpy as np

    arrays = _clean(strata, "IQM")
    value = iqm(np.concatenate(arrays).tolist())
    if any(a.size < 2 for a in arrays):
        return Estimate(value, math.nan, math.nan)
    low, high = _bootstrap(arrays, _pooled_iqm, resamples, seed)
    return Estimate(value, low, high)


def improvement(x: Strata, y: Strata) -> float:
    """The probability of improvement P(X > Y) of ``x`` over ``y``: per task, the Mann-Whitney U statistic
    of ``x``'s scores against ``y``'s divided by the number of pairs (the share of seed pairs where ``x``
    scores higher, a tie counting one half), averaged over the tasks (Agarwal et al., NeurIPS 2021).
    0.5: neither tends to score higher; 1: every seed of ``x`` beats every seed of ``y``."""
    import numpy as np
    from scipy.stats import mannwhitneyu

    xs, ys = _clean(x, "probability of improvement"), _clean(y, "probability of improvement")
    if len(xs) != len(ys):
        raise ValueError(f"probability of improvement: {len(xs)} tasks against {len(ys)}")
    per_task = [mannwhitneyu(a, b).statistic / (a.size * b.size) for a, b in zip(xs, ys)]
    return float(np.mean(per_task))


def _share_greater(a: Any, b: Any) -> Any:
    """U / (n m) along the last axis of ``a`` and ``b`` (resamples first): the share of pairs where ``a``
    is greater, ties one half. Equal to :func:`improvement`'s ``mannwhitneyu`` count, vectorized."""
    greater = (a[..., :, None] > b[..., None, :]).mean(axis=(-2, -1))
    ties = (a[..., :, None] == b[..., None, :]).mean(axis=(-2, -1))
    return greater + 0.5 * ties


def improvement_interval(x: Strata, y: Strata, resamples: int = RESAMPLES, seed: int = SEED) -> Estimate:
    """:func:`improvement` with its 95% bootstrap interval: the seeds of ``x`` and of ``y`` resampled
    independently within each task, as rliable's ``StratifiedIndependentBootstrap``. Needs two or more
    scores per task on each side (NaN bounds otherwise)."""
    import numpy as np

    value = improvement(x, y)
    xs, ys = _clean(x, "probability of improvement"), _clean(y, "probability of improvement")
    if any(a.size < 2 for a in xs + ys):
        return Estimate(value, math.nan, math.nan)
    tasks = len(xs)

    def statistic(*samples: Any, axis: int = -1) -> Any:
        moved = [np.moveaxis(s, axis, -1) for s in samples]
        return sum(_share_greater(a, b) for a, b in zip(moved[:tasks], moved[tasks:])) / tasks

    low, high = _bootstrap(xs + ys, statistic, resamples, seed)
    return Estimate(value, low, high)
