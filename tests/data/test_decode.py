from __future__ import annotations

import numpy as np
import pytest

from harness.data.decode import DecodeError, decode_image


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".gif"])
def test_decodes_and_resizes_to_height_width(tmp_path, suffix, make_image) -> None:
    path = make_image(tmp_path / f"a{suffix}", 128, size=(12, 10))
    array = decode_image(str(path), (8, 6), 3)
    assert array.shape == (8, 6, 3) and array.dtype == np.uint8
    assert abs(int(array.mean()) - 128) <= 3


def test_grayscale_to_one_channel_and_rgb(tmp_path, make_image) -> None:
    path = make_image(tmp_path / "g.png", 77, mode="L")
    assert decode_image(str(path), (10, 12), 1).shape == (10, 12, 1)
    assert decode_image(str(path), (10, 12), 3).shape == (10, 12, 3)


def test_rgba_is_composited_on_white(tmp_path, make_image) -> None:
    path = make_image(tmp_path / "a.png", 0, mode="RGBA")
    assert decode_image(str(path), (10, 12), 3).shape == (10, 12, 3)


def test_not_an_image_and_missing_file(tmp_path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DecodeError, match="not an image"):
        decode_image(str(bad), (8, 8), 3)
    with pytest.raises(DecodeError, match="not found"):
        decode_image(str(tmp_path / "nope.png"), (8, 8), 3)
