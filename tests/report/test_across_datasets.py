"""The leaderboard across datasets (normalised scores, as the AutoML benchmark's), from records built by
hand (no training)."""

from __future__ import annotations

import math

import pytest

from harness.cli import main
from harness.report import across_datasets, tables

from .fakes import make_record, reached, skip_record


@pytest.fixture(autouse=True)
def _builtin_plugins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def records() -> list[dict]:
    """Two datasets, baseline 0.5 on ``pets`` and 0.6 on ``cars``: none/cnn is the best on pets, flip/cnn on
    cars; none/resnet errors on cars; gray is skipped on pets and never trained anywhere."""
    return [
        make_record("none", "cnn", dataset="pets", baseline=0.5, test=0.9, seed=1),
        make_record("none", "cnn", dataset="pets", baseline=0.5, test=0.7, seed=2),  # pooled: 0.8
        make_record("flip", "cnn", dataset="pets", baseline=0.5, test=0.68),
        make_record("none", "resnet", dataset="pets", baseline=0.5, test=0.56),
        make_record("none", "cnn", dataset="cars", baseline=0.6, test=0.7),
        make_record("flip", "cnn", dataset="cars", baseline=0.6, test=0.8),
        make_record("none", "resnet", dataset="cars", baseline=0.6, error="ValueError: boom"),
        skip_record("none", "gray", dataset="pets"),
    ]


def test_scores_against_the_best_of_the_run(records) -> None:
    frame = across_datasets.table(records)
    assert list(frame.columns) == [*across_datasets.COLUMNS, "score:cars", "score:pets"]
    assert list(frame["combination"]) == ["flip / cnn", "none / cnn", "none / resnet", "none / gray"]
    by = frame.set_index("combination")
    assert by.loc["none / cnn", "score:pets"] == pytest.approx(1.0)  # the best on pets (seeds pooled: 0.8)
    assert by.loc["none / cnn", "score:cars"] == pytest.approx(0.5)  # (0.7 - 0.6) / (0.8 - 0.6)
    assert by.loc["flip / cnn", "score"] == pytest.approx((0.6 + 1.0) / 2)
    assert by.loc["flip / cnn", "score_std"] == pytest.approx(math.sqrt(0.08))
    assert (by.loc["flip / cnn", "score_low"], by.loc["flip / cnn", "score_high"]) == pytest.approx((0.6, 1.0))
    assert by.loc["none / resnet", "imputed"] == "cars" and by.loc["none / resnet", "score:cars"] == 0.0
    assert by.loc["none / resnet", "score:pets"] == pytest.approx(0.2)
    assert by.loc["none / gray", "imputed"] == "cars, pets" and by.loc["none / gray", "score"] == 0.0
    assert list(by["datasets"]) == [2, 2, 2, 2] and frame.attrs["headline"]
    assert "1 the best test accuracy of the run on each dataset (cars: flip / cnn 0.800; pets: none / cnn " \
           "0.800)" in frame.attrs["caption"]


def test_scores_against_a_named_reference(records) -> None:
    frame = across_datasets.table(records, reference="flip-cnn").set_index("combination")
    assert frame.loc["flip / cnn", "score"] == 1.0 and frame.loc["flip / cnn", "score_std"] == 0.0
    assert frame.loc["none / cnn", "score:pets"] == pytest.approx(0.3 / 0.18)  # above 1: beats the reference
    assert "1 the reference flip / cnn" in across_datasets.table(records, reference="flip-cnn").attrs["caption"]


def test_a_reference_no_better_than_the_baseline_leaves_its_dataset_out(records) -> None:
    frame = across_datasets.table(records, reference="none-resnet")
    assert "cars is left out of the scores: the reference none-resnet has no test accuracy on it" \
        in frame.attrs["caption"]
    by = frame.set_index("combination")
    assert math.isnan(by.loc["none / cnn", "score:cars"]) and by.loc["none / cnn", "datasets"] == 1
    assert by.loc["none / cnn", "score"] == pytest.approx(0.3 / 0.06)


def test_only_with_two_datasets_and_keys_with_several_backends(records) -> None:
    pets = [r for r in records if r["dataset"] == "pets"]
    assert across_datasets.table(pets) is None and "leaderboard-across_datasets" not in tables.builtin_tables(pets)
    both = [{**r, "backend": backend} for r in records if r["status"] != "skipped" for backend in ("jax", "torch")]
    frame = across_datasets.table(both, reference="flip-cnn-torch")
    assert "flip / cnn / torch" in set(frame["combination"]) and len(frame) == 6
    assert frame.set_index("combination").loc["flip / cnn / jax", "score"] == 1.0  # the same accuracies


