"""What an accepted original is and what it says about itself: its format, its size as
displayed, the capture facts its EXIF records, and its perceptual hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import BinaryIO
from zoneinfo import ZoneInfo

from PIL import ImageFile

from fieldapi.photos import exif
from fieldapi.photos.imaging import perceptual_hash
from fieldapi.photos.imaging.decoding import decode, opened
from fieldapi.photos.imaging.formats import accept, content_type_of

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Facts:
    """What an accepted original is and what it says about itself.

    ``width`` and ``height`` are as displayed, after the EXIF orientation; ``orientation``
    is the one recorded (1 = upright). ``captured_at`` is timezone-aware; ``location`` is
    (latitude, longitude) in decimal degrees; ``device`` is "Make Model". Each is ``None``
    when the photo does not say. ``phash`` is a 64-bit perceptual hash of the upright
    picture as 16 hex digits; compare two with ``perceptual_hash.hamming``.
    """

    format: str
    content_type: str
    width: int
    height: int
    orientation: int
    captured_at: datetime | None
    location: tuple[float, float] | None
    device: str | None
    phash: str


def inspect(
    stream: BinaryIO, *, declared_type: str | None = None, default_tz: tzinfo = SHANGHAI
) -> Facts:
    """Check that ``stream`` holds one accepted photo, decode it fully once, return its facts.

    The format comes from the bytes alone; ``declared_type`` (the content type the phone
    sent) must name that same format, else "format-mismatch". Refused: anything but JPEG,
    PNG, WebP and HEIC, more than ``decoding.MAX_PIXELS`` (judged from the header, before
    decoding), truncated or damaged files, and data after the picture (a file that is also a
    ZIP or a page). A capture time recorded without its UTC offset is read in ``default_tz``.
    """
    with opened(stream) as img:
        kind = accept(img, stream, declared_type)
        decode(img)
        phash = perceptual_hash.phash(img, exif.applied_orientation(img))
        return facts_of(img, kind, img.size, phash, default_tz)


def facts_of(
    img: ImageFile.ImageFile,
    kind: str,
    stored: tuple[int, int],
    phash: str,
    default_tz: tzinfo,
) -> Facts:
    """The facts of an accepted original whose pixels are ``stored`` wide and high."""
    meta = exif.read(img, default_tz=default_tz)
    width, height = stored
    if exif.applied_orientation(img) >= 5:  # 5..8 turn the picture by a quarter
        width, height = height, width
    return Facts(
        format=kind,
        content_type=content_type_of(img, kind),
        width=width,
        height=height,
        orientation=meta.orientation,
        captured_at=meta.captured_at,
        location=meta.location,
        device=meta.device,
        phash=phash,
    )
