"""The report's mistakes: a confusion matrix per combination from its per-image predictions (seeds pooled),
and the most confident mistakes of each dataset's best combination, as images when the dataset can be loaded
here and as a table of ids otherwise."""

from __future__ import annotations

import csv
import gzip
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.report import errors
from harness.testing import FastRuns
from tests.report.fakes import make_record, write_run
from tests.test_report_seeds import REPEATS_3

#: 6 combinations, one seed: more than errors.SHOWN confusion matrices.
SIX = ("--dataset", "synthetic", "--model", "fast_pass", "--model", "fast_fail", "--augmentation", "none",
       "--augmentation", "flip", "--augmentation", "rotate")


def write(run_dir: Path, registry: Any = None) -> Any:
    """The report of ``run_dir`` (built-in plugins only), with ``registry`` to load datasets (``None``: none)."""
    from harness.pluginmanager import load_plugins
    from harness.report.context import Report
    from harness.report.write import write_report
    from harness.store import RunStore

    store = RunStore(run_dir)
    report = Report(run_dir=run_dir, records=store.records(), metadata=store.metadata(), registry=registry,
                    cache_dir=str(run_dir.parent / "cache"))
    return write_report(report, load_plugins(autoload=False))


def counted(run_dir: Path, records: list[dict[str, Any]], combination: str) -> Counter[tuple[int, int]]:
    """(true, predicted) pairs counted over the combination's prediction files, read with the csv module."""
    pairs: Counter[tuple[int, int]] = Counter()
    for record in records:
        if record["id"] == combination:
            with gzip.open(run_dir / record["predictions"], "rt") as handle:
                pairs.update((int(row["label"]), int(row["predicted"])) for row in csv.DictReader(handle))
    return pairs


def test_confusion_counts_are_the_prediction_files_counts(harness_fast_run: FastRuns) -> None:
    result = harness_fast_run(*REPEATS_3)
    records, tables = result.records, result.run_dir / "tables"
    names = records[0]["dataset_info"]["class_names"]
    combinations = sorted({r["id"] for r in records})
    assert len(combinations) == 4
    for combination in combinations:
        matrix = pd.read_csv(tables / f"confusion-{combination}.csv", index_col="true")
        assert list(matrix.index) == names and list(matrix.columns) == names
        pairs = counted(result.run_dir, records, combination)
        assert sum(pairs.values()) == 3 * 200  # three seeds of 200 test images
        for (true, predicted), count in pairs.items():
            assert matrix.loc[names[true], names[predicted]] == count
        assert int(matrix.to_numpy().sum()) == 3 * 200


def test_the_best_combinations_most_confident_mistakes_as_images(harness_fast_run: FastRuns) -> None:
    result = harness_fast_run(*REPEATS_3)
    leaderboard = pd.read_csv(result.run_dir / "tables" / "leaderboard-synthetic.csv")
    best = leaderboard["combination"][0].replace(" / ", "-")
    mistakes = pd.read_csv(result.run_dir / "tables" / "mistakes-synthetic.csv", dtype={"id": str})
    wrong = []
    for record in result.records:
        if record["id"] == f"synthetic-{best}":
            table = pd.read_csv(result.run_dir / record["predictions"], dtype={"id": str})
            wrong.append(table[table["label"] != table["predicted"]])
    every = pd.concat(wrong)
    assert len(mistakes) == errors.MOST_CONFIDENT
    assert mistakes["confidence"].tolist() == sorted(mistakes["confidence"], reverse=True)
    assert mistakes["confidence"][0] == every["confidence"].max()
    assert set(mistakes["id"]) <= set(every["id"]) and mistakes["id"].is_unique
    assert (mistakes["seeds"] == 3).all()
    assert (result.run_dir / "figures" / "mistakes-synthetic.png").is_file()
    page = (result.run_dir / "report.html").read_text()
    mistakes_part = page[page.index('<h2 id="mistakes"'):page.index('<h2 id="data"')]
    assert page.index('id="learning-curves"') < page.index('id="mistakes"')
    assert 'id="figure-mistakes-synthetic"' in mistakes_part and "data:image/png;base64," in mistakes_part
    assert '<details id="table-mistakes-synthetic">' in mistakes_part  # the images shown: their table folded
    assert mistakes_part.count('<figure id="figure-confusion-synthetic"') == 1
    assert mistakes_part.count('<details id="table-confusion-') == 4


