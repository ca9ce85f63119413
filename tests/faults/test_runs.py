"""Whole runs on a hostile folder: bad files, links back into the tree, names that are not UTF-8."""

from __future__ import annotations

import json
import os

import pytest

from tests.faults.conftest import RUN


@pytest.mark.slow  # over 5 s: real training or a subprocess (CI runs it)
def test_a_run_over_every_kind_of_bad_file_trains_on_the_good_ones(tester) -> None:
    pics = tester.path / "pics"
    (pics / "cats" / "empty.jpg").write_bytes(b"")
    (pics / "cats" / "text.png").write_text("not an image")
    (pics / "dogs" / "cut.png").write_bytes((pics / "dogs" / "0.png").read_bytes()[:40])
    os.mkfifo(pics / "dogs" / "pipe.jpg")
    (pics / "dogs" / "zero.jpg").symlink_to("/dev/zero")
    (pics / "loop").symlink_to(pics)
    (pics / "cats" / "twin.png").symlink_to(pics / "dogs" / "1.png")
    (pics / "cats" / os.fsdecode(b"\xe9t\xe9.png")).write_bytes((pics / "cats" / "0.png").read_bytes())
    (pics / os.fsdecode(b"oiseaux-\xe9")).mkdir()
    (pics / os.fsdecode(b"oiseaux-\xe9") / os.fsdecode(b"\xff.png")).write_bytes((pics / "dogs" / "2.png").read_bytes())

    result = tester.run(*RUN)
    assert result.ret in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    (record,) = result.records
    info = record["dataset_info"]
    assert record["status"] in ("passed", "failed"), record.get("error")
    assert info["class_names"] == ["cats", "dogs", "oiseaux-\\xe9"]
    reasons = {os.path.basename(entry["file"]): entry["reason"] for entry in info["skipped_files"]}
    assert reasons["pipe.jpg"] == reasons["zero.jpg"] == "not a regular file"
    assert {"empty.jpg", "text.png", "cut.png"} <= set(reasons)
    links = {os.path.basename(entry["file"]) for entry in info["source_info"]["skipped_links"]}
    assert links == {"loop", "twin.png"}
    assert sum(info["sizes"].values()) == 10 + 10 + 1 + 1  # the good ones, the Latin-1 names included
    text = (result.run_dir / "records.jsonl").read_text(encoding="utf-8")
    assert json.loads(text)["dataset_info"]["class_names"][2] == "oiseaux-\\xe9"
    assert (result.run_dir / "report.html").read_text(encoding="utf-8").count("oiseaux-\\xe9") >= 1
