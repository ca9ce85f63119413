"""The combinations over their seeds, as rliable reports them (Agarwal et al., NeurIPS 2021): per dataset,
each combination's interquartile mean (IQM) of the seeds' test accuracies with its stratified bootstrap 95%
interval (``iqm-DATASET``), and the probability that the best of them (by IQM) scores higher than each other
combination on a new seed (``improvement-DATASET``). The numbers are :mod:`harness.aggregate`'s.

Both need :data:`MIN_SEEDS` seeds or more per combination (``--repeats 3``): with fewer, an interquartile
mean is a plain mean and a bootstrap over two seeds says little. A combination with fewer trained seeds is
left out of its dataset's tables, and :func:`notes` says so."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from harness.report import records as rec

#: Seeds a combination needs for its IQM and probability of improvement.
MIN_SEEDS = 3
#: Name prefixes of the tables, followed by the dataset, or by :data:`ACROSS` for the tables across datasets.
IQM, IMPROVEMENT, ACROSS = "iqm-", "improvement-", "across_datasets"

IQM_CAPTION = ("IQM: the interquartile mean of the seeds' test accuracies (the mean of the middle half; "
               "with 3 seeds it is their mean), best first; 95% CI: its stratified bootstrap percentile "
               "interval, the seeds resampled (Agarwal et al., NeurIPS 2021). It says where the combination "
               "lands on another seed, not how it would do on other test images.")
ACROSS_IQM_CAPTION = ("Across datasets: the IQM of every seed's normalised score (0: the dataset's label-frequency "
                      "baseline, 1: the reference of the leaderboard across datasets), best first; 95% CI: the "
                      "stratified bootstrap, each dataset's seeds resampled within it (Agarwal et al., NeurIPS "
                      "2021). Only the combinations with 3 seeds or more on every dataset that has a scale.")
IMPROVEMENT_CAPTION = ("The probability that {best} (the best IQM) scores higher than each other combination "
                       "on a seed of each: the share of seed pairs it wins, a tie counting one half (the "
                       "Mann-Whitney U statistic over n x m). 0.5: no tendency either way; its 95% CI comes "
                       "from resampling each combination's seeds. An interval that includes 0.5 cannot tell "
                       "the two apart over these seeds.")

#: A combination on a dataset: augmentation, model, backend.
Key = tuple[str, str, str]


def seed_scores(records: list[dict[str, Any]]) -> dict[str, dict[Key, list[float]]]:
    """Per dataset, each combination's test accuracy on each trained seed (the last record of each task;
    errors and skips have none), combinations in the order of their names."""
    from harness.report.tables import seed_row

    found: dict[str, dict[Key, list[float]]] = defaultdict(dict)
    for record in rec.latest_per_task(records):
        if record.get("status") not in ("passed", "failed"):
            continue
        score = seed_row(record)["test_accuracy"]
        if score == score:  # not NaN
            key = (str(record.get("augmentation")), str(record.get("model")), str(record.get("backend")))
            found[str(record.get("dataset"))].setdefault(key, []).append(float(score))
    return {dataset: dict(sorted(found[dataset].items())) for dataset in sorted(found)}


def _label(key: Key, several: bool) -> str:
    return rec.combination_label(key[0], key[1], key[2] if several else None)


def _enough(scores: dict[Key, list[float]]) -> dict[Key, list[float]]:
    return {key: values for key, values in scores.items() if len(values) >= MIN_SEEDS}


def iqm_table(scores: dict[Key, list[float]], several: bool = False) -> Any:
    """``iqm-DATASET``: each combination with :data:`MIN_SEEDS` seeds or more, best IQM first (ties: the
    higher mean, then the name): its seeds, IQM, the interval's bounds and the plain mean."""
    import pandas as pd

    from harness import aggregate

    rows = []
    for key, values in _enough(scores).items():
        estimate = aggregate.iqm_interval([values])
        rows.append({"combination": _label(key, several), "seeds": len(values), "iqm": estimate.value,
                     "ci_low": estimate.low, "ci_high": estimate.high, "mean": sum(values) / len(values)})
    frame = pd.DataFrame(rows, columns=["combination", "seeds", "iqm", "ci_low", "ci_high", "mean"])
    frame = frame.sort_values(["iqm", "mean", "combination"], ascending=[False, False, True], kind="stable")
    frame = frame.set_index(["combination", "seeds"])
    frame.attrs.update(values="accuracy", caption=IQM_CAPTION)
    return frame


def best_of(scores: dict[Key, list[float]]) -> Key | None:
    """The combination with the highest IQM (ties: the higher mean, then the name), among those with
    enough seeds."""
    from harness import aggregate

    enough = _enough(scores)
    if not enough:
        return None
    return min(enough, key=lambda k: (-aggregate.iqm(enough[k]), -sum(enough[k]) / len(enough[k]), k))


def improvement_table(scores: dict[Key, list[float]], several: bool = False) -> Any:
    """``improvement-DATASET``: the probability of improvement of the best combination (:func:`best_of`)
    over each other one with enough seeds, with its interval; ``None`` with fewer than two such
    combinations."""
    import pandas as pd

    from harness import aggregate

    enough, best = _enough(scores), best_of(scores)
    if best is None or len(enough) < 2:
        return None
    rows = []
    for key, values in enough.items():
        if key == best:
            continue
        estimate = aggregate.improvement_interval([enough[best]], [values])
        rows.append({"best": _label(best, several), "combination": _label(key, several), "seeds": len(values),
                     "probability_of_improvement": estimate.value, "ci_low": estimate.low,
                     "ci_high": estimate.high})
    frame = pd.DataFrame(rows).sort_values(["probability_of_improvement", "combination"], kind="stable")
    frame = frame.set_index(["best", "combination", "seeds"])
    # Shown with two decimals, as a probability reads best.
    frame.attrs.update(values="score", caption=IMPROVEMENT_CAPTION.format(best=_label(best, several)))
    return frame


