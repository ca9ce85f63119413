"""Decoding one image file into a ``uint8`` array of a fixed size.

Only regular files are images: a FIFO, a device or a socket named ``*.jpg`` is refused without reading it
(opening never blocks).
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
from typing import Any, BinaryIO

import numpy as np

#: Bump when decoding changes, so cached arrays are rebuilt.
DECODER_VERSION = "pil-bilinear-2"  # 2: 16-bit and float pixels scaled, EXIF orientation


class DecodeError(Exception):
    """A file that is not a readable image; the message says why."""


def _open_regular(path: str) -> BinaryIO:
    """``path`` opened for reading if it is a regular file; :class:`DecodeError` otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO would block a plain open
    except FileNotFoundError:
        raise DecodeError("file not found") from None
    except OSError as exc:
        raise DecodeError(f"cannot open: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DecodeError("not a regular file")
    return os.fdopen(fd, "rb")


#: Modes of 16-bit unsigned pixels (16-bit grayscale PNG and TIFF): scaled by 255/65535.
SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
#: Modes Pillow converts to 8-bit RGB correctly by itself (colour spaces, bilevel, padded RGB).
TO_RGB = ("1", "CMYK", "YCbCr", "LAB", "HSV", "RGBX")
#: Modes with alpha (premultiplied or with a palette), and the straight-alpha mode Pillow converts them to.
WITH_ALPHA = {"RGBA": "RGBA", "LA": "LA", "PA": "RGBA", "RGBa": "RGBA", "La": "LA"}


def _scaled(image: Any) -> Any:
    """A 16-bit (``I;16``), 32-bit integer (``I``) or floating-point (``F``) image as 8-bit ``L``, each value
    scaled to 0-255 by the range its mode implies: 0-65535 (``I;16``; ``I`` when its values fit, as Pillow
    opens some 16-bit files), 0-1 (``F``). Values outside that range have no known scale: a
    :class:`DecodeError` (the file is skipped with the reason) rather than clipped pixels."""
    from PIL import Image

    array = np.asarray(image)
    if image.mode == "F":
        if not (np.isfinite(array).all() and array.min() >= 0.0 and array.max() <= 1.0):
            raise DecodeError(f"floating-point pixels outside 0..1 (mode F, {array.min():g}..{array.max():g}): "
                              "no known scale to 8 bits")
        scale = 255.0
    else:
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise DecodeError(f"32-bit integer pixels outside 0..65535 (mode {image.mode}): no known scale "
                              "to 8 bits")
        scale = 255.0 / 65535.0
    return Image.fromarray(np.rint(array.astype(np.float64) * scale).astype(np.uint8), mode="L")


def eight_bit(image: Any) -> Any:
    """``image`` in one of ``L``, ``LA``, ``RGB``, ``RGBA`` (8 bits a channel), whatever mode Pillow opened it
    in: 16-bit and float pixels scaled (:func:`_scaled`), a palette expanded (with its transparency), other
    colour spaces converted. A mode with no correct conversion is a :class:`DecodeError` naming it."""
    mode = image.mode
    if mode in ("L", "RGB", "RGBA", "LA"):
        return image
    if mode in SIXTEEN_BIT or mode in ("I", "F"):
        return _scaled(image)
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in WITH_ALPHA:
        return image.convert("RGBA") if mode != "La" else image.convert("RGBA").convert("LA")
    if mode in TO_RGB:
        return image.convert("RGB")
    raise DecodeError(f"image mode {mode} is not supported")


def _flatten(image: Any, mode: str) -> Any:
    """An 8-bit image (:func:`eight_bit`) as ``mode`` (``L`` or ``RGB``): transparent pixels over white."""
    from PIL import Image

    if image.mode in ("RGBA", "LA"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert(mode)


def _upright(image: Any) -> Any:
    """``image`` turned by its EXIF orientation tag (``ImageOps.exif_transpose``); as stored when its EXIF
    block cannot be read (the pixels are good, their orientation unknown)."""
    from PIL import ImageOps

    try:
        return ImageOps.exif_transpose(image)
    except (SyntaxError, ValueError, TypeError, KeyError, struct.error):
        return image


def decode_image(path: str, size: tuple[int, int], channels: int, exif_orientation: bool = True) -> np.ndarray:
    """Read ``path`` (any mode Pillow opens: 8 or 16 bits, palette, alpha, CMYK...), as correct 8-bit pixels
    (:func:`eight_bit`), turned upright by its EXIF orientation as image viewers show it (unless
    ``exif_orientation`` is false: Keras's loader ignores it), and resized to ``size`` (height, width)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _open_regular(path) as stream, Image.open(stream) as opened:
                opened.seek(0)  # first frame of an animated GIF
                image: Image.Image = opened
                if exif_orientation:
                    image = _upright(image)
                converted = _flatten(eight_bit(image), "L" if channels == 1 else "RGB")
                height, width = size
                if converted.size != (width, height):
                    converted = converted.resize((width, height), Image.Resampling.BILINEAR)
                array = np.asarray(converted, dtype=np.uint8)
    except FileNotFoundError:
        raise DecodeError("file not found") from None
    except UnidentifiedImageError:
        raise DecodeError("not an image file") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DecodeError(f"cannot decode: {exc}") from None
    if array.ndim == 2:
        array = array[:, :, None]
    return array
