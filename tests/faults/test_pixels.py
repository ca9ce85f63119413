"""Correct pixels from every image mode Pillow opens, or a skip with the reason; photos upright by EXIF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data import cache
from harness.data.decode import DecodeError, decode_image

SIZE = (6, 8)


def _save(path: Path, image: Image.Image, **options: object) -> Path:
    image.save(path, **options)
    return path


def _uniform(mode: str, value: object) -> Image.Image:
    return Image.new(mode, (8, 6), value)  # type: ignore[arg-type]


def _sixteen_bit(value: int) -> Image.Image:
    return Image.fromarray(np.full((6, 8), value, dtype=np.uint16))  # mode I;16


def _palette(transparent: bool) -> Image.Image:
    image = Image.new("P", (8, 6), 1)
    image.putpalette([0, 0, 0, 200, 40, 10] + [0] * (3 * 254))
    if transparent:
        image.info["transparency"] = 1
    return image


#: (file name, image, the RGB value every pixel must decode to)
CASES = [
    ("gray16.png", _sixteen_bit(40000), (156, 156, 156)),  # 40000 * 255 / 65535 = 155.6
    ("gray16-dark.png", _sixteen_bit(1000), (4, 4, 4)),
    ("gray16.tif", _sixteen_bit(65535), (255, 255, 255)),
    ("int32.tif", _uniform("I", 30000), (117, 117, 117)),
    ("float.tif", _uniform("F", 0.25), (64, 64, 64)),
    ("bilevel.png", _uniform("1", 1), (255, 255, 255)),
    ("gray.png", _uniform("L", 77), (77, 77, 77)),
    ("palette.png", _palette(False), (200, 40, 10)),
    ("palette-transparent.png", _palette(True), (255, 255, 255)),  # transparent over white
    ("gray-alpha.png", _uniform("LA", (100, 255)), (100, 100, 100)),
    ("gray-half-alpha.png", _uniform("LA", (0, 128)), (127, 127, 127)),
    ("rgba.png", _uniform("RGBA", (10, 20, 30, 255)), (10, 20, 30)),
    ("cmyk.tif", _uniform("CMYK", (0, 255, 255, 0)), (255, 0, 0)),
    ("cmyk.jpg", _uniform("CMYK", (0, 255, 255, 0)), (255, 0, 0)),
    ("rgb.webp", _uniform("RGB", (30, 140, 220)), (30, 140, 220)),
]


@pytest.mark.parametrize(("name", "image", "expected"), CASES, ids=[case[0] for case in CASES])
def test_every_mode_decodes_to_correct_8_bit_rgb(tmp_path: Path, name: str, image: Image.Image,
                                                 expected: tuple[int, int, int]) -> None:
    path = _save(tmp_path / name, image, **({"quality": 100} if name.endswith(".jpg") else {}))
    array = decode_image(str(path), SIZE, 3)
    assert array.shape == (*SIZE, 3) and array.dtype == np.uint8
    tolerance = 3 if name.endswith((".jpg", ".webp")) else 1
    assert np.abs(array.astype(int) - np.array(expected)).max() <= tolerance, (Image.open(path).mode, array[0, 0])


def test_sixteen_bit_grayscale_keeps_its_gradient(tmp_path: Path) -> None:
    """The defect: a 16-bit PNG decoded to all 255 (Pillow clips I;16 to 8 bits)."""
    ramp = np.linspace(0, 65535, 8 * 6).reshape(6, 8).astype(np.uint16)
    path = _save(tmp_path / "ramp.png", Image.fromarray(ramp))
    array = decode_image(str(path), SIZE, 1)[:, :, 0]
    assert np.abs(array.astype(int) - np.rint(ramp / 257)).max() <= 1
    assert abs(float(array.mean()) - 127.5) < 1


@pytest.mark.parametrize(("mode", "value", "reason"), [
    ("F", 3.5, "floating-point pixels outside 0..1"),
    ("I", -5, "32-bit integer pixels outside 0..65535"),
])
def test_pixels_without_a_known_scale_are_skipped_with_the_reason(tmp_path: Path, mode: str, value: object,
                                                                  reason: str) -> None:
    path = _save(tmp_path / "odd.tif", _uniform(mode, value))
    with pytest.raises(DecodeError, match=reason):
        decode_image(str(path), SIZE, 3)
    _, ok, skipped = cache.decode_files([(str(path), 0)], SIZE, 3, tmp_path / "cache")
    assert not ok[0] and reason in skipped[0]["reason"]


def _sideways_photo(path: Path) -> Path:
    """A JPEG stored 8 wide x 4 high, its left half white, with EXIF orientation 6 (rotate 90 degrees
    clockwise to view): upright it is 4 wide x 8 high, its top half white."""
    array = np.zeros((4, 8, 3), dtype=np.uint8)
    array[:, :4] = 255
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(path, quality=100, exif=exif.tobytes())
    return path


def test_exif_orientation_is_applied_by_default_and_can_be_turned_off(tmp_path: Path) -> None:
    path = _sideways_photo(tmp_path / "phone.jpg")
    upright = decode_image(str(path), (8, 4), 1)[:, :, 0]
    assert upright[:4].mean() > 200 and upright[4:].mean() < 50  # top white, bottom black
    stored = decode_image(str(path), (4, 8), 1, exif_orientation=False)[:, :, 0]
    assert stored[:, :4].mean() > 200 and stored[:, 4:].mean() < 50  # as stored: left white


def test_the_exif_choice_is_part_of_the_cache_key(tmp_path: Path) -> None:
    files = [(str(_sideways_photo(tmp_path / "phone.jpg")), 0)]
    assert cache.entry_key(files, (8, 8), 1) != cache.entry_key(files, (8, 8), 1, exif_orientation=False)
    upright, _, _ = cache.decode_files(files, (8, 4), 1, tmp_path / "cache")
    stored, _, _ = cache.decode_files(files, (8, 4), 1, tmp_path / "cache", exif_orientation=False)
    assert not np.array_equal(upright, stored)


def test_the_image_folder_option_reaches_the_decoder(tmp_path: Path) -> None:
    from harness_vision import datasets

    from harness.data.prepare import _source
    from harness.specs import DatasetRequest

    for name in ("a", "b"):
        (tmp_path / "pics" / name).mkdir(parents=True)
        _sideways_photo(tmp_path / "pics" / name / "1.jpg")
    spec = next(s for s in datasets.harness_datasets_register(config=None) if s.name == "image_folder")

    def source(**params: object):  # type: ignore[no-untyped-def]
        request = DatasetRequest(params={**spec.params, "path": str(tmp_path / "pics"), **params},
                                 data_dir=None, cache_dir=str(tmp_path / "cache"), seed=1)
        return _source(spec, request)

    assert source().exif_orientation is True
    assert source(exif_orientation=False).exif_orientation is False
    assert source(exif_orientation="false").exif_orientation is False
    with pytest.raises(Exception, match="exif_orientation='sideways' is invalid"):
        source(exif_orientation="sideways")
