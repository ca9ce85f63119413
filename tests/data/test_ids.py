"""Image ids of a prepared dataset (what per-image predictions are keyed by): a file's path relative to the
dataset's root, an in-memory image's row in the array it came from; row for row with the split's arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.data import cache
from harness.data.prepare import SPLITS, clear_memo, prepare, split_digest
from harness.data.sources import ImageArrays, ImageFiles, SplitFractions
from harness.specs import DatasetRequest, DatasetSpec


@pytest.fixture(autouse=True)
def fresh_memo():
    clear_memo()
    yield
    clear_memo()


def _numbered(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 4x4 images whose pixels are their row number, labels alternating 0, 1."""
    return np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8), np.arange(n) % 2


def _carved(request: DatasetRequest) -> ImageArrays:
    return ImageArrays(("a", "b"), train=_numbered(40))


def _val_given(request: DatasetRequest) -> ImageArrays:
    x, y = _numbered(40)
    return ImageArrays(("a", "b"), train=(x[:20], y[:20]), validation=(x[20:], y[20:]))


def _request(data_dir: Path | None = None, cache_dir: Path | None = None) -> DatasetRequest:
    return DatasetRequest(params={}, data_dir=str(data_dir) if data_dir else None,
                          cache_dir=str(cache_dir or ""), seed=3, image_size=(4, 4))


def _rows(data, split: str) -> list[int]:
    """The row number each image of a split carries in its pixels."""
    return [int(v) for v in np.asarray(data.arrays[split][0])[:, 0, 0, 0]]


def test_in_memory_ids_are_rows_of_the_array_they_were_carved_from() -> None:
    spec = DatasetSpec(name="carved", factory=_carved, image_size=(4, 4))
    data = prepare(spec, _request(), split_seed=3)
    for split in SPLITS:
        assert data.ids[split] == [str(row) for row in _rows(data, split)], split
        assert list(data.arrays[split][1]) == [int(i) % 2 for i in data.ids[split]]
    assert sorted(int(i) for split in SPLITS for i in data.ids[split]) == list(range(40))  # each image once
    assert len(data.ids["test"]) == 4  # 10% of 40, carved: not simply 0, 1, 2, 3
    assert data.ids["test"] != ["0", "1", "2", "3"]
    # The split digest is what it was before images had ids (resume, Ray and remote nodes compare it).
    assert data.info["split_digest"] == split_digest(spec, _request(), split_seed=3) == "60ddfffd4a3d693f"
    clear_memo()
    assert prepare(spec, _request(), split_seed=3).ids == data.ids  # the same split seed, the same ids


def test_in_memory_ids_of_given_splits_count_from_zero_in_each() -> None:
    spec = DatasetSpec(name="val_given", factory=_val_given, image_size=(4, 4))
    data = prepare(spec, _request(), split_seed=3)
    assert data.ids["train"] == [str(i) for i in range(20)]
    for split in ("validation", "test"):  # carved from the given validation array: its rows
        assert data.ids[split] == [str(row - 20) for row in _rows(data, split)]
    assert data.info["split_digest"] == "625ae680ff09fc99"


def _folder(request: DatasetRequest) -> ImageFiles:
    """``data_dir/<class>/*.png`` (with one file that is not an image), split by harness."""
    root = Path(str(request.data_dir))
    files = [(str(p), label) for label, name in enumerate("ab") for p in sorted((root / name).glob("*.png"))]
    return ImageFiles(class_names=("a", "b"), train=files, root=str(root),
                      fractions=SplitFractions(0.3, 0.3))


FOLDER = DatasetSpec(name="folder", factory=_folder, image_size=(4, 4))


@pytest.fixture
def folder(tmp_path: Path, make_image) -> Path:
    """20 PNGs under ``data/a`` and ``data/b`` whose pixel value is 10 * their number, and ``a/broken.png``."""
    root = tmp_path / "data"
    for i in range(20):
        make_image(root / "ab"[i % 2] / f"{i:02d}.png", 10 * i)
    (root / "a" / "broken.png").write_text("not an image")
    return root


def test_folder_ids_are_paths_relative_to_the_root_of_the_files_kept(folder: Path, tmp_path: Path) -> None:
    data = prepare(FOLDER, _request(folder, tmp_path / "cache"), split_seed=3)
    assert [s["file"] for s in data.info["skipped_files"]] == [str(folder / "a" / "broken.png")]
    every = [i for split in SPLITS for i in data.ids[split]]
    assert sorted(every) == sorted(f"{'ab'[i % 2]}/{i:02d}.png" for i in range(20))  # no broken.png
    for split in SPLITS:
        ids = data.ids[split]
        assert len(ids) == len(data.arrays[split][1])
        # Row for row: the skipped file shifted nothing (each image's pixels say which file it is).
        assert [10 * int(i[2:4]) for i in ids] == _rows(data, split), split
        assert list(data.arrays[split][1]) == ["ab".index(i[0]) for i in ids]


def test_folder_ids_are_the_same_when_the_cache_is_hit(folder: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    request = _request(folder, tmp_path / "cache")
    built = prepare(FOLDER, request, split_seed=3)
    clear_memo()

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again: the cache was not hit")

    monkeypatch.setattr(cache, "decode_image", no_decoding)
    hit = prepare(FOLDER, request, split_seed=3)
    assert hit.ids == built.ids and all(_rows(hit, s) == _rows(built, s) for s in SPLITS)


def test_split_folders_outside_the_root_are_relative_to_the_folder_that_holds_them(tmp_path: Path,
                                                                                    make_image) -> None:
    for split, count in (("train", 6), ("validation", 4), ("test", 4)):
        for i in range(count):
            make_image(tmp_path / "d" / split / "ab"[i % 2] / f"{i}.png", 10 * i)

    def split_folders(request: DatasetRequest) -> ImageFiles:
        root = tmp_path / "d"
        files = {s: [(str(p), "ab".index(p.parent.name)) for p in sorted((root / s).rglob("*.png"))]
                 for s in ("train", "validation", "test")}
        return ImageFiles(("a", "b"), train=files["train"], validation=files["validation"], test=files["test"],
                          root=str(root / "train"))  # as image_folder says: the training folder

    spec = DatasetSpec(name="split_folders", factory=split_folders, image_size=(4, 4))
    data = prepare(spec, _request(cache_dir=tmp_path / "cache"), split_seed=3)
    assert data.ids["test"] == ["test/a/0.png", "test/a/2.png", "test/b/1.png", "test/b/3.png"]
    assert data.ids["train"][0] == "train/a/0.png"
