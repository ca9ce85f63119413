"""Bad files in a dataset: every one is skipped and listed with its reason, never a hang or a crash."""

from __future__ import annotations

import json
import os
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from harness_vision import folders

from harness import DataError
from harness.data import cache
from harness.store import dumps
from tests.faults.conftest import write_png

SIZE = (8, 8)


def decoded(files: list[tuple[str, int]], tmp_path: Path) -> tuple[np.ndarray, dict[str, str]]:
    """The mask of good files and ``{file: reason}`` of the skipped ones."""
    _, ok, skipped = cache.decode_files(files, SIZE, 3, tmp_path / "cache")
    return ok, {entry["file"]: entry["reason"] for entry in skipped}


def _png_bytes(tmp_path: Path) -> bytes:
    return write_png(tmp_path / "source.png", 90).read_bytes()


BAD_FILES = {
    "empty": lambda good: b"",
    "text": lambda good: b"this is not an image\n" * 10,
    "random": lambda good: np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    "png-header-only": lambda good: good[:33],
    "truncated-png": lambda good: good[: len(good) // 2],
    "jpeg-header-only": lambda good: b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    "gif-header-only": lambda good: b"GIF89a\x10\x00\x10\x00\x80\x00\x00",
    "bmp-bad-size": lambda good: b"BM" + (10**9).to_bytes(4, "little") + b"\0" * 50,
    "png-bad-crc": lambda good: good[:29] + bytes([good[29] ^ 0xFF]) + good[30:],
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_corrupt_file_is_skipped_with_its_reason(tmp_path, kind) -> None:
    good = write_png(tmp_path / "good.png", 60)
    bad = tmp_path / f"{kind}.jpg"
    bad.write_bytes(BAD_FILES[kind](_png_bytes(tmp_path)))
    ok, skipped = decoded([(str(good), 0), (str(bad), 1)], tmp_path)
    assert ok.tolist() == [True, False]
    assert list(skipped) == [str(bad)] and skipped[str(bad)]


def test_a_decompression_bomb_is_skipped(tmp_path) -> None:
    """A PNG header claiming 100,000 x 100,000 pixels is refused, not allocated."""
    header = b"\x89PNG\r\n\x1a\n"
    ihdr = b"IHDR" + (100_000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    chunk = len(ihdr[4:]).to_bytes(4, "big") + ihdr + zlib.crc32(ihdr).to_bytes(4, "big")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(header + chunk + b"\0" * 100)
    ok, skipped = decoded([(str(bomb), 0)], tmp_path)
    assert not ok[0] and skipped[str(bomb)]


def test_a_fifo_named_jpg_is_skipped_without_blocking(tmp_path) -> None:
    """Opening a FIFO blocks until a writer comes: only regular files are opened. (Before the fix the decoder
    waited here for ever; the writer thread below lets the old code through, to fail on the reason.)"""
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)

    def writer() -> None:
        try:
            with open(fifo, "wb") as handle:
                handle.write(b"not an image")
        except OSError:
            pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        ok, skipped = decoded([(str(write_png(tmp_path / "a.png", 1)), 0), (str(fifo), 1)], tmp_path)
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # releases the writer
        thread.join()
    assert ok.tolist() == [True, False]
    assert skipped == {str(fifo): "not a regular file"}


def test_a_device_named_jpg_is_skipped(tmp_path) -> None:
    device = tmp_path / "zero.jpg"
    device.symlink_to("/dev/zero")
    ok, skipped = decoded([(str(device), 0)], tmp_path)
    assert skipped == {str(device): "not a regular file"}


def test_a_missing_file_is_skipped(tmp_path) -> None:
    ok, skipped = decoded([(str(tmp_path / "gone.png"), 0)], tmp_path)
    assert skipped == {str(tmp_path / "gone.png"): "file not found"}


def test_a_file_name_that_is_not_utf8_is_decoded_and_recorded(tmp_path) -> None:
    name = os.fsdecode(b"caf\xe9-latin1.png")  # Latin-1, not UTF-8: Python keeps the byte as a surrogate
    good = write_png(tmp_path / name, 120)
    broken = tmp_path / os.fsdecode(b"bad\xff.jpg")
    broken.write_bytes(b"junk")
    ok, skipped = decoded([(str(good), 0), (str(broken), 1)], tmp_path)
    assert ok.tolist() == [True, False]
    (shown,) = skipped
    assert shown.endswith("bad\\xff.jpg")  # UTF-8 text, the byte escaped
    line = dumps({"file": str(good), "skipped": skipped})
    assert json.loads(line)["file"].endswith("caf\\xe9-latin1.png")
    line.encode("utf-8")  # any UTF-8 reader can take the record


def test_a_class_folder_name_that_is_not_utf8_is_a_printable_class(tmp_path) -> None:
    root = tmp_path / "root"
    write_png(root / os.fsdecode(b"chats-\xe9t\xe9") / "1.png", 10)
    write_png(root / "dogs" / "1.png", 200)
    scanned = folders.scan(root)
    assert scanned.class_names == ("chats-\\xe9t\\xe9", "dogs")
    (path,) = scanned.images["chats-\\xe9t\\xe9"]
    assert os.path.isfile(path)  # the real path is kept


def test_a_link_to_the_root_is_no_extra_class(folder) -> None:
    (folder / "loop").symlink_to(folder)
    scanned = folders.scan(folder)
    assert scanned.class_names == ("cats", "dogs")
    assert [link["file"] for link in scanned.skipped_links] == [str(folder / "loop")]
    assert "cycle" in scanned.skipped_links[0]["reason"]


def test_a_link_to_a_parent_of_the_root_is_skipped(folder) -> None:
    (folder / "cats" / "up").symlink_to(folder.parent)
    (folder / "up").symlink_to(folder.parent)
    scanned = folders.scan(folder)
    assert scanned.class_names == ("cats", "dogs")
    assert [link["file"] for link in scanned.skipped_links] == [str(folder / "up")]


def test_a_linked_image_inside_the_tree_is_a_skipped_duplicate(folder) -> None:
    (folder / "cats" / "copy.png").symlink_to(folder / "dogs" / "0.png")
    (folder / "dogs_too").symlink_to(folder / "dogs")
    scanned = folders.scan(folder)
    assert scanned.class_names == ("cats", "dogs")
    assert str(folder / "cats" / "copy.png") not in scanned.images["cats"]
    assert {Path(link["file"]).name for link in scanned.skipped_links} == {"copy.png", "dogs_too"}
    assert all("duplicate" in link["reason"] for link in scanned.skipped_links)


def test_links_out_of_the_tree_are_followed(tmp_path, folder) -> None:
    elsewhere = write_png(tmp_path / "elsewhere" / "birds" / "1.png", 100).parent
    (folder / "birds").symlink_to(elsewhere)
    (folder / "cats" / "outside.png").symlink_to(write_png(tmp_path / "outside.png", 30))
    scanned = folders.scan(folder)
    assert scanned.class_names == ("birds", "cats", "dogs") and not scanned.skipped_links
    assert str(folder / "cats" / "outside.png") in scanned.images["cats"]


def test_cached_pixels_changed_in_place_are_detected_and_rebuilt(tmp_path, folder) -> None:
    files = [(str(folder / "cats" / f"{i}.png"), 0) for i in range(4)]
    images, _, _ = cache.decode_files(files, SIZE, 3, tmp_path / "cache")
    original = np.array(images)
    (array_path,) = (tmp_path / "cache" / cache.SUBDIR).glob("*.npy")
    tampered = np.load(array_path, mmap_mode="r+")
    tampered[1] = 255 - tampered[1]  # same size, same file, other pixels
    tampered.flush()
    del tampered
    again, _, _ = cache.decode_files(files, SIZE, 3, tmp_path / "cache")
    np.testing.assert_array_equal(again, original)


def test_a_killed_build_leaves_no_temporary_file(tmp_path, folder) -> None:
    """SIGKILL leaves the temporary array of a build behind; the next build of the entry removes it."""
    files = [(str(folder / "dogs" / f"{i}.png"), 1) for i in range(3)]
    root = tmp_path / "cache" / cache.SUBDIR
    root.mkdir(parents=True)
    key = cache.entry_key(files, SIZE, 3)
    (root / f".{key}.x1y2z3.npy").write_bytes(b"\x93NUMPY half written")
    (root / f".{key}.json.a1b2c3").write_text("{")
    cache.decode_files(files, SIZE, 3, tmp_path / "cache")
    assert sorted(p.name for p in root.iterdir()) == sorted([f"{key}.npy", f"{key}.json", f"{key}.lock"])


def test_a_cache_directory_that_cannot_be_created_is_one_line(tmp_path, folder) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache should be")
    with pytest.raises(DataError, match=f"cannot write the decoded-image cache {blocker / cache.SUBDIR}"):
        cache.decode_files([(str(folder / "cats" / "0.png"), 0)], SIZE, 3, blocker)
