"""``harness compare`` image by image: two runs whose per-image predictions pair (the same test images) are
compared with McNemar's exact test per combination, Holm-adjusted; otherwise the unpaired comparison, saying
why. Real runs of the fast trainer (its predictions: 200 images, ids "0".."199", which ones are wrong set by
the task's configuration) and run directories written with the store API."""

from __future__ import annotations

import gzip
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from scipy.stats import binomtest

from harness.cli import main
from harness.report.compare import PAIRED, UNPAIRED, Pairs, compare_frame, paired_interval
from harness.report.significance import newcombe_interval
from harness.store import RunStore

from .fakes import make_record

#: Two models, two seeds: four tasks per run. Runs A and B differ in their budget (2 and 3 epochs), so that
#: their tasks' configurations, and so the images each gets wrong, differ.
GRID = ("--dataset", "synthetic", "--augmentation", "none", "--model", "fast_pass", "--model", "fast_fail",
        "--repeats", "2", "-p", "no:reports")


@pytest.fixture(autouse=True)
def _builtin_plugins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def runs(harness_fast_run, tmp_path: Path) -> tuple[Path, Path]:
    """Copies of two fast runs on the same test images (the tests may change them)."""
    a = harness_fast_run(*GRID, "--epochs", "2").run_dir
    b = harness_fast_run(*GRID, "--epochs", "3").run_dir
    return Path(shutil.copytree(a, tmp_path / "a")), Path(shutil.copytree(b, tmp_path / "b"))


def compare(tmp_path: Path, *args: object) -> int:
    return main(["compare", *map(str, args)], cwd=tmp_path)


def frame_of(a: Path, b: Path) -> Any:
    return compare_frame(RunStore(a).records(), RunStore(b).records(), a, b)


def discordant(a: Path, b: Path, combination: str) -> tuple[int, int]:
    """Images (and seeds) only A and only B got right, counted here from the prediction files themselves."""
    only_a = only_b = 0
    by_seed_b = {r["seed"]: r for r in RunStore(b).records() if r["id"] == combination}
    for record in RunStore(a).records():
        if record["id"] != combination:
            continue
        table_a = pd.read_csv(a / record["predictions"], dtype={"id": str})
        table_b = pd.read_csv(b / by_seed_b[record["seed"]]["predictions"], dtype={"id": str})
        both = table_a.merge(table_b, on="id", suffixes=("_a", "_b"))
        assert len(both) == len(table_a) == 200 and (both["label_a"] == both["label_b"]).all()
        right_a, right_b = both["predicted_a"] == both["label_a"], both["predicted_b"] == both["label_b"]
        only_a += int((right_a & ~right_b).sum())
        only_b += int((~right_a & right_b).sum())
    return only_a, only_b


def test_two_runs_on_the_same_images_are_compared_image_by_image(runs) -> None:
    a, b = runs
    frame = frame_of(a, b)
    assert list(frame["id"]) == ["synthetic-none-fast_pass", "synthetic-none-fast_fail"]
    assert (frame["test"] == PAIRED).all() and frame["unpaired_because"].isna().all()
    for row in frame.itertuples(index=False):
        only_a, only_b = discordant(a, b, row.id)
        assert (row.only_a, row.only_b) == (only_a, only_b) and only_a + only_b > 0
        assert math.isclose(row.p_value, binomtest(only_a, only_a + only_b, 0.5).pvalue, rel_tol=1e-12)
        assert row.pairs == 400 and row.n_test_a == row.n_test_b == 200  # 200 images x 2 seeds
        assert row.seed == "1,2" and row.pooled
        assert math.isclose(row.change_points, 100.0 * (only_b - only_a) / 400)
        # the paired answers' accuracies are the mean of the seeds' recorded accuracies
        for run, accuracy in ((a, row.test_accuracy_a), (b, row.test_accuracy_b)):
            recorded = [r["test_accuracy"] for r in RunStore(run).records() if r["id"] == row.id]
            assert math.isclose(accuracy, sum(recorded) / len(recorded))
        assert row.ci_low_points <= row.change_points <= row.ci_high_points
    # Holm across the two paired combinations
    low, high = sorted(frame["p_value"])
    expected = {low: min(1.0, 2 * low), high: max(min(1.0, 2 * low), high)}
    assert [round(p, 12) for p in frame["p_holm"]] == [round(expected[p], 12) for p in frame["p_value"]]
    assert list(frame["significant"]) == [p < 0.05 for p in frame["p_holm"]]


