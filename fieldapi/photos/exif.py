"""The capture facts a camera writes into a photo: orientation, time, place and device.

Everything here reads what Pillow already parsed (``Image.getexif()``, which also covers
the EXIF of PNG, WebP and HEIC). A damaged or missing EXIF block never costs the photo:
the fact it would have carried is simply ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from PIL import ExifTags, Image

_MAX_TEXT = 100

_DATETIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


@dataclass(frozen=True)
class Metadata:
    """What the EXIF of one photo says; ``None`` where it says nothing usable."""

    orientation: int
    captured_at: datetime | None
    location: tuple[float, float] | None
    device: str | None


def read(img: Image.Image, *, default_tz: tzinfo) -> Metadata:
    """Read orientation, capture time, GPS position and device from an opened image.

    ``orientation`` is how the camera was held (1 to 8, 1 = upright), as recorded. For HEIF
    the container already rotates the decoded pixels, so pillow-heif resets the EXIF value
    to 1 and keeps the recorded one in ``info["original_orientation"]``; that one is
    reported. A capture time without ``OffsetTimeOriginal`` is read in ``default_tz``.
    """
    exif = _exif(img)
    details = _ifd(exif, ExifTags.IFD.Exif)
    recorded = img.info.get("original_orientation") if img.format == "HEIF" else None
    return Metadata(
        orientation=recorded if recorded in range(1, 9) else applied_orientation(img),
        captured_at=_captured_at(details, exif, default_tz),
        location=_location(_ifd(exif, ExifTags.IFD.GPSInfo)),
        device=_device(exif),
    )


def applied_orientation(img: Image.Image) -> int:
    """The orientation ``ImageOps.exif_transpose`` would apply to the decoded pixels (1 to 8).

    Values outside 1..8 and unreadable EXIF count as 1, upright.
    """
    value = _exif(img).get(ExifTags.Base.Orientation)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _exif(img: Image.Image) -> Image.Exif:
    try:
        return img.getexif()
    except Exception:  # Pillow raises a variety of errors on damaged EXIF; none is fatal here.
        return Image.Exif()


def _ifd(exif: Image.Exif, tag: int) -> Mapping[int, Any]:
    try:
        return exif.get_ifd(tag)
    except Exception:  # a damaged sub-directory: treat as absent, like the rest of EXIF
        return {}


def _text(value: Any) -> str | None:
    """An EXIF string without padding or control characters, or None when empty."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip()
    return cleaned[:_MAX_TEXT] or None


def _captured_at(
    details: Mapping[int, Any], exif: Image.Exif, default_tz: tzinfo
) -> datetime | None:
    # Some writers misplace DateTimeOriginal in the first directory instead of the Exif one.
    text = _text(details.get(ExifTags.Base.DateTimeOriginal)) or _text(
        exif.get(ExifTags.Base.DateTimeOriginal)
    )
    match = _DATETIME.fullmatch(text or "")
    if match is None:
        return None
    try:
        naive = datetime(*(int(part) for part in match.groups()))
    except ValueError:  # "0000:00:00 00:00:00" and other impossible dates
        return None
    offset = _offset(_text(details.get(ExifTags.Base.OffsetTimeOriginal)))
    return naive.replace(tzinfo=offset or default_tz)


def _offset(text: str | None) -> timezone | None:
    match = _OFFSET.fullmatch(text or "")
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    if int(hours) > 14 or int(minutes) > 59:
        return None
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


def _location(gps: Mapping[int, Any]) -> tuple[float, float] | None:
    """Decimal degrees (lat, lon), or None when absent, void or impossible.

    A receiver that had no fix may write status "V" (void) or the position 0, 0; neither is
    a place where a building stands.
    """
    if _text(gps.get(ExifTags.GPS.GPSStatus)) == "V":
        return None
    latitude = _coordinate(
        gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "N", "S", 90
    )
    longitude = _coordinate(
        gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "E", "W", 180
    )
    if latitude is None or longitude is None or (latitude == 0 and longitude == 0):
        return None
    return round(latitude, 7), round(longitude, 7)


def _coordinate(value: Any, ref: Any, positive: str, negative: str, limit: float) -> float | None:
    """Degrees, minutes and seconds (rationals) plus a hemisphere letter → signed degrees.

    Without its hemisphere letter a coordinate is ambiguous, so it is dropped rather than
    guessed.
    """
    hemisphere = (_text(ref) or "").upper()
    if hemisphere not in (positive, negative):
        return None
    if not isinstance(value, tuple | list):
        value = (value,)
    if not 1 <= len(value) <= 3:
        return None
    try:
        parts = [float(part) for part in value]  # IFDRational n/0 becomes nan
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees, minutes, seconds = (*parts, 0.0, 0.0)[:3]
    if not all(math.isfinite(part) and part >= 0 for part in parts):
        return None
    if minutes >= 60 or seconds >= 60:
        return None
    decimal = degrees + minutes / 60 + seconds / 3600
    if decimal > limit:
        return None
    return -decimal if hemisphere == negative else decimal


def _device(exif: Image.Exif) -> str | None:
    """ "Make Model", without repeating a make that the model already starts with."""
    make = _text(exif.get(ExifTags.Base.Make))
    model = _text(exif.get(ExifTags.Base.Model))
    if make and model:
        return model if model.casefold().startswith(make.casefold()) else f"{make} {model}"
    return make or model
