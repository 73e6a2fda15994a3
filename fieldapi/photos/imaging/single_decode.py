"""The path that verifying an upload takes: an original checked, its facts read and its
display image and thumbnail made from one decode, a large JPEG decoded at reduced scale."""

from __future__ import annotations

from datetime import tzinfo
from typing import BinaryIO

from fieldapi.photos import exif
from fieldapi.photos.imaging.decoding import decode, draft, opened
from fieldapi.photos.imaging.derivatives import Derivative, jpeg
from fieldapi.photos.imaging.facts import SHANGHAI, Facts, facts_of
from fieldapi.photos.imaging.formats import accept
from fieldapi.photos.imaging.perceptual_hash import phash
from fieldapi.photos.imaging.pixels import fit, rgb, upright

# ``process`` decodes a large JPEG at a reduced scale, never below this longest side.
DISPLAY_MIN = 1600


def process(
    stream: BinaryIO,
    *,
    declared_type: str | None = None,
    default_tz: tzinfo = SHANGHAI,
    display_max: int = 2048,
    display_min: int = DISPLAY_MIN,
    thumb_max: int = 320,
) -> tuple[Facts, Derivative, Derivative]:
    """``inspect`` and ``derivatives`` in one: check an original, read its facts and make its
    display image and thumbnail, decoding the picture once.

    Accepts and refuses exactly what ``inspect`` does. A JPEG larger than the display is
    decoded at the smallest of libjpeg's scales (1/2, 1/4, 1/8) whose longest side is still
    at least ``display_min`` (``display_max`` if smaller): every byte of the compressed
    picture is still read, so a truncated file is refused as at full scale, and libjpeg
    reports damage in the same way. Its display image is then ``display_min`` to
    ``display_max`` pixels long (2000 for a 4000x3000 photo), and its perceptual hash,
    taken from the decoded picture, may differ from ``inspect``'s by a bit or two. Other
    pictures come out as from ``inspect`` and ``derivatives``.
    """
    with opened(stream) as img:
        kind = accept(img, stream, declared_type)
        stored = img.size
        if kind == "JPEG":
            draft(img, min(display_min, display_max))
        decode(img)
        applied = exif.applied_orientation(img)
        picture = rgb(img)
        facts = facts_of(img, kind, stored, phash(picture, applied), default_tz)
        # Encoded before the original closes, so the display may be the decoded picture itself.
        display = upright(fit(picture, display_max, copy=False), applied)
        thumbnail = fit(display, thumb_max)
        return facts, jpeg(display), jpeg(thumbnail)
