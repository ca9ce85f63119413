"""``harness report`` on a damaged run directory: the report is built from whatever valid records remain,
and what was left out is said in the terminal and on the report."""

from __future__ import annotations

import pytest

from harness.cli import main
from harness.report.rebuild import read_run

from .fakes import make_record, skip_record


@pytest.fixture(autouse=True)
def _builtin_plugins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")


RECORDS = [make_record("none", "cnn", test=0.8), make_record("flip", "cnn", test=0.9), skip_record()]


def test_a_missing_metadata_file_costs_only_what_it_held(run_dir_factory, tmp_path, capsys) -> None:
    run_dir = run_dir_factory(RECORDS)
    (run_dir / "metadata.json").unlink()
    assert main(["report", str(run_dir)], cwd=tmp_path) == 0
    out = capsys.readouterr().out
    assert "note: metadata.json is missing: the run's command line and settings are unknown" in out
    md = (run_dir / "report.md").read_text()
    assert "metadata.json is missing" in md and "Leaderboard: pets" in md and "flip / cnn" in md


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", ""])
def test_a_damaged_metadata_file_is_a_note(run_dir_factory, text: str) -> None:
    run_dir = run_dir_factory(RECORDS)
    (run_dir / "metadata.json").write_text(text)
    stored = read_run(run_dir)
    assert len(stored.records) == 3 and stored.metadata == {}
    assert len(stored.notes) == 1 and stored.notes[0].startswith("metadata.json is unreadable" if text != "[1, 2]"
                                                                 else "metadata.json is not a JSON object")


def test_corrupt_lines_anywhere_are_left_out_and_said(run_dir_factory, tmp_path, capsys) -> None:
    run_dir = run_dir_factory(RECORDS)
    path = run_dir / "records.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    damaged = [lines[0], "{\"id\": \"pets-x-cnn\", \"stat\n", lines[1], "[1, 2]\n", lines[2], '{"id": "pets-none-']
    path.write_text("".join(damaged))
    (run_dir / "records.jsonl.torn").write_text('{"id": "half\n')
    assert main(["report", str(run_dir)], cwd=tmp_path) == 0
    out = capsys.readouterr().out
    # the store says what it passed over, line by line (harness.store.RunStore.problems)
    assert "note: records.jsonl:2: not a record" in out and "note: records.jsonl:4: not a record" in out
    assert "note: records.jsonl:6: its last line is cut short (a task that did not finish): passed over" in out
    assert "note: records.jsonl.torn: a line cut short by an earlier crash was set aside there" in out
    assert "2 of 2 combinations beat the baseline" in out
    md = (run_dir / "report.md").read_text()
    assert "records.jsonl:2: not a record" in md and "records.jsonl:6: its last line is cut short" in md
    assert (run_dir / "results.csv").read_text().count("\n") == 4  # header and the 3 valid records


def test_no_run_at_all_is_still_a_usage_error(tmp_path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")], cwd=tmp_path) == 4
    assert "not a harness run directory" in capsys.readouterr().err