def normalised(records: list[dict[str, Any]], reference: str | None = None) -> dict[Key, list[list[float]]]:
    """Each combination's seeds on every dataset that has a scale (two or more), as normalised scores: 0
    the dataset's label-frequency baseline, 1 its reference (the leaderboard across datasets'
    :func:`harness.report.across_datasets.board`), one list per dataset in the order of their names; only
    the combinations with :data:`MIN_SEEDS` seeds or more on each. Empty with fewer than two such datasets."""
    from harness.report import across_datasets

    scored, found = across_datasets.board(records, reference), seed_scores(records)
    datasets = sorted(d for d in scored.references if d in found) if scored is not None else []
    if scored is None or len(datasets) < 2:
        return {}
    keys = sorted(set.intersection(*(set(_enough(found[d])) for d in datasets)))
    scales = {d: (rec.baseline(records, d), scored.references[d][1]) for d in datasets}
    return {key: [[(s - scales[d][0]) / (scales[d][1] - scales[d][0]) for s in found[d][key]] for d in datasets]
            for key in keys}


def across_tables(records: list[dict[str, Any]], reference: str | None = None) -> dict[str, Any]:
    """With two datasets or more: ``iqm-across_datasets``, each combination's IQM of its seeds' normalised
    scores over every dataset, the seeds resampled within each dataset (rliable's stratified bootstrap), and
    ``improvement-across_datasets``, the best's probability of improvement averaged over the datasets."""
    import pandas as pd

    from harness import aggregate

    scores, several = normalised(records, reference), rec.several_backends(records)
    if not scores:
        return {}
    estimates = {key: aggregate.iqm_interval(strata) for key, strata in scores.items()}
    means = {key: sum(map(sum, strata)) / sum(map(len, strata)) for key, strata in scores.items()}
    rows = [{"combination": _label(key, several), "seeds": sum(map(len, scores[key])), "datasets": len(scores[key]),
             "iqm": estimates[key].value, "ci_low": estimates[key].low, "ci_high": estimates[key].high,
             "mean": means[key]} for key in scores]
    frame = pd.DataFrame(rows).sort_values(["iqm", "mean", "combination"], ascending=[False, False, True],
                                           kind="stable")
    frame = frame.set_index(["combination", "seeds", "datasets"])
    frame.attrs.update(values="score", caption=ACROSS_IQM_CAPTION)
    out = {f"{IQM}{ACROSS}": frame}
    best = min(scores, key=lambda k: (-estimates[k].value, -means[k], _label(k, several)))
    rows = [{"best": _label(best, several), "combination": _label(key, several), "datasets": len(strata),
             **_improvement(scores[best], strata)} for key, strata in scores.items() if key != best]
    if rows:
        improvement = pd.DataFrame(rows).sort_values(["probability_of_improvement", "combination"], kind="stable")
        improvement = improvement.set_index(["best", "combination", "datasets"])
        improvement.attrs.update(values="score", caption=IMPROVEMENT_CAPTION.format(best=_label(best, several))
                                 + " Averaged over the datasets, each weighing the same.")
        out[f"{IMPROVEMENT}{ACROSS}"] = improvement
    return out


def _improvement(x: list[list[float]], y: list[list[float]]) -> dict[str, float]:
    from harness import aggregate

    estimate = aggregate.improvement_interval(x, y)
    return {"probability_of_improvement": estimate.value, "ci_low": estimate.low, "ci_high": estimate.high}


def tables(records: list[dict[str, Any]], reference: str | None = None) -> dict[str, Any]:
    """Per dataset with a combination of :data:`MIN_SEEDS` seeds or more, ``iqm-DATASET`` and (two such
    combinations or more) ``improvement-DATASET``; with two datasets or more, the same across them
    (:func:`across_tables`; ``reference`` as ``--reference``)."""
    several = rec.several_backends(records)
    out: dict[str, Any] = {}
    for dataset, scores in seed_scores(records).items():
        if not _enough(scores):
            continue
        out[f"{IQM}{dataset}"] = iqm_table(scores, several)
        improvement = improvement_table(scores, several)
        if improvement is not None:
            out[f"{IMPROVEMENT}{dataset}"] = improvement
    return {**out, **across_tables(records, reference)}


def notes(records: list[dict[str, Any]]) -> list[str]:
    """What the seeds' tables leave out and why: nothing for a run of one seed per combination (the usual
    run, for which these statistics are not meant); a line when the run has two seeds at most, and one per
    dataset naming its combinations with too few seeds beside others with enough."""
    several = rec.several_backends(records)
    found = seed_scores(records)
    most = max((len(v) for scores in found.values() for v in scores.values()), default=0)
    if most < 2:
        return []
    if most < MIN_SEEDS:
        return [f"The interquartile mean and the probability of improvement need {MIN_SEEDS} or more seeds per "
                f"combination (--repeats {MIN_SEEDS}); this run has at most {most}."]
    out = []
    for dataset, scores in found.items():
        few = [f"{_label(k, several)} ({len(v)} seed{'s' * (len(v) != 1)})" for k, v in scores.items()
               if len(v) < MIN_SEEDS]
        if few:
            out.append(f"{dataset}: left out, fewer than {MIN_SEEDS} trained seeds: {', '.join(few)}")
    return out
