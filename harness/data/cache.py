"""The decode-once cache: image files decoded and resized once per size into ``uint8`` arrays on disk.

An entry is keyed by the file list (absolute paths, sizes, modification times, labels), the image size,
the channels, whether the EXIF orientation is applied and the decoder version, so it is shared by every
combination and every later run, and rebuilt when any file changes. Entries are ``<key>.npy`` arrays,
memory-mapped when read, with a ``<key>.json`` beside them (written last: an entry without one is incomplete
and rebuilt). A ``<key>.lock`` file serializes builds of one entry across processes; a build that died (even
by SIGKILL) leaves a temporary file that the next build of the entry removes.

The space an entry needs is reserved before any pixel is written (``posix_fallocate``), so a full disk is
an ``OSError`` that becomes a :class:`~harness.errors.DataError` naming the cache and the space needed,
never a ``SIGBUS`` from writing through the memory map. The json holds a CRC-32 of the pixels, checked when
the entry is read: an array changed in place is rebuilt, not trained on.

Downloads (``<cache_dir>/datasets``, see :data:`DOWNLOADS`) live in the same cache directory;
:func:`info` and :func:`clear` cover them too.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.decode import DECODER_VERSION, DecodeError, decode_image
from harness.data.names import shown
from harness.errors import DataError

SUBDIR = "decoded"
#: What ``flock`` fails with on a filesystem that has no locks.
_NO_LOCKS = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP)
#: Sub-folder of the cache directory where dataset plugins keep downloaded archives.
DOWNLOADS = "datasets"
#: Errors that mean "the disk is full" (space or quota).
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
Progress = Callable[[int, int], None]
Files = list[tuple[str, int]]


def default_cache_dir() -> Path:
    """``HARNESS_CACHE_DIR``, else ``$XDG_CACHE_HOME/harness``, else ``~/.cache/harness``."""
    if os.environ.get("HARNESS_CACHE_DIR"):
        return Path(os.environ["HARNESS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "harness"


def entry_key(files: Files, size: tuple[int, int], channels: int, exif_orientation: bool = True) -> str:
    """The cache key: what the decoded array depends on (a changed, added or removed file changes it; so does
    whether the EXIF orientation is applied)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([list(size), channels, DECODER_VERSION, bool(exif_orientation)]).encode())
    for path, label in files:
        try:
            stat = os.stat(path)
            tail = f"\0{stat.st_size}\0{stat.st_mtime_ns}\0{label}\n"
        except OSError:
            tail = f"\0missing\0{label}\n"
        digest.update(os.fsencode(os.path.abspath(path)) + tail.encode())  # any file name, UTF-8 or not
    return digest.hexdigest()[:24]


