from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from harness.data import cache

SIZE = (8, 6)


def _decode_calls(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = cache.decode_image

    def counting(path, size, channels, exif_orientation=True):
        calls.append(path)
        return real(path, size, channels, exif_orientation)

    monkeypatch.setattr(cache, "decode_image", counting)
    return calls


def test_second_call_is_a_hit_and_memory_mapped(tmp_path, image_files, monkeypatch) -> None:
    calls = _decode_calls(monkeypatch)
    first, ok, skipped = cache.decode_files(image_files, SIZE, 3, tmp_path / "c")
    assert len(calls) == 6 and ok.all() and skipped == []
    assert isinstance(first, np.memmap) and not first.flags.writeable
    second, _, _ = cache.decode_files(image_files, SIZE, 3, tmp_path / "c")
    assert len(calls) == 6, "the second call decoded again: the cache was not hit"
    assert isinstance(second, np.memmap)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (6, *SIZE, 3) and first.dtype == np.uint8
    assert [int(v) for v in second[:, 0, 0, 0]] == [0, 10, 20, 30, 40, 50]


def test_changed_file_invalidates(tmp_path, image_files, monkeypatch, make_image) -> None:
    cache.decode_files(image_files, SIZE, 3, tmp_path / "c")
    path = Path(image_files[2][0])
    stat = path.stat()
    make_image(path, 200, size=(13, 10))  # different content and size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    calls = _decode_calls(monkeypatch)
    images, _, _ = cache.decode_files(image_files, SIZE, 3, tmp_path / "c")
    assert len(calls) == 6
    assert int(images[2, 0, 0, 0]) == 200
    assert len(cache.info(tmp_path / "c")["entries"]) == 2  # the old entry stays until `harness cache clear`


@pytest.mark.parametrize("change", ["size", "channels", "label", "added", "removed"])
def test_key_depends_on_everything_the_array_does(image_files, change) -> None:
    base = cache.entry_key(image_files, SIZE, 3)
    files, size, channels = list(image_files), SIZE, 3
    if change == "size":
        size = (6, 8)
    elif change == "channels":
        channels = 1
    elif change == "label":
        files[0] = (files[0][0], 1 - files[0][1])
    elif change == "added":
        files.append(files[0])
    else:
        files.pop()
    assert cache.entry_key(files, size, channels) != base
    assert cache.entry_key(list(image_files), SIZE, 3) == base


def test_key_changes_with_decoder_version(image_files, monkeypatch) -> None:
    base = cache.entry_key(image_files, SIZE, 3)
    monkeypatch.setattr(cache, "DECODER_VERSION", "something-else")
    assert cache.entry_key(image_files, SIZE, 3) != base


def test_damaged_or_incomplete_entry_is_rebuilt(tmp_path, image_files, monkeypatch) -> None:
    cache.decode_files(image_files, SIZE, 3, tmp_path / "c")
    root = tmp_path / "c" / cache.SUBDIR
    key = cache.entry_key(image_files, SIZE, 3)
    (root / f"{key}.npy").write_bytes(b"truncated")
    calls = _decode_calls(monkeypatch)
    images, ok, _ = cache.decode_files(image_files, SIZE, 3, tmp_path / "c")
    assert len(calls) == 6 and ok.all() and images.shape == (6, *SIZE, 3)
    (root / f"{key}.json").unlink()  # an interrupted build: array without its metadata
    cache.decode_files(image_files, SIZE, 3, tmp_path / "c")
    assert len(calls) == 12
    assert not [p for p in root.iterdir() if p.name.startswith(".")], "temporary files were left behind"


def test_concurrent_builds_decode_once(tmp_path, image_files, monkeypatch) -> None:
    import threading

    calls = _decode_calls(monkeypatch)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.decode_files(image_files, SIZE, 3, tmp_path / "c")))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 and len(calls) == 6
    for images, ok, _ in results:
        assert ok.all() and int(images[5, 0, 0, 0]) == 50


