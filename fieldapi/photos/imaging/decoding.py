"""Opening and decoding an original strictly, so that no bomb or broken file gets past.

Only the accepted decoders are tried; the pixel count is judged from the header before
anything is decoded (decompression bombs); every pixel is then decoded once, so that a
truncated or damaged file is refused; and a large JPEG may be decoded at a reduced scale.
"""

from __future__ import annotations

import math
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from PIL import Image, ImageFile

from fieldapi.photos.imaging.formats import DECODERS, diagnose
from fieldapi.photos.imaging.rejections import ImageRejected, corrupt, truncated

MAX_PIXELS = 60_000_000
# What Pillow and pillow-heif raise on bytes they cannot decode.
_BROKEN = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, RuntimeError)


@contextmanager
def opened(stream: BinaryIO) -> Iterator[ImageFile.ImageFile]:
    """Identify the image from its bytes with the accepted decoders only; check its size."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set: truncated photos would pass as evidence"
        )
    try:
        # Pillow warns about images above Image.MAX_IMAGE_PIXELS and raises above twice
        # that; the warning is made an error here only, leaving the process-wide limit as is.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(stream, formats=DECODERS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except _BROKEN as error:  # UnidentifiedImageError included
        raise diagnose(stream) from error
    with img:
        width, height = img.size
        if width * height > MAX_PIXELS:
            raise _too_many_pixels()
        yield img


def decode(img: ImageFile.ImageFile) -> None:
    """Decode every pixel once, so that a truncated or damaged file is refused."""
    try:
        img.load()
    except _BROKEN as error:
        message = str(error).lower()
        if isinstance(error, EOFError) or "truncated" in message or "end of file" in message:
            raise truncated() from error
        raise corrupt() from error


def draft(img: ImageFile.ImageFile, longest: int) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale while staying at least display size."""
    width, height = img.size
    scale = longest / max(width, height)
    if scale < 1:
        img.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))


def _too_many_pixels() -> ImageRejected:
    return ImageRejected(
        "too-many-pixels",
        f"This picture has more than {MAX_PIXELS // 1_000_000} megapixels. Send a smaller photo.",
    )