def test_without_the_dataset_the_mistakes_are_a_table_with_a_note(harness_fast_run: FastRuns,
                                                                   tmp_path: Path) -> None:
    run_dir = shutil.copytree(harness_fast_run(*REPEATS_3).run_dir, tmp_path / "run")
    shutil.rmtree(run_dir / "figures")
    write(run_dir)  # no registry: the dataset cannot be loaded here
    page = (run_dir / "report.html").read_text()
    mistakes_part = page[page.index('<h2 id="mistakes"'):]
    assert 'id="figure-mistakes-synthetic"' not in page
    assert not (run_dir / "figures" / "mistakes-synthetic.png").exists()
    assert '<h3 id="table-mistakes-synthetic">' in mistakes_part  # open, in place of the images
    assert "images not shown: dataset &#x27;synthetic&#x27; cannot be loaded here" in mistakes_part


def test_many_combinations_show_the_best_few_matrices_and_keep_every_csv(harness_fast_run: FastRuns) -> None:
    from harness.report.context import Report
    from harness.store import RunStore

    run_dir = harness_fast_run(*SIX).run_dir
    assert len(list((run_dir / "tables").glob("confusion-*.csv"))) == 6
    assert sorted(p.name for p in (run_dir / "figures").glob("confusion-*.png")) == ["confusion-synthetic.png"]
    store = RunStore(run_dir)
    figure = errors.figures(Report(run_dir=run_dir, records=store.records(), metadata=store.metadata()))[
        "confusion-synthetic"]
    leaderboard = pd.read_csv(run_dir / "tables" / "leaderboard-synthetic.csv")
    panels = [ax.get_title() for ax in figure.axes if ax.get_visible() and ax.images]
    assert panels == [f"{c} (1 seed)" for c in leaderboard["combination"][: errors.SHOWN]]  # the best, in order
    ids = [f"synthetic-{c.replace(' / ', '-')}" for c in leaderboard["combination"]]
    page = (run_dir / "report.html").read_text()
    mistakes_part = page[page.index('<h2 id="mistakes"'):page.index('<h2 id="data"')]
    for shown in ids[: errors.SHOWN]:
        assert f'<details id="table-confusion-{shown}">' in mistakes_part
    for rest in ids[errors.SHOWN:]:
        assert f"confusion-{rest}.csv" in mistakes_part
        assert f'id="table-confusion-{rest}"' not in page  # in its CSV file, not on the page


def hand_made_run(tmp_path: Path) -> Path:
    """Two seeds of one combination on six test images, and a combination whose record has no predictions."""
    labels = [0, 0, 1, 1, 0, 1]
    seeds = [([0, 1, 1, 0, 0, 1], [0.9, 0.8, 0.7, 0.95, 0.6, 0.5]),
             ([0, 1, 1, 1, 1, 1], [0.9, 0.6, 0.7, 0.5, 0.99, 0.5])]
    records = []
    for seed, (predicted, confidence) in enumerate(seeds, start=1):
        record = make_record("none", "cnn", seed=seed, test=0.8)
        record["predictions"] = {"id": [f"img{i}.png" for i in range(6)], "label": labels, "predicted": predicted,
                                 "confidence": confidence}
        records.append(record)
    records.append(make_record("flip", "cnn", test=0.6))
    return write_run(tmp_path / "run", records)


def test_confusion_and_mistakes_by_hand(tmp_path: Path) -> None:
    run_dir = hand_made_run(tmp_path)
    written = write(run_dir)
    matrix = pd.read_csv(written.tables["confusion-pets-none-cnn"], index_col="true")
    # true cat (images 0, 1, 4): seed 1 says cat, dog, cat; seed 2 cat, dog, dog
    # true dog (images 2, 3, 5): seed 1 says dog, cat, dog; seed 2 dog, dog, dog
    assert matrix.to_dict("index") == {"cat": {"cat": 3, "dog": 3}, "dog": {"cat": 1, "dog": 5}}
    assert "confusion-pets-flip-cnn" not in written.tables  # no predictions: no matrix
    mistakes = pd.read_csv(written.tables["mistakes-pets"])
    # wrong: img1 (0.8 and 0.6, two seeds), img3 (0.95), img4 (0.99); each once, at its most confident
    assert mistakes.to_dict("list") == {"id": ["img4.png", "img3.png", "img1.png"], "true": ["cat", "dog", "cat"],
                                        "predicted": ["dog", "cat", "dog"], "confidence": [0.99, 0.95, 0.8],
                                        "seeds_wrong": [1, 1, 2], "seeds": [2, 2, 2]}
    page = written.html.read_text()
    assert "images not shown: dataset &#x27;pets&#x27; cannot be loaded here" in page
    assert "mistakes-pets" not in written.figures and "confusion-pets" in written.figures


