"""A damaged run directory (metadata lost or corrupt, a corrupt or torn line in the record) is reported and
resumed from what remains, and what was passed over is said."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.store import RunStore

SELECTION = ("-p", "harness.testing.fast", "--dataset", "synthetic", "--augmentation", "none",
             "--model", "fast_pass", "--model", "fast_fail")
RUN = ("run", *SELECTION, "-p", "no:reports")


@pytest.fixture
def run_dir(harness_tester, monkeypatch) -> Path:
    """A finished run of two fast tasks (no report: the tests rebuild or resume it)."""
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = harness_tester.run(*RUN)
    assert result.ret == 1, result.stderr  # one passed, one failed
    assert result.run_dir is not None and len(result.records) == 2
    return result.run_dir


def _damage(run_dir: Path, *, metadata: str | None = "remove", first_line: bool = True, torn: bool = True) -> None:
    if metadata == "remove":
        (run_dir / "metadata.json").unlink()
    elif metadata is not None:
        (run_dir / "metadata.json").write_text(metadata)
    path = run_dir / "records.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    if first_line:
        lines[0] = "\x00\x00 garbage " + lines[0]
    path.write_text("".join(lines) + ('{"id": "synthetic-none-fast_pass", "sta' if torn else ""))


def test_the_store_reads_what_remains_and_says_what_it_passed_over(run_dir: Path) -> None:
    _damage(run_dir)
    store = RunStore.open(run_dir)
    assert store.metadata() == {}
    assert [r["id"] for r in store.records()] == ["synthetic-none-fast_fail"]
    problems = store.problems()
    assert problems[0].startswith("metadata.json is missing")
    assert problems[1].startswith("records.jsonl:1: not a record")
    assert problems[2].startswith("records.jsonl:3: its last line is cut short")


@pytest.mark.parametrize("metadata", ["remove", "{not json", "[1, 2]"])
def test_harness_report_rebuilds_a_run_whose_metadata_is_lost_or_damaged(harness_tester, run_dir: Path,
                                                                        metadata: str) -> None:
    _damage(run_dir, metadata=metadata)
    result = harness_tester.run("report", str(run_dir))
    assert result.ret == 0, result.stderr
    assert "note: metadata.json is " in result.stdout
    assert "note: records.jsonl:1: not a record" in result.stdout
    assert "note: records.jsonl:3: its last line is cut short" in result.stdout
    assert (run_dir / "report.html").is_file()
    assert "fast_fail" in (run_dir / "results.csv").read_text()


def test_a_run_dir_with_neither_file_is_still_refused(harness_tester, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = harness_tester.run("report", str(tmp_path / "empty"))
    assert result.ret == 4 and "not a harness run directory" in result.stderr


def test_resume_says_it_set_a_torn_line_aside_and_retrains_that_task(harness_tester, run_dir: Path) -> None:
    _damage(run_dir, metadata=None, first_line=False)
    result = harness_tester.run("run", "--resume", str(run_dir), "-p", "no:reports")
    assert result.ret == 1, result.stderr
    assert ("note: records.jsonl:3: its last line was cut short (a task that did not finish): set aside in "
            "records.jsonl.torn") in result.stdout
    assert (run_dir / "records.jsonl.torn").is_file()
    assert "(2 already done, resumed)" in result.stdout  # the torn line was a third, unfinished record


def test_resume_without_metadata_asks_for_the_command_line_then_takes_it(harness_tester, run_dir: Path) -> None:
    _damage(run_dir, torn=False)
    refused = harness_tester.run("run", "--resume", str(run_dir))
    assert refused.ret == 4
    assert "metadata.json is missing" in refused.stderr and "give the run's options again" in refused.stderr
    assert "synthetic-none-fast_fail" in refused.stderr
    assert not (run_dir / "metadata.json").exists()

    result = harness_tester.run("run", "--resume", str(run_dir), *SELECTION, "-p", "no:reports")
    assert result.ret == 1, result.stderr
    assert "note: metadata.json is missing" in result.stdout
    assert "note: records.jsonl:1: not a record" in result.stdout
    assert "(1 already done, resumed)" in result.stdout  # the corrupt line's task trains again
    metadata = json.loads((run_dir / "metadata.json").read_text())
    assert metadata["argv"] == ["run", *SELECTION, "-p", "no:reports"]
    assert sorted(r["id"] for r in RunStore(run_dir).records()) == ["synthetic-none-fast_fail",
                                                                     "synthetic-none-fast_pass"]


def test_resume_finds_the_latest_run_even_without_its_metadata(harness_tester, run_dir: Path) -> None:
    older = run_dir.with_name("00000000-000000-0000")
    shutil.copytree(run_dir, older)
    (run_dir / "metadata.json").unlink()
    result = harness_tester.run("run", "--resume", *SELECTION, "-p", "no:reports")
    assert result.ret == 1, result.stderr
    assert f"run directory: {run_dir}" in result.stdout
