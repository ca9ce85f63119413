"""Downloaded archives: a damaged copy is never reused, a hostile one never escapes its folder, and
``harness cache info``/``clear`` cover downloads."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from harness_vision import datasets

from harness import DataError, DatasetRequest
from harness.cli import main
from harness.data import cache
from tests.faults.conftest import write_png


def zip_study(path: Path, *, extra: dict[str, bytes] | None = None) -> Path:
    """A small ``cats_and_dogs_filtered.zip`` (two images per class and split)."""
    source = path.parent / "png"
    image = write_png(source / "one.png", 50).read_bytes()
    with zipfile.ZipFile(path, "w") as archive:
        for split in ("train", "validation"):
            for name in ("cats", "dogs"):
                for index in range(2):
                    archive.writestr(f"cats_and_dogs_filtered/{split}/{name}/{index}.png", image)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def request(origin: Path, cache_dir: Path) -> DatasetRequest:
    return DatasetRequest(params={"url": origin.as_uri(), "sha256": ""}, data_dir=None, cache_dir=str(cache_dir),
                          seed=1)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_download_is_not_reused_once_the_source_is_fixed(tmp_path, damage) -> None:
    """Before the fix the broken copy in the cache was reused for ever."""
    origin = tmp_path / "origin" / "cats_and_dogs_filtered.zip"
    origin.parent.mkdir()
    good = zip_study(tmp_path / "good.zip").read_bytes()
    origin.write_bytes(b"PK\x03\x04" + b"garbage" * 50 if damage == "garbage" else good[: len(good) // 2])
    with pytest.raises(DataError, match="is not a valid zip archive .*: deleted, to be fetched again"):
        datasets.cats_and_dogs(request(origin, tmp_path / "cache"))
    assert not (tmp_path / "cache" / cache.DOWNLOADS / origin.name).exists()
    origin.write_bytes(good)  # the source is fixed
    source = datasets.cats_and_dogs(request(origin, tmp_path / "cache"))
    assert len(source.train) == 4 and source.class_names == ("cats", "dogs")


def test_a_cached_archive_damaged_later_is_fetched_again(tmp_path) -> None:
    origin = zip_study(tmp_path / "cats_and_dogs_filtered.zip")
    datasets.cats_and_dogs(request(origin, tmp_path / "cache"))
    cached = tmp_path / "cache" / cache.DOWNLOADS / origin.name
    for extracted in cached.parent.glob("cats_and_dogs_filtered-*"):
        shutil.rmtree(extracted)
    cached.write_bytes(cached.read_bytes()[:100])  # damaged on disk
    source = datasets.cats_and_dogs(request(origin, tmp_path / "cache"))
    assert len(source.train) == 4 and cached.read_bytes() == origin.read_bytes()


@pytest.mark.parametrize("member", ["../escape.png", "/tmp/absolute-escape.png", "a/../../escape.png"])
def test_an_archive_escaping_its_folder_is_refused(tmp_path, member) -> None:
    origin = zip_study(tmp_path / "cats_and_dogs_filtered.zip", extra={member: b"x"})
    with pytest.raises(DataError, match="unsafe archive .* would be extracted outside"):
        datasets.cats_and_dogs(request(origin, tmp_path / "cache"))
    assert not (tmp_path / "escape.png").exists() and not Path("/tmp/absolute-escape.png").exists()


def test_cache_info_and_clear_cover_downloads(tmp_path, capsys) -> None:
    """Before the fix `harness cache clear` left every download in place."""
    origin = zip_study(tmp_path / "cats_and_dogs_filtered.zip")
    datasets.cats_and_dogs(request(origin, tmp_path / "cache"))
    assert main(["cache", "info", "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert f"downloads: {tmp_path / 'cache' / cache.DOWNLOADS}" in out and "cats_and_dogs_filtered.zip" in out
    assert main(["cache", "clear", "--cache-dir", str(tmp_path / "cache")]) == 0
    assert not (tmp_path / "cache" / cache.DOWNLOADS).exists()
    assert cache.info(tmp_path / "cache")["downloads"] == []