def test_runs_without_predictions_have_no_mistakes_section(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", [make_record("none", "cnn", seed=s) for s in (1, 2, 3)])
    written = write(run_dir)
    page = written.html.read_text()
    assert 'id="mistakes"' not in page
    assert not [name for name in written.tables if name.startswith(("confusion", "mistakes"))]


@pytest.mark.parametrize("damage", ["lost", "garbled"])
def test_a_lost_or_damaged_predictions_file_costs_only_its_seed(tmp_path: Path, damage: str) -> None:
    from harness.store import RunStore

    run_dir = hand_made_run(tmp_path)
    path = run_dir / RunStore(run_dir).records()[0]["predictions"]
    if damage == "lost":
        path.unlink()
    else:
        path.write_bytes(b"\x1f\x8b not gzip at all")
    written = write(run_dir)
    matrix = pd.read_csv(written.tables["confusion-pets-none-cnn"], index_col="true")
    assert int(matrix.to_numpy().sum()) == 6  # seed 2 alone
    assert "leaderboard-pets" in written.tables  # the rest of the report stands
    damaged = [note for note in written.notes if note.startswith("predictions of pets-none-cnn (seed 1) not read")]
    assert len(damaged) == (damage == "garbled")


def test_mistakes_find_their_images_by_id_or_by_position() -> None:
    import numpy as np

    from harness.data.prepare import PreparedData

    images = np.stack([np.full((4, 4, 3), value, dtype=np.uint8) for value in (10, 20, 30)])
    data = PreparedData(name="d", class_names=("cat", "dog"), arrays={"test": (images, np.array([0, 1, 1]))})
    mistakes = pd.DataFrame({"id": ["2", "0", "7"], "true": ["dog", "dog", "cat"], "predicted": ["cat"] * 3,
                             "confidence": [0.9, 0.8, 0.7]})
    found, missing, relabelled = errors.mistake_images(data, mistakes)  # no ids: the ids are positions
    assert [int(image[0, 0, 0]) for _, image in found] == [30, 10]
    assert (missing, relabelled) == (1, 1)  # "7" is not in the split; image 0 is a cat here, a dog there
    data.ids = {"test": ["7", "2", "0"]}  # a dataset's own ids (harness.data.prepare.PreparedData.ids)
    found, missing, relabelled = errors.mistake_images(data, mistakes)
    assert [int(image[0, 0, 0]) for _, image in found] == [20, 30, 10]
    assert (missing, relabelled) == (0, 0)  # "2" is row 1 now, a dog; "0" row 2, a dog; "7" row 0, a cat


def test_a_run_on_two_backends_has_a_matrix_per_backend(tmp_path: Path) -> None:
    records = []
    for backend, predicted in (("jax", [0, 1, 1]), ("tensorflow", [1, 1, 1])):
        record = {**make_record("none", "cnn", test=0.8), "backend": backend, "config_hash": f"hash-{backend}"}
        record["predictions"] = {"id": ["0", "1", "2"], "label": [0, 1, 1], "predicted": predicted,
                                 "confidence": [0.9, 0.8, 0.7]}
        records.append(record)
    written = write(write_run(tmp_path / "run", records))
    jax = pd.read_csv(written.tables["confusion-pets-none-cnn-jax"], index_col="true")
    tensorflow = pd.read_csv(written.tables["confusion-pets-none-cnn-tensorflow"], index_col="true")
    assert jax.to_dict("index") == {"cat": {"cat": 1, "dog": 0}, "dog": {"cat": 0, "dog": 2}}
    assert tensorflow.to_dict("index") == {"cat": {"cat": 0, "dog": 1}, "dog": {"cat": 0, "dog": 2}}