def _decode_into(
    images: np.ndarray, files: Files, size: tuple[int, int], channels: int, progress: Progress | None,
    exif_orientation: bool = True,
) -> tuple[np.ndarray, list[dict[str, str]]]:
    """Decode ``files`` into ``images`` (rows of failed files stay zero); the mask of good rows and the skipped."""
    ok = np.zeros(len(files), dtype=bool)
    skipped: list[dict[str, str]] = []

    def work(index: int) -> str | None:
        try:
            images[index] = decode_image(files[index][0], size, channels, exif_orientation)
        except DecodeError as exc:
            return str(exc)
        return None

    workers = max(1, min(8, os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        for index, error in enumerate(pool.map(work, range(len(files)))):
            if error is None:
                ok[index] = True
            else:
                skipped.append({"file": shown(files[index][0]), "reason": error})
            done = index + 1
            if progress is not None and (done % 256 == 0 or done == len(files)):
                progress(done, len(files))
    finally:  # on Ctrl-C, drop the files not started yet instead of decoding them all first
        pool.shutdown(wait=True, cancel_futures=True)
    return ok, skipped


def pixels_crc(images: np.ndarray) -> int:
    """CRC-32 of the pixels, in blocks (a few hundred MB/s: cheap next to decoding or training on them)."""
    crc, rows = 0, max(1, (64 << 20) // max(1, int(np.prod(images.shape[1:]))))
    for start in range(0, len(images), rows):
        crc = zlib.crc32(np.ascontiguousarray(images[start:start + rows]).data, crc)
    return crc


def _write_atomic(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_entry(
    array_path: Path, meta_path: Path, n_files: int, size: tuple[int, int], channels: int
) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]] | None:
    """A complete, consistent entry memory-mapped read-only, or ``None`` (missing or damaged: rebuild it)."""
    if not (array_path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        images = np.load(array_path, mmap_mode="r")
        ok = np.asarray(meta["ok"], dtype=bool)
        skipped = list(meta["skipped"])
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None
    expected = (n_files, size[0], size[1], channels)
    if images.shape != expected or images.dtype != np.uint8 or ok.shape != (n_files,) \
            or meta.get("decoder") != DECODER_VERSION or meta.get("crc32") != pixels_crc(images):
        return None  # damaged, or pixels changed in place since the build: rebuilt
    return images, ok, skipped


def _no_space(root: Path, needed: int) -> DataError:
    free = shutil.disk_usage(root).free if root.is_dir() else 0
    return DataError(f"no space left for the decoded-image cache {root}: it needs {needed / 2**20:.1f} MiB, "
                     f"{free / 2**20:.1f} MiB free (free some, or move the cache with --cache-dir or "
                     "HARNESS_CACHE_DIR)")


def _reserve(path: str, nbytes: int) -> None:
    """Allocate the file's blocks now, so that writing through a memory map cannot hit a full disk (SIGBUS)."""
    if not hasattr(os, "posix_fallocate"):  # pragma: no cover - macOS, Windows: the free-space check only
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, nbytes)
    finally:
        os.close(fd)


def _remove_leftovers(root: Path, key: str) -> None:
    """Temporary files of earlier builds of ``key`` that died (only with the entry's lock held: without locks,
    they may be another process's build in progress)."""
    for leftover in root.glob(f".{key}.*"):
        leftover.unlink(missing_ok=True)


def _build_entry(
    root: Path, key: str, files: Files, size: tuple[int, int], channels: int, progress: Progress | None,
    exif_orientation: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]]:
    """Decode straight into a memory-mapped ``.npy`` (no full copy in RAM), then publish it atomically."""
    array_path, meta_path = root / f"{key}.npy", root / f"{key}.json"
    shape = (len(files), size[0], size[1], channels)
    needed = int(np.prod(shape)) + 4096  # pixels and the .npy header (and the json, a few kB)
    if shutil.disk_usage(root).free < needed:
        raise _no_space(root, needed)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{key}.", suffix=".npy")
    os.close(fd)
    try:
        images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        _reserve(tmp, images.offset + images.nbytes)
        ok, skipped = _decode_into(images, files, size, channels, progress, exif_orientation)
        crc = pixels_crc(images)
        images.flush()
        del images
        meta = {"files": len(files), "size": list(size), "channels": channels, "decoder": DECODER_VERSION,
                "exif_orientation": exif_orientation, "ok": ok.tolist(), "skipped": skipped, "crc32": crc,
                "root": shown(os.path.commonpath([os.path.abspath(p) for p, _ in files])) if files else ""}
        os.replace(tmp, array_path)
        _write_atomic(meta_path, lambda handle: handle.write(json.dumps(meta)), mode="w")
    except BaseException as exc:
        for path in (tmp, array_path):  # no json: the array is of no use
            Path(path).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in NO_SPACE:
            raise _no_space(root, needed) from None
        raise
    return np.load(array_path, mmap_mode="r"), ok, skipped


@contextlib.contextmanager
def _building(root: Path, key: str) -> Iterator[bool]:
    """Hold ``<key>.lock`` while building, so parallel workers on a cold cache decode once, not once each;
    yields whether the lock is held (then no other process is building the entry)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        open(root / f"{key}.lock", "a").close()
    except OSError as exc:
        raise DataError(f"cannot write the decoded-image cache {root}: {exc.strerror} (choose another with "
                        "--cache-dir or HARNESS_CACHE_DIR)") from None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: concurrent builds stay correct, only duplicated
        yield False
        return
    with open(root / f"{key}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                raise
            # A shared filesystem without locks (NFS without lockd, Lustre without -o flock): build unlocked;
            # a concurrent build is duplicated work, not a corrupt entry (each publishes atomically).
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def decode_files(
    files: Files, size: tuple[int, int], channels: int, cache_dir: str | os.PathLike[str],
    progress: Progress | None = None, exif_orientation: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]]:
    """Decoded images of ``files`` (read-only memory map; zeros where decoding failed), the mask of the good
    ones, and the skipped files with the reason. Decodes only when the cache has no entry for ``files``.
    ``exif_orientation``: turn each image upright by its EXIF orientation (part of the key)."""
    root = Path(cache_dir) / SUBDIR
    key = entry_key(files, size, channels, exif_orientation)
    paths = (root / f"{key}.npy", root / f"{key}.json", len(files), size, channels)
    entry = _read_entry(*paths)
    if entry is not None:
        return entry
    with _building(root, key) as locked:
        entry = _read_entry(*paths)  # another process may have built it while this one waited
        if entry is not None:
            return entry
        if locked:
            _remove_leftovers(root, key)
        return _build_entry(root, key, files, size, channels, progress, exif_orientation)


def load_files(
    splits: dict[str, Files], size: tuple[int, int], channels: int,
    cache_dir: str | os.PathLike[str], progress: Progress | None = None, exif_orientation: bool = True,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[dict[str, str]]]:
    """Decode (or read from the cache) every split's files; undecodable files are dropped and listed.

    A split whose files all decoded is a view of the memory map (no copy); one with skipped files is copied.
    """
    arrays, _, skipped = load_split_files(splits, size, channels, cache_dir, progress, exif_orientation)
    return arrays, skipped


def load_split_files(
    splits: dict[str, Files], size: tuple[int, int], channels: int,
    cache_dir: str | os.PathLike[str], progress: Progress | None = None, exif_orientation: bool = True,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, np.ndarray], list[dict[str, str]]]:
    """:func:`load_files`, with each split's mask of the files kept (those that decoded, from the build or
    from the cache entry alike): what tells which file each row of a split's arrays is."""
    names = list(splits)
    everything = [item for name in names for item in splits[name]]
    images, ok, skipped = decode_files(everything, size, channels, cache_dir, progress, exif_orientation)
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    kept: dict[str, np.ndarray] = {}
    start = 0
    for name in names:
        stop = start + len(splits[name])
        mask = kept[name] = np.asarray(ok[start:stop], dtype=bool)
        labels = np.asarray([label for _, label in splits[name]], dtype=np.int32)
        block = images[start:stop]
        arrays[name] = (block, labels) if mask.all() else (np.ascontiguousarray(block[mask]), labels[mask])
        start = stop
    return arrays, kept, skipped


