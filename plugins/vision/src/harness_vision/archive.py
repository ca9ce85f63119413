"""Downloading an archive into the cache with a checksum, and extracting it without escaping the target.

An archive that turns out damaged (not a zip, a member's CRC wrong, cut short) is deleted when it fails,
so the next attempt fetches it again instead of reusing the broken copy forever.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.parse
import zipfile
import zlib
from pathlib import Path

from harness import DOWNLOADS_SUBDIR, DataError

#: Sub-folder of the cache directory that downloads go to (``harness cache info``/``clear`` cover it).
CACHE_SUBDIR = DOWNLOADS_SUBDIR


class DamagedArchive(DataError):
    """An archive that cannot be read; it has been deleted, so that it is fetched again."""


class DownloadFailed(DataError):
    """A download that could not be made (no network, a host that refuses, a missing file): the message says
    the URL and the cause."""


def failure_cause(exc: BaseException) -> str:
    """Why a download failed, in a few words: ``HTTP 404 Not Found``, ``Connection refused``, ``Name or
    service not known``... Keras's ``get_file`` raises a bare ``Exception`` whose context is urllib's error."""
    import urllib.error

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, urllib.error.HTTPError):
            return f"HTTP {seen.code} {seen.msg}".strip()
        if isinstance(seen, urllib.error.URLError):
            reason = seen.reason
            if isinstance(reason, OSError):
                return reason.strerror or str(reason)
            return str(reason)
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return " ".join(str(exc).split()) or type(exc).__name__


def sha256_of(path: Path) -> str:
    """The hex sha256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_dir(cache_dir: str) -> Path:
    """``<cache_dir>/datasets``, created; refused when not writable (``get_file`` would silently use /tmp)."""
    folder = Path(cache_dir).expanduser() / CACHE_SUBDIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the download cache {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise DataError(f"the download cache {folder} is not writable")
    return folder


def download(url: str, sha256: str | None, cache_dir: str) -> Path:
    """Fetch ``url`` into ``<cache_dir>/datasets`` unless already there; check its sha256 when given.

    A cached file whose checksum does not match is fetched again; a fresh download that does not match
    is deleted and reported as a :class:`~harness.DataError` naming the URL and both checksums.
    """
    import keras

    folder = _download_dir(cache_dir)
    fname = os.path.basename(urllib.parse.urlsplit(url).path)
    if not fname:
        raise DataError(f"cannot tell a file name from the download URL {url!r}")
    try:
        path = keras.utils.get_file(fname=fname, origin=url, file_hash=sha256, hash_algorithm="sha256",
                                    cache_dir=str(folder.parent), cache_subdir=CACHE_SUBDIR)
    except ValueError:
        target = folder / fname
        actual = sha256_of(target) if target.exists() else "nothing"
        target.unlink(missing_ok=True)
        raise DataError(f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual}") from None
    except Exception as exc:  # get_file raises a bare Exception on a failed fetch
        raise DownloadFailed(f"cannot download {url} ({failure_cause(exc)})") from None
    return Path(path)


def _check_member(name: str, root: Path, archive: Path) -> None:
    """Refuse a member that would land outside ``root`` (absolute path, ``..``)."""
    destination = (root / name).resolve()
    if destination != root and root not in destination.parents:
        raise DataError(f"unsafe archive {archive}: member {name!r} would be extracted outside {root}")


def _extract_into(stream: zipfile.ZipFile, target: Path) -> None:
    """Extract into a scratch folder next to ``target``, then rename it, so ``target`` is never half-written."""
    partial = Path(tempfile.mkdtemp(prefix=f"{target.name}.partial-", dir=target.parent))
    try:
        stream.extractall(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    try:
        partial.rename(target)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
        if not target.is_dir():  # else another process finished the same extraction first
            raise


def extract_zip(archive: Path, target: Path) -> Path:
    """Extract the zip ``archive`` to the folder ``target`` unless it exists; returns ``target``.

    Refuses (:class:`~harness.DataError`) an archive whose members would land outside ``target``; one
    that is not a valid zip is deleted and refused as :class:`DamagedArchive`.
    """
    if target.is_dir():
        return target
    try:
        with zipfile.ZipFile(archive) as stream:
            root = target.resolve()
            for name in stream.namelist():
                _check_member(name, root, archive)
            _extract_into(stream, target)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        archive.unlink(missing_ok=True)
        raise DamagedArchive(f"{archive} is not a valid zip archive ({exc}): deleted, to be fetched again") \
            from None
    return target
