"""Files a dataset skips (not decodable) or ignores (not image names) are counted in the terminal summary with
their reasons, and listed with ``-v``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.data.prepare import clear_memo, prepare
from harness.specs import DatasetRequest
from harness.terminal import files_lines
from tests.faults.conftest import RUN, make_folder


def _bad_folder(root: Path) -> Path:
    make_folder(root)
    (root / "cats" / "empty.jpg").write_bytes(b"")
    (root / "cats" / "text.jpg").write_text("not an image")
    (root / "dogs" / "photo.webp").write_bytes(b"RIFF....WEBP")
    (root / "dogs" / "notes.txt").write_text("notes")
    (root / "README").write_text("about these pictures")
    return root


def _dataset_info(root: Path, cache: Path) -> dict:
    """What a real ``image_folder`` of ``root`` records (decoded at 8x8, no training)."""
    from harness_vision import datasets

    spec = next(s for s in datasets.harness_datasets_register(config=None) if s.name == "image_folder")
    spec = dataclasses.replace(spec, params={**spec.params, "path": str(root)}, image_size=(8, 8))
    request = DatasetRequest(params=spec.params, data_dir=None, cache_dir=str(cache), seed=1, image_size=(8, 8))
    clear_memo()
    return prepare(spec, request, split_seed=1).info


def test_the_summary_counts_skipped_and_ignored_files_with_reasons(tmp_path: Path) -> None:
    info = _dataset_info(_bad_folder(tmp_path / "pics"), tmp_path / "cache")
    record = {"id": "pics-none-m", "dataset": "pics", "status": "passed", "dataset_info": info}
    (line,) = [line for line in files_lines([record]) if not line.startswith("warning:")]  # (few test images)
    assert line == ("pics: 2 files skipped (2 not an image file), 3 ignored (2 not an image name, "
                    "1 not in a class folder) (-v: each file)")
    whole = files_lines([record], full=True)
    assert whole[0].startswith("pics: 2 files skipped") and "(-v" not in whole[0]
    listed = "\n".join(whole[1:])
    for name in ("empty.jpg: not an image file", "text.jpg: not an image file",
                 "photo.webp: not an image name (.webp)", "notes.txt: not an image name (.txt)",
                 "README: not in a class folder"):
        assert name in listed, listed


def test_nothing_is_said_of_a_clean_dataset(tmp_path: Path) -> None:
    info = _dataset_info(make_folder(tmp_path / "pics"), tmp_path / "cache")
    lines = files_lines([{"id": "x", "dataset": "pics", "status": "passed", "dataset_info": info}])
    assert [line for line in lines if not line.startswith("warning:")] == []


@pytest.mark.slow
def test_a_run_shows_them_in_its_summary_and_lists_them_with_v(tester) -> None:
    _bad_folder(tester.path / "pics")
    quiet = [arg for arg in RUN if arg != "-q"]
    result = tester.run(*quiet)
    assert result.ret in (0, 1), result.stderr
    assert "pics: 2 files skipped (2 not an image file), 3 ignored" in result.stdout
    verbose = tester.run(*quiet, "-v")
    assert "empty.jpg: not an image file" in verbose.stdout
    assert "photo.webp: not an image name (.webp)" in verbose.stdout