def test_the_summary_line_and_the_figure(records) -> None:
    frame = across_datasets.table(records)
    assert across_datasets.summary(frame, None) == (
        "across 2 datasets: best flip / cnn, normalised score 0.80 (range 0.60-1.00, std 0.28; 0 = the "
        "label-frequency baseline, 1 = the best of the run on each dataset)")
    ax = across_datasets.figure(frame).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["none / gray", "none / resnet", "none / cnn",
                                                          "flip / cnn"]  # best at the top
    verticals = sorted(float(line.get_xdata()[0]) for line in ax.get_lines() if line.get_linestyle() in ("--", ":"))
    assert verticals == [0.0, 1.0]


def test_the_pages_show_both_protocols_first(run_dir_factory, records, tmp_path, capsys) -> None:
    """``harness report`` rebuilds the leaderboard with the reference stored in the run's metadata, and shows
    it and the time to accuracy first: in the terminal, the summary, and before the figures."""
    records += [reached(make_record("crop", "cnn", dataset="cars", baseline=0.6, test=0.7, seed=seed), seconds)
                for seed, seconds in enumerate([3.0, None, 1.0], start=1)]
    run_dir = run_dir_factory(records, reference="flip-cnn")
    assert main(["report", str(run_dir)], cwd=tmp_path) == 0
    out = capsys.readouterr().out
    assert "across 2 datasets: best none / cnn, normalised score 1.08 (range 0.50-1.67" in out
    assert "1 = the reference flip-cnn)" in out
    assert ("time to accuracy 0.7: fastest crop / cnn on cars 3.0 s, mean of the middle 1 of 3 runs (the fastest and a "
            "run that did not reach the target dropped)") in out
    md = (run_dir / "report.md").read_text()
    order = ["- across 2 datasets", "### Leaderboard across datasets", "figures/across_datasets.png",
             "### Time to the target accuracy", "figures/time_to_target.png", "### Leaderboard: cars",
             "## Results", "## Tables"]
    assert [md.index(marker) for marker in order] == sorted(md.index(marker) for marker in order)
    page = (run_dir / "report.html").read_text()
    assert page.index('id="table-leaderboard-across_datasets"') < page.index('id="table-time_to_target"') \
        < page.index('id="table-leaderboard-cars"') < page.index('id="results"')
    assert "1 the reference flip / cnn" in page
    assert "<td>1.0, 3.0, not reached</td>" in page and "<td>1.0, not reached</td>" in page  # runs, dropped
    assert (run_dir / "tables" / "leaderboard-across_datasets.csv").is_file()
    assert (run_dir / "tables" / "time_to_target.csv").is_file()


def test_reference_names_a_selected_combination(harness_tester, tiny_model_plugin) -> None:
    """``--reference`` (or ``reference =`` in the configuration) must name a selected combination: exit 4
    before anything trains, with the closest names."""
    harness_tester.make_plugin(tiny_model_plugin)
    result = harness_tester.run("run", "--collect-only", "--dataset", "synthetic", "--reference", "none-tiyn")
    assert result.ret == 4 and "synthetic-none-tiny" not in result.stdout
    assert "--reference: unknown combination 'none-tiyn'; did you mean none-tiny?" in result.stderr
    harness_tester.make_config('reference = "none-tiny"\n')
    assert harness_tester.run("run", "--collect-only", "--dataset", "synthetic").ret == 0
    harness_tester.make_config('reference = "flip-tiny"\n')
    result = harness_tester.run("run", "--collect-only", "--dataset", "synthetic")
    assert result.ret == 4 and "unknown combination 'flip-tiny'" in result.stderr


@pytest.mark.slow
def test_harness_report_takes_another_reference(run_dir_factory, records, tmp_path, capsys) -> None:
    """``harness report --reference`` re-ranks a finished run against another combination and keeps it in the
    metadata for later rebuilds; a name that is not in the run is refused (exit 4) and changes nothing."""
    import json

    run_dir = run_dir_factory(records, reference="flip-cnn")
    assert main(["report", str(run_dir), "--reference", "none-cnnn"], cwd=tmp_path) == 4
    err = capsys.readouterr().err
    assert "--reference: unknown combination 'none-cnnn'; did you mean none-cnn" in err
    assert json.loads((run_dir / "metadata.json").read_text())["reference"] == "flip-cnn"
    assert main(["report", str(run_dir), "--reference", "none-cnn"], cwd=tmp_path) == 0
    assert "1 = the reference none-cnn)" in capsys.readouterr().out
    assert json.loads((run_dir / "metadata.json").read_text())["reference"] == "none-cnn"
    assert main(["report", str(run_dir)], cwd=tmp_path) == 0
    assert "1 = the reference none-cnn)" in capsys.readouterr().out
    assert main(["report", str(run_dir), "--data-dir", str(tmp_path / "nowhere")], cwd=tmp_path) == 4
    assert f"--data-dir: {tmp_path / 'nowhere'}: no such directory" in capsys.readouterr().err