def test_the_command_shows_the_paired_test_per_row(runs, tmp_path, capsys) -> None:
    a, b = runs
    assert compare(tmp_path, a, b, "--fail-on-drop", 50) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[2].split() == ["combination", "seed", "A", "B", "change", "95%", "CI", "(points)", "only", "A/B",
                                "p", "p", "(Holm)", "test", "verdict"]
    frame = frame_of(a, b)
    for row in frame.itertuples(index=False):
        [line] = [x for x in lines if x.startswith(row.id)]
        assert f" {row.only_a}/{row.only_b} " in line and " McNemar " in line
    assert ("test: 2 combinations paired image by image (the same test images in both runs): McNemar's exact test "
            "on the images only one run got right") in out
    assert "Holm-adjusted across the 2" in out and "unpaired" not in out
    assert "2 compared:" in out and "(McNemar's exact test, Holm-adjusted, p<0.05)" in out
    assert "OK: no combination got worse by more than 50 points" in out
    # the same rows as CSV, with the test each used
    assert compare(tmp_path, a, b, "--csv", "out/compare.csv") == 0
    written = pd.read_csv(tmp_path / "out" / "compare.csv")
    assert list(written["test"]) == ["mcnemar", "mcnemar"]
    assert list(written["only_a"]) == list(frame["only_a"]) and list(written["p_holm"]) == list(frame["p_holm"])
    capsys.readouterr()
    (tmp_path / "file").write_text("")
    assert compare(tmp_path, a, b, "--csv", "file/compare.csv") == 4
    assert f"cannot write {tmp_path / 'file' / 'compare.csv'}" in capsys.readouterr().err


def _rewrite_predictions(run: Path, change: Any) -> None:
    """Every prediction file of ``run`` replaced by ``change(table)``."""
    for path in (run / "predictions").glob("*.csv.gz"):
        table = change(pd.read_csv(path, dtype={"id": str}))
        with gzip.open(path, "wt") as handle:
            table.to_csv(handle, index=False)


def test_other_test_images_fall_back_to_the_unpaired_comparison(runs, tmp_path, capsys) -> None:
    a, b = runs
    _rewrite_predictions(b, lambda t: t.assign(id=(t["id"].astype(int) + 100).astype(str)))
    frame = frame_of(a, b)
    assert (frame["test"] == UNPAIRED).all() and frame["only_a"].isna().all()
    assert set(frame["unpaired_because"]) == {"test images differ: 200 image ids in A, 200 in B, 100 in both"}
    assert list(frame["seed"]) == [1, 2, 1, 2]  # today's comparison: seed by seed
    assert compare(tmp_path, a, b, "--csv", "compare.csv") == 0
    written = pd.read_csv(tmp_path / "compare.csv")
    assert set(written["test"]) == {"z-test"} and set(written["unpaired_because"]) == set(frame["unpaired_because"])
    out = capsys.readouterr().out
    assert "test: matched by combination and seed; two-proportion z-test" in out
    assert "unpaired (2 combinations): test images differ: 200 image ids in A, 200 in B, 100 in both" in out
    assert " z-test " in out and "McNemar" not in out
    # the same ids with other labels are other images too
    _rewrite_predictions(b, lambda t: t.assign(id=(t["id"].astype(int) - 100).astype(str), label=1 - t["label"]))
    assert set(frame_of(a, b)["unpaired_because"]) == {"test images differ: the same 200 image ids, 200 with "
                                                       "another label"}


def test_other_splits_are_other_images_whatever_their_ids(runs) -> None:
    """A generated dataset's ids are indices: two splits share them (and may share the labels) but not the
    images. Records whose split digests differ are never paired."""
    a, b = runs
    path = b / "records.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    digest = records[0]["dataset_info"]["split_digest"]
    for record in records:
        record["dataset_info"]["split_digest"] = "other"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    frame = frame_of(a, b)
    assert (frame["test"] == UNPAIRED).all()
    assert set(frame["unpaired_because"]) == {f"test images differ: other splits (digest {digest} in A, other in B)"}