def _bytes_under(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, names in os.walk(path) for f in names
               if not os.path.islink(os.path.join(d, f)))


def info(cache_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Entries and total size of the decoded-image cache (leftovers of interrupted builds included in bytes),
    and the downloads (archives and their extracted folders) with their sizes."""
    root = Path(cache_dir) / SUBDIR
    entries = []
    for meta_path in sorted(root.glob("*.json")) if root.is_dir() else []:  # .lock files are not entries
        array_path = meta_path.with_suffix(".npy")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        entries.append({"key": meta_path.stem, "files": meta.get("files"), "size": meta.get("size"),
                        "channels": meta.get("channels"), "root": meta.get("root", ""),
                        "skipped": len(meta.get("skipped", [])),
                        "bytes": array_path.stat().st_size if array_path.exists() else 0,
                        "modified": meta_path.stat().st_mtime})
    total = sum(p.stat().st_size for p in root.iterdir() if p.is_file()) if root.is_dir() else 0
    downloads_root = Path(cache_dir) / DOWNLOADS
    downloads = [{"name": shown(p.name), "bytes": _bytes_under(p)}
                 for p in (sorted(downloads_root.iterdir()) if downloads_root.is_dir() else [])]
    return {"path": str(root), "entries": entries, "bytes": total, "downloads_path": str(downloads_root),
            "downloads": downloads, "downloads_bytes": sum(d["bytes"] for d in downloads)}


def clear(cache_dir: str | os.PathLike[str]) -> int:
    """Remove the decoded-image cache and the downloads; returns the bytes freed."""
    summary = info(cache_dir)
    for sub in (SUBDIR, DOWNLOADS):
        if (Path(cache_dir) / sub).is_dir():
            shutil.rmtree(Path(cache_dir) / sub)
    return int(summary["bytes"] + summary["downloads_bytes"])
