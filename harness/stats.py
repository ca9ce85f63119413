"""Honest statistics: confidence intervals, the test of beating the label-frequency baseline, Holm's
correction across a run's combinations, the smallest lift a test set can detect, the time to a target
accuracy over repeated runs (MLPerf's rules) and normalised scores across datasets (the AutoML benchmark's)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
    """95% Wilson score interval of an accuracy measured on ``n`` examples. (scipy's
    ``binomtest(k, n).proportion_ci(method="wilson")`` gives the same for a whole count ``k``; this takes an
    accuracy, since a combination's accuracy pooled over seeds is not a count of its ``n`` distinct images.)"""
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
    """P(X >= k) for X ~ Binomial(n, p), exactly: scipy's ``bdtrc`` (the function behind
    ``scipy.stats.binom.sf``, without its argument checks, which cost 40 times more: the minimum detectable
    lift calls this a hundred times per combination), the regularised incomplete beta function, accurate in
    the far tail and for test sets of any size."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    from scipy.special import bdtrc

    return min(1.0, float(bdtrc(k - 1, n, p)))


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


def mcnemar(only_a: int, only_b: int) -> float:
    """Two-sided p-value of McNemar's exact test: of the images exactly one of two classifiers got right
    (``only_a`` right by A alone, ``only_b`` by B alone), is either one right more often than chance (an exact
    binomial test of ``only_a`` out of ``only_a + only_b`` at one half)? 1.0 when no image tells them apart.
    (Statistics that need scipy import it when called: ``import harness`` stays light.)"""
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(only_a, discordant, 0.5, alternative="two-sided").pvalue)


# -------------------------------------------------------------------------------------------------
# Paired comparisons: two classifiers scored on the same test images
# -------------------------------------------------------------------------------------------------

#: Two-sided 95% normal quantile of the paired intervals.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class PairedDifference:
    """The accuracy difference of A over B measured on the same images, with its 95% interval and the
    two-sided p-value of no difference; ``method`` names how the interval and the p-value were computed."""

    difference: float  #: accuracy of A minus accuracy of B (a fraction: 0.02 is 2 points)
    low: float
    high: float
    p_value: float
    method: str


def tango_score(only_a: int, only_b: int, n: int, delta: float) -> float:
    """Tango's score statistic of the hypothesis that the paired accuracy difference is ``delta``, from the
    ``n`` pairs of which ``only_a`` were right by A alone and ``only_b`` by B alone (Tango 1998, the constrained
    maximum-likelihood estimate of the share of pairs right by B alone in closed form). At ``delta = 0`` it is
    McNemar's z, ``(only_a - only_b) / sqrt(only_a + only_b)``."""
    b, c = float(only_a), float(only_b)
    numerator = b - c - n * delta
    big_a = 2.0 * n
    big_b = -b - c + (2.0 * n - b + c) * delta
    big_c = -c * delta * (1.0 - delta)
    q21 = (math.sqrt(max(0.0, big_b * big_b - 4.0 * big_a * big_c)) - big_b) / (2.0 * big_a)
    variance = n * (2.0 * q21 + delta * (1.0 - delta))
    if variance <= 0.0:
        return 0.0 if numerator == 0.0 else math.copysign(math.inf, numerator)
    return numerator / math.sqrt(variance)


def tango_interval(only_a: int, only_b: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The 95% Tango score interval of the paired accuracy difference ``(only_a - only_b) / n``: every
    difference that the score test (:func:`tango_score`) does not reject at the two-sided level, found with
    scipy's ``brentq`` on each side of the estimate. NaN without pairs."""
    if n <= 0:
        return math.nan, math.nan
    from scipy.optimize import brentq

    estimate = (only_a - only_b) / n
    edge = 1.0 - 1e-12

    def side(target: float, end: float) -> float:
        def gap(delta: float) -> float:
            return tango_score(only_a, only_b, n, delta) - target

        if abs(end - estimate) < 1e-15 or gap(end) * gap(estimate) > 0:  # never rejected up to the bound
            return end
        return float(brentq(gap, min(end, estimate), max(end, estimate), xtol=1e-12))

    return max(-1.0, side(z, -edge)), min(1.0, side(-z, edge))


def paired_difference(only_a: int, only_b: int, n: int) -> PairedDifference:
    """A over B on ``n`` paired images (``only_a`` right by A alone, ``only_b`` by B alone): the accuracy
    difference, its 95% Tango score interval (:func:`tango_interval`) and McNemar's exact p (:func:`mcnemar`).

    Why Tango's interval: it inverts the score test whose value at no difference is McNemar's z, so it
    agrees with McNemar's test (the exact test, more conservative, may keep the hypothesis of no difference
    where the interval just excludes 0); it stays inside [-1, 1], is not degenerate when no image tells the
    two apart (a Wald interval is then [0, 0]), and it keeps its 95% coverage with few discordant images,
    where the Wald interval does not (Tango 1998; Fagerland, Lydersen and Laake 2014 recommend it)."""
    if n <= 0:
        return PairedDifference(math.nan, math.nan, math.nan, math.nan, "")
    low, high = tango_interval(only_a, only_b, n)
    return PairedDifference((only_a - only_b) / n, low, high, mcnemar(only_a, only_b),
                            "Tango score interval, McNemar exact p")


def pooled_paired_difference(per_image: Sequence[float]) -> PairedDifference:
    """The effect of a factor pooled over several paired comparisons (e.g. augmentation X against none for
    each model and seed) on the same test images: ``per_image`` holds, for each image, its difference in
    correctness (1, 0, -1) averaged over the pairs. The effect is their mean (the mean of the pairs'
    accuracy differences), its 95% interval and two-sided p come from the one-sample t-test of those
    per-image means (scipy's ``ttest_1samp``).

    Why by image: the images are the sampled units and each one enters every pair, so the pairs are not
    independent (an image hard for one model is often hard for the others); pooling the pairs' discordant
    counts as if they were independent images would overstate the evidence. Averaging within an image first
    and treating the images as independent keeps that correlation (a cluster-robust interval with the image
    as the cluster). It needs a few dozen images to trust the t distribution; a test set of a handful is
    warned about elsewhere. NaN when the images never differ (no spread to measure)."""
    values = [float(v) for v in per_image if v is not None and not math.isnan(v)]
    if not values:
        return PairedDifference(math.nan, math.nan, math.nan, math.nan, "")
    mean = sum(values) / len(values)
    method = f"t interval over {len(values)} images"
    if len(values) < 2 or all(v == values[0] for v in values):
        return PairedDifference(mean, mean, mean, 1.0 if mean == 0 else math.nan, method)
    from scipy.stats import ttest_1samp

    result = ttest_1samp(values, 0.0)
    interval = result.confidence_interval(0.95)
    return PairedDifference(mean, float(interval.low), float(interval.high), float(result.pvalue), method)


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


# -------------------------------------------------------------------------------------------------
# Time to a target accuracy (MLPerf Training's rules for a benchmark result)
# -------------------------------------------------------------------------------------------------

#: Runs below which none is dropped: with fewer than three, dropping the fastest and the slowest leaves nothing.
MIN_RUNS_TO_DROP = 3


@dataclass(frozen=True)
class TimeToTarget:
    """The time to a target of one combination over its runs (seeds), by MLPerf Training's rules: the
    fastest and the slowest run dropped and the rest averaged; a single run that never reached the target
    may be the slowest, dropped; two or more make the result invalid (``mean`` NaN, ``why`` says so)."""

    runs: int  #: runs counted (the combination's seeds that trained)
    reached: int  #: runs that reached the target
    kept: tuple[float, ...]  #: the times averaged, fastest first
    #: The times dropped, fastest first; ``None`` stands for a run that never reached the target.
    dropped: tuple[float | None, ...]
    mean: float  #: mean of ``kept``; NaN when there is no valid result
    std: float  #: sample standard deviation of ``kept`` (NaN with fewer than two)
    why: str = ""  #: why there is no valid result, empty when there is

    @property
    def valid(self) -> bool:
        return not math.isnan(self.mean)

    @property
    def not_reached(self) -> int:
        return self.runs - self.reached


def time_to_target(times: Sequence[float | None]) -> TimeToTarget:
    """The benchmark result of one combination from its runs' times to the target (``None`` or NaN: the
    run never reached it within its budget).

    With :data:`MIN_RUNS_TO_DROP` runs or more: sorted, a run that never reached the target counting as the
    slowest, the fastest and the slowest are dropped and the others averaged; with two or more runs that
    never reached it there is no result. With one or two runs nothing is dropped: the mean of them all, and
    no result if any run missed the target (none can be dropped)."""
    reached = sorted(float(t) for t in times if t is not None and not math.isnan(t))
    runs, missing = len(times), len(times) - len(reached)
    ordered: list[float | None] = [*reached, *([None] * missing)]
    if runs == 0:
        return TimeToTarget(0, 0, (), (), math.nan, math.nan, "no run")
    if runs < MIN_RUNS_TO_DROP:
        kept, dropped = ordered, []
    else:
        kept, dropped = ordered[1:-1], [ordered[0], ordered[-1]]
    if None in kept:
        allowed = ("one (as the slowest, dropped)" if runs >= MIN_RUNS_TO_DROP
                   else f"none (fewer than {MIN_RUNS_TO_DROP} runs: none is dropped)")
        why = f"{missing} of {runs} runs did not reach the target; the protocol allows {allowed}"
        return TimeToTarget(runs, len(reached), (), tuple(dropped), math.nan, math.nan, why)
    values = [float(t) for t in kept if t is not None]
    mean, std, _, _ = mean_interval(values)
    return TimeToTarget(runs, len(reached), tuple(values), tuple(dropped), mean, std)


# -------------------------------------------------------------------------------------------------
# Normalised scores across datasets (as the AutoML benchmark ranks frameworks)
# -------------------------------------------------------------------------------------------------


def normalised_score(value: float, baseline: float, reference: float) -> float:
    """``value`` on a scale where the ``baseline`` scores 0 and the ``reference`` scores 1 (above 1: better
    than the reference; below 0: worse than the baseline). NaN when the reference does not differ from the
    baseline (no scale) or a value is missing."""
    if any(math.isnan(v) for v in (value, baseline, reference)) or math.isclose(reference, baseline, abs_tol=1e-12):
        return math.nan
    return (value - baseline) / (reference - baseline)


@dataclass(frozen=True)
class CrossDatasetScore:
    """One combination's normalised scores across datasets, and their mean and spread."""

    scores: dict[str, float]  #: by dataset; NaN where the dataset has no scale (see ``unscaled``)
    mean: float
    std: float  #: sample standard deviation across datasets (NaN with one)
    low: float
    high: float
    imputed: tuple[str, ...]  #: datasets where the combination had no accuracy, scored 0 (the baseline)


@dataclass(frozen=True)
class CrossDatasetBoard:
    """Every combination's :class:`CrossDatasetScore`, and what each dataset was scaled by."""

    scores: dict[str, CrossDatasetScore]  #: by combination
    references: dict[str, tuple[str, float]]  #: by dataset: the reference combination and its accuracy
    unscaled: dict[str, str]  #: datasets left out of every mean, and why


def cross_dataset_scores(accuracy: Mapping[str, Mapping[str, float]], baselines: Mapping[str, float],
                         reference: str | None = None) -> CrossDatasetBoard:
    """Normalised scores of every combination on every dataset (``accuracy[dataset][combination]``; NaN or
    absent: no result there), 0 = the dataset's label-frequency baseline (``baselines``), 1 = the
    ``reference`` combination's accuracy on that dataset, or, without one, the best accuracy of the run on
    it; averaged over the datasets with their spread, as the AutoML benchmark does.

    A combination without an accuracy on a dataset (an error, a skip) is scored 0 there, as the AutoML
    benchmark imputes a failed task with the constant predictor, and the dataset is listed in ``imputed``. A
    dataset whose reference has no accuracy, or one no better than the baseline (no scale to measure on),
    is left out of every mean (``unscaled``)."""
    combinations = sorted({c for by in accuracy.values() for c in by})
    references: dict[str, tuple[str, float]] = {}
    unscaled: dict[str, str] = {}
    for dataset in sorted(accuracy):
        found = {c: float(a) for c, a in accuracy[dataset].items() if a is not None and not math.isnan(a)}
        baseline = float(baselines.get(dataset, math.nan))
        if reference is not None:
            if reference not in found:
                unscaled[dataset] = f"the reference {reference} has no test accuracy on it"
                continue
            name = reference
        elif found:
            name = max(sorted(found), key=lambda c: found[c])
        else:
            unscaled[dataset] = "no combination has a test accuracy on it"
            continue
        if math.isnan(baseline) or found[name] <= baseline:
            unscaled[dataset] = (f"the reference {name} ({found[name]:.3f}) does not beat the baseline "
                                 f"({baseline:.3f}): no scale")
            continue
        references[dataset] = (name, found[name])
    scores: dict[str, CrossDatasetScore] = {}
    for combination in combinations:
        by_dataset: dict[str, float] = {}
        imputed = []
        for dataset in sorted(accuracy):
            if dataset not in references:
                by_dataset[dataset] = math.nan
                continue
            value = float(accuracy[dataset].get(combination, math.nan))
            if math.isnan(value):
                imputed.append(dataset)
                value = float(baselines[dataset])
            by_dataset[dataset] = normalised_score(value, float(baselines[dataset]), references[dataset][1])
        values = [v for v in by_dataset.values() if not math.isnan(v)]
        mean, std, _, _ = mean_interval(values)
        scores[combination] = CrossDatasetScore(by_dataset, mean, std, min(values, default=math.nan),
                                                max(values, default=math.nan), tuple(imputed))
    return CrossDatasetBoard(scores, references, unscaled)