def _forget_predictions(run: Path) -> None:
    """``run`` as a run written before harness kept predictions: no file, no path in its records."""
    records = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    (run / "records.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "predictions"}) + "\n"
                                               for r in records))
    shutil.rmtree(run / "predictions")


def test_a_run_without_predictions_falls_back_and_says_so(runs, tmp_path, capsys) -> None:
    a, b = runs
    _forget_predictions(a)
    frame = frame_of(a, b)
    assert (frame["test"] == UNPAIRED).all()
    reason = "run A has no per-image predictions (written before harness kept them, or by a trainer that returns none)"
    assert set(frame["unpaired_because"]) == {reason}
    assert compare(tmp_path, a, b) == 0
    assert f"unpaired (2 combinations): {reason}" in capsys.readouterr().out
    _forget_predictions(b)
    assert set(frame_of(a, b)["unpaired_because"]) == {"neither run has per-image predictions (written before "
                                                       "harness kept them, or by a trainer that returns none)"}


def test_a_missing_prediction_file_is_named(runs, run_dir_factory) -> None:
    a, b = runs
    record = next(r for r in RunStore(b).records() if r["id"] == "synthetic-none-fast_fail")
    (b / record["predictions"]).unlink()
    frame = frame_of(a, b)
    assert list(frame["test"]) == [PAIRED, UNPAIRED, UNPAIRED]
    assert frame["unpaired_because"].iloc[1] == f"run B's {record['predictions']} is missing"
    for path in (a / "predictions").glob("*.csv.gz"):
        path.write_bytes(b"not gzip")
    assert frame_of(a, b)["unpaired_because"].iloc[0].startswith("run A's predictions/")
    assert "cannot be read (BadGzipFile" in frame_of(a, b)["unpaired_because"].iloc[0]
    # predictions the store could not write as a table: the record says why
    broken = {**with_predictions(set(range(70))), "predictions": {"id": ["0"], "label": [], "predicted": [],
                                                                  "confidence": []}}
    c, d = run_dir_factory([broken]), run_dir_factory([with_predictions(set(range(70)))])
    assert frame_of(c, d)["unpaired_because"].iloc[0].startswith(
        "run A's predictions of seed 1 were not kept (predictions' columns differ in length")


# -------------------------------------------------------------------------------------------------
# Hand-made predictions: a case computed by hand
# -------------------------------------------------------------------------------------------------


def predicted(right: set[int], n: int = 100) -> dict[str, list[Any]]:
    """Predictions on ``n`` images (labels alternating 0/1), right on the images ``right``."""
    labels = [i % 2 for i in range(n)]
    return {"id": [f"img/{i}.png" for i in range(n)], "label": labels,
            "predicted": [y if i in right else 1 - y for i, y in enumerate(labels)], "confidence": [0.9] * n}


def with_predictions(right: set[int], seed: int = 1, augmentation: str = "none", **kwargs: Any) -> dict[str, Any]:
    return {**make_record(augmentation, seed=seed, test=len(right) / 100, n_test=100, **kwargs),
            "predictions": predicted(right)}


def test_a_hand_computed_case(run_dir_factory, tmp_path, capsys) -> None:
    """A right on images 0-69, B on 0-59 and 70-94: 60 both, 10 only A, 25 only B, 5 neither. McNemar's p is
    the exact binomial test of 10 out of 35 at one half (0.0167), the change B's 25 minus A's 10 images."""
    a = run_dir_factory([with_predictions(set(range(70)))], "a")
    b = run_dir_factory([with_predictions(set(range(60)) | set(range(70, 95)))], "b")
    [row] = frame_of(a, b).itertuples(index=False)
    assert (row.test, row.only_a, row.only_b, row.pairs, row.seed, row.pooled) == (PAIRED, 10, 25, 100, 1, False)
    p = binomtest(10, 35, 0.5).pvalue
    assert math.isclose(row.p_value, p) and math.isclose(row.p_holm, p) and p < 0.05
    assert math.isclose(row.change_points, 25.0 - 10.0) and row.verdict == "better"
    low, high = paired_interval(Pairs(seeds=[(1, 1)], both=60, only_a=10, only_b=25, neither=5))
    assert (row.ci_low_points, row.ci_high_points) == (100 * low, 100 * high) and 0 < low < 0.15 < high
    assert compare(tmp_path, a, b) == 0
    out = capsys.readouterr().out
    assert "pets-none-cnn     1  0.700  0.850   +15.0" in out and " 10/25 " in out and " better" in out