def test_undecodable_files_are_skipped_and_listed(tmp_path, image_files) -> None:
    bad = tmp_path / "img" / "broken.jpg"
    bad.write_bytes(b"garbage")
    splits = {"train": image_files[:4] + [(str(bad), 0)], "validation": image_files[4:]}
    arrays, skipped = cache.load_files(splits, SIZE, 3, tmp_path / "c")
    assert [s["file"] for s in skipped] == [str(bad)] and "not an image" in skipped[0]["reason"]
    assert arrays["train"][0].shape == (4, *SIZE, 3)
    assert arrays["train"][1].tolist() == [0, 1, 0, 1]
    assert arrays["validation"][1].tolist() == [0, 1]
    again, skipped_again = cache.load_files(splits, SIZE, 3, tmp_path / "c")  # skipped list comes from the cache
    assert skipped_again == skipped
    np.testing.assert_array_equal(again["train"][0], arrays["train"][0])


def test_clean_splits_are_views_of_the_memory_map(tmp_path, image_files) -> None:
    arrays, _ = cache.load_files({"train": image_files[:4], "test": image_files[4:]}, SIZE, 3, tmp_path / "c")
    assert isinstance(arrays["train"][0], np.memmap) and isinstance(arrays["test"][0], np.memmap)
    assert [int(v) for v in arrays["test"][0][:, 0, 0, 0]] == [40, 50]


def test_info_and_clear(tmp_path, image_files) -> None:
    assert cache.info(tmp_path / "c") == {"path": str(tmp_path / "c" / cache.SUBDIR), "entries": [], "bytes": 0,
                                          "downloads_path": str(tmp_path / "c" / cache.DOWNLOADS),
                                          "downloads": [], "downloads_bytes": 0}
    cache.decode_files(image_files, SIZE, 3, tmp_path / "c")
    summary = cache.info(tmp_path / "c")
    (entry,) = summary["entries"]
    assert entry["files"] == 6 and entry["size"] == list(SIZE) and entry["channels"] == 3
    assert entry["bytes"] >= 6 * 8 * 6 * 3 and summary["bytes"] >= entry["bytes"]
    assert entry["root"] == str(Path(image_files[0][0]).parent)
    assert cache.clear(tmp_path / "c") == summary["bytes"]
    assert not (tmp_path / "c" / cache.SUBDIR).exists()
    assert cache.clear(tmp_path / "c") == 0


def test_default_cache_dir(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "x"))
    assert cache.default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("HARNESS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache_dir() == tmp_path / "xdg" / "harness"


def test_cli_cache_info_and_clear(tmp_path, image_files, capsys) -> None:
    from harness.cli import main

    cache.decode_files(image_files, SIZE, 3, tmp_path / "c")
    assert main(["cache", "info", "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "6 files" in out and "1 entry " in out
    assert main(["cache", "clear", "--cache-dir", str(tmp_path / "c")]) == 0
    assert "cleared" in capsys.readouterr().out
    assert cache.info(tmp_path / "c")["entries"] == []


@pytest.mark.parametrize("code", ["ENOLCK", "ENOSYS"])
def test_a_filesystem_without_locks_builds_unlocked(tmp_path, image_files, monkeypatch, code) -> None:
    """A shared cache on NFS without lockd (ENOLCK) or Lustre without -o flock (ENOSYS): the flock call fails
    there; the entry is built anyway, and other errors still raise."""
    import errno
    import fcntl

    def refuse(handle, operation):
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    monkeypatch.setattr(fcntl, "flock", refuse)
    images, ok, _ = cache.decode_files(image_files, SIZE, 3, tmp_path / "c")
    assert ok.all() and [int(v) for v in images[:, 0, 0, 0]] == [0, 10, 20, 30, 40, 50]

    def broken(handle, operation):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(fcntl, "flock", broken)
    with pytest.raises(OSError, match="I/O error"):
        cache.decode_files(image_files[:3], SIZE, 3, tmp_path / "c")
