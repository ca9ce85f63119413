"""The split digest a run's driver sends with its tasks: a machine whose files differ refuses to train."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.data.prepare import clear_memo, prepare, split_digest
from harness.data.sources import ImageFiles
from harness.errors import DataError
from harness.specs import DatasetRequest, DatasetSpec


def _folder(request: DatasetRequest) -> ImageFiles:
    """Every PNG under ``data_dir``, labelled by the first letter of its name (a = 0, b = 1)."""
    files = sorted(Path(str(request.data_dir)).glob("*.png"))
    return ImageFiles(class_names=("a", "b"), train=[(str(p), int(p.name[0] == "b")) for p in files],
                      root=str(request.data_dir))


SPEC = DatasetSpec(name="folder", factory=_folder, image_size=(8, 8))


@pytest.fixture
def folder(tmp_path: Path, make_image) -> Path:
    root = tmp_path / "data"
    for i in range(10):
        make_image(root / f"{'ab'[i % 2]}{i}.png", 20 * i)
    clear_memo()
    yield root
    clear_memo()


def _request(root: Path, cache: Path) -> DatasetRequest:
    return DatasetRequest(params={}, data_dir=str(root), cache_dir=str(cache), seed=1, image_size=(8, 8))


def test_split_digest_is_the_digest_prepare_records(folder: Path, tmp_path: Path) -> None:
    request = _request(folder, tmp_path / "cache")
    expected = split_digest(SPEC, request, split_seed=1)
    assert not (tmp_path / "cache").exists()  # nothing decoded to compute it
    data = prepare(SPEC, request, split_seed=1, expected_digest=expected)
    assert data.info["split_digest"] == expected


def test_other_files_fail_with_a_message_naming_the_dataset(folder: Path, tmp_path: Path) -> None:
    request = _request(folder, tmp_path / "cache")
    expected = split_digest(SPEC, request, split_seed=1)
    (folder / "b9.png").unlink()  # this "machine" lacks a file
    with pytest.raises(DataError, match=r"dataset 'folder': the files on .* give split digest \w+, the run "
                                        rf"expects {expected}: this machine has other data"):
        prepare(SPEC, request, split_seed=1, expected_digest=expected)
