"""Full disks and unwritable places: a one-line error naming the place and what it needs; nothing finished
is lost, no temporary file stays. The full disks are small tmpfs mounts (root only)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from harness.store import RECORDS, RunStore, StoreError
from tests.faults.conftest import RUN, environment, fill, make_folder, run_harness, user_error

#: Decodes 20 images of 160x160 (1.5 MiB) into a cache on CACHE; prints the error, as a run's row would show it.
DECODE = """
import shutil, sys
from pathlib import Path
from harness.data import cache
folder, cache_dir, lie = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "lie"
if lie:  # the free-space check passes; the disk fills while the entry is written
    shutil.disk_usage = lambda path: shutil._ntuple_diskusage(1 << 40, 0, 1 << 40)
files = [(str(p), 0) for p in sorted(folder.rglob("*.png"))]
try:
    cache.decode_files(files, (160, 160), 3, cache_dir)
except cache.DataError as exc:
    print(exc)
"""


#: tmpfs counts whole pages.
PAGE = 4096


def footprint(tester, *args: str) -> tuple[int, int]:
    """Pages of ``metadata.json`` and pages of one task's record line and predictions file that a run of
    ``args`` writes in a roomy folder: the small disks below are sized from them (the metadata's manifest lists
    every installed distribution, so its size depends on the environment)."""
    result = tester.run(*args, "--output", str(tester.path / "roomy"))
    assert result.ret in (0, 1), result.stderr
    run_dir = result.run_dir
    line = max(len(text) for text in (run_dir / RECORDS).read_bytes().splitlines(keepends=True))
    predictions = max(p.stat().st_size for p in (run_dir / "predictions").iterdir())
    return pages((run_dir / "metadata.json").stat().st_size), pages(line) + pages(predictions)


def pages(size: int) -> int:
    return -(-size // PAGE)


@pytest.mark.parametrize("free_space", ["checked", "lie"])
def test_a_full_disk_under_the_decode_cache_is_an_error_naming_it(tmp_path, tmpfs, free_space) -> None:
    """Before the fix: SIGBUS (exit -7) writing through the memory map, and a partial .npy left behind."""
    folder = make_folder(tmp_path / "pics")
    small = tmpfs("cache", "1m")
    done = subprocess.run([sys.executable, "-c", DECODE, str(folder), str(small), free_space],
                          env=environment(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"no space left for the decoded-image cache {small / 'decoded'}: it needs 1.5 MiB")
    assert "HARNESS_CACHE_DIR" in done.stdout
    assert [p.name for p in (small / "decoded").iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_a_run_with_a_full_cache_disk_records_an_error_row(tmpfs, tester) -> None:
    small = tmpfs("cache", "4k")  # the 20 images need 15 kB
    result = run_harness(tester.path, *RUN, "--cache-dir", str(small))
    assert result.returncode == 1, result.stderr
    (record,) = RunStore(next(tester.path.glob("reports/*"))).records()
    assert (record["status"], record["error_kind"]) == ("error", "data")
    assert record["error"].startswith(f"DataError: no space left for the decoded-image cache {small / 'decoded'}")


def test_a_full_disk_while_appending_the_record_is_one_line(tmp_path, tmpfs) -> None:
    store = RunStore.create(tmpfs("runs", "8k"), {"argv": []})
    first = {"id": "d-a-m", "dataset": "d", "augmentation": "a", "model": "m", "seed": 1, "status": "passed"}
    store.append(first)
    fill(store.run_dir)
    with pytest.raises(StoreError, match=f"cannot write {store.records_path}: No space left on device"):
        store.append({**first, "seed": 2, "padding": "x" * 10_000})
    assert store.records() == [first]  # no torn line
    assert store.records_path.read_bytes().endswith(b"\n")


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_a_run_whose_record_cannot_be_written_says_what_trained(tmpfs, tester) -> None:
    """Before the fix: exit 3 with a chain of tracebacks, and "no task finished" although one had trained."""
    output = tmpfs("out", "64k")
    result = tester.run(*RUN[:5], "--model", "filler", "--steps", "2", "--output", str(output),
                        "--set", f"filler.fill={output}")
    assert result.ret == 4
    line = user_error(result.stderr)
    # the task's predictions file or its record line: neither fits, and the record is not written without it
    assert f"cannot write {output}" in line and re.search(r"(records\.jsonl|\.csv\.gz): No space left on device", line)
    assert "pics-none-filler[seed=1] trained but is not recorded" in line and "--resume" in line
    assert "no task finished" not in result.stdout and "nothing finished" not in result.stdout
    assert "1 failed" in result.stdout or "1 passed" in result.stdout


def test_a_run_whose_metadata_cannot_be_written_is_one_line(tmpfs, tester) -> None:
    output = tmpfs("out", "4k")  # the first metadata.json fits, not a second copy beside it
    result = tester.run(*RUN, "--output", str(output))
    assert result.ret == 4
    assert "metadata.json: No space left on device" in user_error(result.stderr)


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_a_run_whose_report_does_not_fit_keeps_its_record(tmpfs, tester) -> None:
    metadata, task = footprint(tester, *RUN)
    output = tmpfs("out", f"{(3 * metadata + task) * PAGE // 1024}k")  # the metadata, rewritten; one task
    result = tester.run(*RUN, "--output", str(output))
    assert result.ret in (0, 1) and "Traceback" not in result.stderr, result.stderr
    assert "the report could not be written (" in result.stderr and "No space left on device" in result.stderr
    (record,) = RunStore(result.run_dir).records()
    assert record["status"] in ("passed", "failed")


@pytest.mark.slow
def test_the_record_of_a_full_disk_run_resumes_to_the_full_result(tmpfs, tester) -> None:
    """What finished before the disk filled is kept; after making room, --resume trains only the rest."""
    command = ("run", "--dataset", "pics", "--augmentation", "none", "--model", "tiny", "--steps", "2",
               "--repeats", "4", "-q")
    metadata, task = footprint(tester, *command)
    output = tmpfs("out", f"{(2 * metadata + 2 * task) * PAGE // 1024}k")  # the metadata and two tasks
    first = tester.run(*command, "--output", str(output))
    assert first.ret == 4, first.stderr
    run_dir = next(output.iterdir())
    kept = RunStore(run_dir).records()
    assert 1 <= len(kept) < 4
    lines = (run_dir / RECORDS).read_text().splitlines()
    assert all(json.loads(line) for line in lines)
    for leftover in run_dir.rglob("*"):  # make room: keep only the record and the metadata
        if leftover.is_file() and leftover.name not in (RECORDS, "metadata.json", ".lock"):
            leftover.unlink()
    subprocess.run(["mount", "-o", "remount,size=2m", str(output)], check=True)
    resumed = tester.run("run", "--resume", str(run_dir), "--dataset", "pics", "--augmentation", "none",
                         "--model", "tiny", "--steps", "2", "--repeats", "4", "-q", "--output", str(output))
    assert resumed.ret in (0, 1), resumed.stderr
    after = RunStore(run_dir).records()
    assert after[: len(kept)] == kept and sorted(r["seed"] for r in after) == [1, 2, 3, 4]
