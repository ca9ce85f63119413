"""The report over seeds: each combination's interquartile mean with its interval (``iqm-DATASET``) and the
probability of improvement of the best over the others (``improvement-DATASET``), for three seeds or more."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.testing import FastRuns
from tests.report.fakes import make_record, write_run

#: 2 models x 2 augmentations x 3 seeds of the fast trainer: fast_pass scores 0.80 to 0.95, fast_fail 0.5.
REPEATS_3 = ("--dataset", "synthetic", "--model", "fast_pass", "--model", "fast_fail", "--augmentation", "none",
             "--augmentation", "flip", "--repeats", "3")


def write(tmp_path: Path, records: list[dict[str, Any]]) -> Any:
    from harness.pluginmanager import load_plugins
    from harness.report.context import Report
    from harness.report.write import write_report
    from harness.store import RunStore

    run_dir = write_run(tmp_path / "run", records)
    store = RunStore(run_dir)
    return write_report(Report(run_dir=run_dir, records=store.records(), metadata=store.metadata()),
                        load_plugins(autoload=False))


def seeds_of(augmentation: str, scores: list[float], dataset: str = "pets") -> list[dict[str, Any]]:
    return [make_record(augmentation, "cnn", dataset=dataset, seed=s, test=t, n_test=100)
            for s, t in enumerate(scores, start=1)]


def pairs_won(x: list[float], y: list[float]) -> float:
    """P(X > Y) counted pair by pair, a tie one half: the definition, without scipy."""
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in x for b in y) / (len(x) * len(y))


def test_a_fast_run_of_three_seeds_has_the_iqm_and_improvement_tables(harness_fast_run: FastRuns) -> None:
    result = harness_fast_run(*REPEATS_3)
    tables = result.run_dir / "tables"
    per_seed = result.results
    iqm = pd.read_csv(tables / "iqm-synthetic.csv")
    assert list(iqm.columns) == ["combination", "seeds", "iqm", "ci_low", "ci_high", "mean"]
    assert sorted(iqm["combination"]) == ["flip / fast_fail", "flip / fast_pass", "none / fast_fail",
                                          "none / fast_pass"]
    assert (iqm["seeds"] == 3).all()
    scores = {f"{a} / {m}": sorted(g["test_accuracy"]) for (a, m), g in per_seed.groupby(["augmentation", "model"])}
    for row in iqm.itertuples():
        assert math.isclose(row.iqm, sum(scores[row.combination]) / 3, abs_tol=1e-9)  # 3 seeds: nothing trimmed
        assert row.ci_low <= row.iqm <= row.ci_high
    assert list(iqm["iqm"]) == sorted(iqm["iqm"], reverse=True)
    best = iqm["combination"][0]
    assert best.endswith("fast_pass")

    improvement = pd.read_csv(tables / "improvement-synthetic.csv")
    assert list(improvement.columns) == ["best", "combination", "seeds", "probability_of_improvement", "ci_low",
                                         "ci_high"]
    assert set(improvement["best"]) == {best}
    assert sorted(improvement["combination"]) == sorted(set(scores) - {best})
    for row in improvement.itertuples():
        assert math.isclose(row.probability_of_improvement, pairs_won(scores[best], scores[row.combination]))
        assert row.ci_low <= row.probability_of_improvement <= row.ci_high
    fails = improvement[improvement["combination"].str.endswith("fast_fail")]
    assert (fails["probability_of_improvement"] == 1.0).all()

    page = (result.run_dir / "report.html").read_text()
    assert page.index('id="leaderboards"') < page.index('id="seeds"') < page.index('id="results"')
    assert 'id="table-iqm-synthetic"' in page and 'id="table-improvement-synthetic"' in page


def test_four_seeds_by_hand_and_a_combination_with_too_few_left_out(tmp_path: Path) -> None:
    records = seeds_of("none", [0.70, 0.95, 0.82, 0.80]) + seeds_of("flip", [0.60, 0.78, 0.90, 0.81])
    records += seeds_of("rotate", [0.99, 0.98])
    written = write(tmp_path, records)
    iqm = pd.read_csv(written.tables["iqm-pets"]).set_index("combination")
    assert list(iqm.index) == ["none / cnn", "flip / cnn"]  # rotate has 2 seeds: left out
    assert math.isclose(iqm.loc["none / cnn", "iqm"], (0.80 + 0.82) / 2)
    assert math.isclose(iqm.loc["flip / cnn", "iqm"], (0.78 + 0.81) / 2)
    improvement = pd.read_csv(written.tables["improvement-pets"])
    # 0.70 beats 1 of flip's seeds, 0.80 beats 2, 0.82 beats 3, 0.95 all 4: 10 of 16 pairs
    assert improvement[["best", "combination"]].values.tolist() == [["none / cnn", "flip / cnn"]]
    assert math.isclose(improvement["probability_of_improvement"][0], 10 / 16)
    page = written.html.read_text()
    assert "pets: left out, fewer than 3 trained seeds: rotate / cnn (2 seeds)" in page


@pytest.mark.parametrize(("seeds", "says"), [(1, None), (2, "this run has at most 2")])
def test_fewer_than_three_seeds_give_no_tables(tmp_path: Path, seeds: int, says: str | None) -> None:
    records = seeds_of("none", [0.7, 0.8][:seeds]) + seeds_of("flip", [0.6, 0.9][:seeds])
    written = write(tmp_path, records)
    assert not [name for name in written.tables if name.startswith(("iqm", "improvement"))]
    page = written.html.read_text()
    if says is None:
        assert 'id="seeds"' not in page  # the usual single-seed run: nothing, not even a note
    else:
        assert 'id="seeds"' in page and says in page
    assert not [note for note in written.notes if "seed" in note]  # the section says it, not the terminal


def test_errors_and_skips_do_not_count_as_seeds(tmp_path: Path) -> None:
    records = seeds_of("none", [0.7, 0.8, 0.75]) + seeds_of("flip", [0.6, 0.9])
    records.append({**make_record("flip", "cnn", seed=3, error="RuntimeError: out of memory")})
    written = write(tmp_path, records)
    iqm = pd.read_csv(written.tables["iqm-pets"])
    assert iqm["combination"].tolist() == ["none / cnn"]
    assert "improvement-pets" not in written.tables  # one combination with enough seeds: nothing to compare


def test_a_run_on_two_backends_names_the_backend(tmp_path: Path) -> None:
    records = []
    for backend, scores in (("jax", [0.9, 0.92, 0.91]), ("tensorflow", [0.7, 0.72, 0.71])):
        for record in seeds_of("none", scores):
            records.append({**record, "backend": backend})
    written = write(tmp_path, records)
    iqm = pd.read_csv(written.tables["iqm-pets"])
    assert iqm["combination"].tolist() == ["none / cnn / jax", "none / cnn / tensorflow"]
    improvement = pd.read_csv(written.tables["improvement-pets"])
    assert improvement[["best", "combination", "probability_of_improvement"]].values.tolist() == [
        ["none / cnn / jax", "none / cnn / tensorflow", 1.0]]


def test_across_datasets_the_normalised_scores_are_resampled_within_each_dataset(tmp_path: Path) -> None:
    # pets (baseline 0.6): none pools 0.8, the reference (scale 0.2); flip 0.7
    # cars (baseline 0.6): flip pools 0.7, the reference (scale 0.1); none 0.64
    records = seeds_of("none", [0.7, 0.8, 0.9]) + seeds_of("flip", [0.65, 0.7, 0.75])
    records += seeds_of("none", [0.62, 0.64, 0.66], "cars") + seeds_of("flip", [0.7, 0.7, 0.7], "cars")
    written = write(tmp_path, records)
    iqm = pd.read_csv(written.tables["iqm-across_datasets"]).set_index("combination")
    # none: 0.5, 1, 1.5 on pets and 0.2, 0.4, 0.6 on cars; trimmed to 0.4, 0.5, 0.6, 1
    # flip: 0.25, 0.5, 0.75 on pets and 1, 1, 1 on cars; trimmed to 0.5, 0.75, 1, 1
    assert list(iqm.index) == ["flip / cnn", "none / cnn"]
    assert math.isclose(iqm.loc["none / cnn", "iqm"], 0.625) and math.isclose(iqm.loc["flip / cnn", "iqm"], 0.8125)
    assert (iqm["seeds"] == 6).all() and (iqm["datasets"] == 2).all()
    improvement = pd.read_csv(written.tables["improvement-across_datasets"])
    # flip over none: 1.5 of 9 pairs on pets (a tie at 0.7, a win of 0.75 over 0.7), 9 of 9 on cars
    assert improvement[["best", "combination"]].values.tolist() == [["flip / cnn", "none / cnn"]]
    assert math.isclose(improvement["probability_of_improvement"][0], (1.5 / 9 + 1) / 2)
    page = written.html.read_text()
    assert page.index('id="table-iqm-across_datasets"') < page.index('id="table-iqm-cars"') \
        < page.index('id="table-iqm-pets"')
    assert "Interquartile mean: across datasets (normalised score)" in page