def test_the_paired_interval() -> None:
    """The report's paired interval (Tango's, B minus A); runs agreeing on most images get a narrower
    interval than the unpaired one, and no discordant image at all gives a zero-centred interval."""
    from harness import stats

    low, high = paired_interval(Pairs(seeds=[(1, 1)], both=36, only_a=12, only_b=2, neither=0))
    reference = stats.tango_interval(12, 2, 50)
    assert math.isclose(low, -reference[1], abs_tol=1e-9) and math.isclose(high, -reference[0], abs_tol=1e-9)
    assert high < 0
    agreeing = Pairs(seeds=[(1, 1)], both=150, only_a=5, only_b=15, neither=30)
    low, high = paired_interval(agreeing)
    unpaired = newcombe_interval(155 / 200, 200, 165 / 200, 200)
    assert unpaired[0] < low < 0.05 < high < unpaired[1]
    low, high = paired_interval(Pairs(seeds=[(1, 1)], both=80, neither=20))
    assert low < 0 < high and math.isclose(low, -high, abs_tol=1e-9)
    assert all(math.isnan(x) for x in paired_interval(Pairs(seeds=[])))


def test_seeds_pair_where_both_runs_trained_them(run_dir_factory) -> None:
    """A trained seeds 1 and 2, B seed 1 only: the combination is paired on seed 1 (its row says both runs'
    seeds); with no seed in common, the seeds pair in order; with a paired seed that errored, it is compared
    unpaired and says why."""
    a = run_dir_factory([with_predictions(set(range(70)), seed=1), with_predictions(set(range(90)), seed=2)])
    b = run_dir_factory([with_predictions(set(range(60)) | set(range(70, 95)), seed=1)])
    [row] = frame_of(a, b).itertuples(index=False)
    assert (row.test, row.seed, row.only_a, row.only_b, row.pairs, row.pooled) == (PAIRED, "1,2 vs 1", 10, 25, 100,
                                                                                   True)
    # seeds 1, 2 of A with seeds 10, 3 of B: in order, 1 with 3 and 2 with 10
    other = run_dir_factory([with_predictions(set(range(100)), seed=10), with_predictions(set(range(70)), seed=3)])
    [row] = frame_of(a, other).itertuples(index=False)
    assert (row.test, row.seed, row.pooled, row.pairs, row.only_a, row.only_b) == (PAIRED, "1,2 vs 3,10", True, 200,
                                                                                   0, 10)
    assert math.isclose(row.test_accuracy_a, 0.80) and math.isclose(row.test_accuracy_b, 0.85)
    errored = run_dir_factory([make_record(seed=1, error="ValueError: NaN loss"),
                               with_predictions(set(range(80)), seed=2)])
    frame = frame_of(a, errored)
    assert list(frame["verdict"]) == ["error in B", "worse"]  # seed 2: 0.90 -> 0.80, z-test
    assert set(frame["unpaired_because"]) == {"seed 1 has no test accuracy in B (error)"}


def test_a_drop_fails_when_paired(run_dir_factory, tmp_path, capsys) -> None:
    """``--fail-on-drop`` reads the paired row's change, with Holm across the paired combinations."""
    a = run_dir_factory([with_predictions(set(range(90))), with_predictions(set(range(80)), augmentation="flip")],
                        "a")
    b = run_dir_factory([with_predictions(set(range(70))), with_predictions(set(range(80)), augmentation="flip")],
                        "b")
    frame = frame_of(a, b)
    assert list(zip(frame["only_a"], frame["only_b"], frame["verdict"])) == [
        (20, 0, "worse"), (0, 0, "same (within noise)")]
    assert math.isclose(frame["p_holm"].iloc[0], min(1.0, 2 * binomtest(20, 20, 0.5).pvalue))
    assert frame["p_holm"].iloc[1] == 1.0
    assert compare(tmp_path, a, b, "--fail-on-drop", 5) == 1
    out = capsys.readouterr().out
    assert "pets-none-cnn[seed=1] dropped 20.0 points (0.900 -> 0.700)" in out
    assert "1 worse" in out
