"""The copies of a photo that phones are shown: the display image and the thumbnail, both
upright JPEGs without any of the original's metadata."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from fieldapi.photos import exif
from fieldapi.photos.imaging.decoding import decode, draft, opened
from fieldapi.photos.imaging.formats import format_of
from fieldapi.photos.imaging.pixels import fit, rgb, upright

_JPEG_QUALITY = 85


@dataclass(frozen=True)
class Derivative:
    """A JPEG made from an original: upright, resized, without EXIF, XMP, ICC or comments."""

    data: bytes
    content_type: str
    width: int
    height: int


def derivatives(
    stream: BinaryIO, *, display_max: int = 2048, thumb_max: int = 320
) -> tuple[Derivative, Derivative]:
    """Make the display image and the thumbnail of a photo that ``inspect`` accepted.

    Both are upright baseline-compatible progressive JPEGs whose longest side is at most
    ``display_max`` and ``thumb_max``; a smaller picture is never enlarged. Large JPEGs are
    decoded at a reduced scale (Pillow's draft mode), never below the display size. The
    same bombs and undecodable files are refused as in ``inspect``.
    """
    with opened(stream) as img:
        if format_of(img, stream) == "JPEG":
            draft(img, display_max)
        decode(img)
        display = upright(fit(rgb(img), display_max), exif.applied_orientation(img))
    thumbnail = fit(display, thumb_max)
    return jpeg(display), jpeg(thumbnail)


def jpeg(img: Image.Image) -> Derivative:
    # Pillow copies some metadata (the JPEG comment) from image.info when saving.
    img.info = {}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=_JPEG_QUALITY, optimize=True, progressive=True)
    return Derivative(out.getvalue(), "image/jpeg", img.width, img.height)
