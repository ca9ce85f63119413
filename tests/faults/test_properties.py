"""Property tests: random bytes, random image headers and random file names into the dataset loader, random
text into the configuration parser. Nothing may hang or crash: a file is decoded or skipped with a reason, a
configuration is read or refused with a one-line :class:`~harness.UsageError`."""

from __future__ import annotations

import argparse
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from harness_vision import folders
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import DataError, UsageError
from harness.config import RUN_OPTIONS, find_config_file, resolve_options
from harness.data import cache
from harness.data.decode import DecodeError, decode_image
from harness.store import dumps

#: Bounded and derandomized: the same examples every run, whatever the machine's speed.
BOUNDED = settings(max_examples=60, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow])


def _image(fmt: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((6, 5, 3), 77, np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


HEADERS = [_image(fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP")]


def _decodes_or_refuses(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.jpg"
        path.write_bytes(data)
        try:
            array = decode_image(str(path), (4, 3), 3)
        except DecodeError as exc:
            assert str(exc)
        else:
            assert array.shape == (4, 3, 3) and array.dtype == np.uint8


@BOUNDED
@given(st.binary(max_size=2048))
def test_random_bytes_are_decoded_or_refused(data: bytes) -> None:
    _decodes_or_refuses(data)


@BOUNDED
@given(st.sampled_from(HEADERS), st.integers(0, 200), st.binary(max_size=512), st.integers(0, 255))
def test_damaged_images_are_decoded_or_refused(image: bytes, cut: int, tail: bytes, flip: int) -> None:
    """A real header, cut short, with random bytes after it and one byte changed."""
    data = bytearray(image[: max(1, len(image) - cut)] + tail)
    data[flip % len(data)] ^= 0x5A
    _decodes_or_refuses(bytes(data))


NAME = st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b".."))


@BOUNDED
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), NAME), min_size=1, max_size=6, unique_by=lambda t: t[1]),
       st.lists(NAME, min_size=2, max_size=2, unique=True))
def test_random_file_names_are_listed_decoded_and_recorded(files, classes) -> None:
    """Any byte string the file system takes as a name: the folder is listed (or refused as a layout) and
    decoded; what is recorded is UTF-8 text."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "root"
        for class_name in classes:
            (root / os.fsdecode(class_name)).mkdir(parents=True)
        good = HEADERS[0]
        for which, name in files:
            target = root / os.fsdecode(classes[0] if which == "a" else classes[1]) / os.fsdecode(name + b".png")
            target.write_bytes(good if len(name) % 2 else b"junk")
        try:
            scanned = folders.scan(root)
        except DataError as exc:
            assert str(root) in str(exc)
            return
        listed = folders.labelled(scanned, scanned.class_names)
        _, ok, skipped = cache.decode_files(listed, (4, 4), 3, Path(folder) / "cache")
        assert len(ok) == len(listed) and len(skipped) == len(listed) - int(ok.sum())
        dumps({"classes": scanned.class_names, "skipped": skipped}).encode("utf-8")


KEYS = st.sampled_from([opt.dest for opt in RUN_OPTIONS] + ["params", "datasets", "presets", "budgets", "x"])
SCALARS = st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False),
                    st.booleans(), st.text(max_size=8).map(repr))
VALUES = st.one_of(SCALARS.map(str), st.lists(SCALARS.map(str), max_size=3).map(lambda v: "[" + ", ".join(v) + "]"))


def _read(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "harness.toml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            file = find_config_file(Path(folder))
            resolve_options(argparse.Namespace(), file, {})
        except UsageError as exc:
            assert "\n" not in str(exc).strip() or "invalid TOML" in str(exc)


@BOUNDED
@given(st.binary(max_size=300))
def test_random_bytes_as_configuration_are_read_or_refused(data: bytes) -> None:
    _read(data)


@BOUNDED
@given(st.lists(st.tuples(KEYS, VALUES), max_size=6))
def test_random_configuration_values_are_read_or_refused(pairs) -> None:
    _read("".join(f"{key} = {value}\n" for key, value in dict(pairs).items()))
