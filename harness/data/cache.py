"""The decode-once cache: image files decoded and resized once per size into ``uint8`` arrays on disk.

An entry is keyed by the file list (paths, sizes, modification times, labels), the image size, the
channels and the decoder version, so it is shared by every combination and every later run, and rebuilt
when any file changes. Entries are ``.npy`` arrays (memory-mapped when read) with a ``.json`` beside them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.decode import DECODER_VERSION, DecodeError, decode_image

SUBDIR = "decoded"
Progress = Callable[[int, int], None]


def default_cache_dir() -> Path:
    """``HARNESS_CACHE_DIR``, else ``$XDG_CACHE_HOME/harness``, else ``~/.cache/harness``."""
    if os.environ.get("HARNESS_CACHE_DIR"):
        return Path(os.environ["HARNESS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "harness"


def _key(files: list[tuple[str, int]], size: tuple[int, int], channels: int) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([list(size), channels, DECODER_VERSION]).encode())
    for path, label in files:
        try:
            stat = os.stat(path)
            digest.update(f"{os.path.abspath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\0{label}\n".encode())
        except OSError:
            digest.update(f"{os.path.abspath(path)}\0missing\0{label}\n".encode())
    return digest.hexdigest()[:24]


def _decode_all(
    files: list[tuple[str, int]], size: tuple[int, int], channels: int, progress: Progress | None
) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]]:
    images = np.zeros((len(files), size[0], size[1], channels), dtype=np.uint8)
    ok = np.zeros(len(files), dtype=bool)
    skipped: list[dict[str, str]] = []

    def work(index: int) -> tuple[int, str | None]:
        try:
            images[index] = decode_image(files[index][0], size, channels)
        except DecodeError as exc:
            return index, str(exc)
        return index, None

    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, (index, error) in enumerate(pool.map(work, range(len(files))), start=1):
            if error is None:
                ok[index] = True
            else:
                skipped.append({"file": files[index][0], "reason": error})
            if progress is not None and (done % 256 == 0 or done == len(files)):
                progress(done, len(files))
    return images, ok, skipped


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


def decode_files(
    files: list[tuple[str, int]], size: tuple[int, int], channels: int, cache_dir: str | os.PathLike[str],
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]]:
    """Decoded images of ``files`` (or zeros where they failed), a mask of the good ones, and the skipped list."""
    root = Path(cache_dir) / SUBDIR
    key = _key(files, size, channels)
    array_path, meta_path = root / f"{key}.npy", root / f"{key}.json"
    if array_path.is_file() and meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            images = np.load(array_path, mmap_mode="r")
            if images.shape[0] == len(files):
                return images, np.asarray(meta["ok"], dtype=bool), meta["skipped"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged entry is rebuilt below
    images, ok, skipped = _decode_all(files, size, channels, progress)
    root.mkdir(parents=True, exist_ok=True)
    _write_atomic(array_path, lambda handle: np.save(handle, images))
    meta = {"files": len(files), "size": list(size), "channels": channels, "ok": ok.tolist(), "skipped": skipped,
            "decoder": DECODER_VERSION}
    _write_atomic(meta_path, lambda handle: handle.write(json.dumps(meta)), mode="w")
    return images, ok, skipped


def load_files(
    splits: dict[str, list[tuple[str, int]]], size: tuple[int, int], channels: int,
    cache_dir: str | os.PathLike[str], progress: Progress | None = None,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[dict[str, str]]]:
    """Decode (or read from the cache) every split's files; undecodable files are dropped and listed."""
    names = list(splits)
    everything = [item for name in names for item in splits[name]]
    images, ok, skipped = decode_files(everything, size, channels, cache_dir, progress)
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    start = 0
    for name in names:
        stop = start + len(splits[name])
        mask = ok[start:stop]
        labels = np.asarray([label for _, label in splits[name]], dtype=np.int32)
        arrays[name] = (np.ascontiguousarray(images[start:stop][mask]), labels[mask])
        start = stop
    return arrays, skipped


def info(cache_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Entries and total size of the decoded-image cache."""
    root = Path(cache_dir) / SUBDIR
    entries = []
    for meta_path in sorted(root.glob("*.json")) if root.is_dir() else []:
        array_path = meta_path.with_suffix(".npy")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        entries.append({"key": meta_path.stem, "files": meta.get("files"), "size": meta.get("size"),
                        "bytes": array_path.stat().st_size if array_path.exists() else 0})
    return {"path": str(root), "entries": entries, "bytes": sum(e["bytes"] for e in entries)}


def clear(cache_dir: str | os.PathLike[str]) -> int:
    """Remove the decoded-image cache; returns the bytes freed."""
    root = Path(cache_dir) / SUBDIR
    freed = info(cache_dir)["bytes"]
    if root.is_dir():
        shutil.rmtree(root)
    return int(freed)
