"""Decoding one image file into a ``uint8`` array of a fixed size.

Only regular files are images: a FIFO, a device or a socket named ``*.jpg`` is refused without reading it
(opening never blocks).
"""

from __future__ import annotations

import os
import stat
import warnings
from typing import BinaryIO

import numpy as np

#: Bump when decoding changes, so cached arrays are rebuilt.
DECODER_VERSION = "pil-bilinear-1"


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


def decode_image(path: str, size: tuple[int, int], channels: int) -> np.ndarray:
    """Read ``path`` (JPEG, PNG, GIF, BMP, grayscale or RGBA), convert and resize to ``size`` (height, width)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _open_regular(path) as stream, Image.open(stream) as opened:
                opened.seek(0)  # first frame of an animated GIF
                mode = "L" if channels == 1 else "RGB"
                image: Image.Image = opened
                if image.mode in ("RGBA", "LA", "P") and mode == "RGB":
                    image = image.convert("RGBA")
                    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
                    image = Image.alpha_composite(background, image)
                converted = image.convert(mode)
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
