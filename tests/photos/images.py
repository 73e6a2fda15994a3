"""Real image files, made in memory, for the photo pipeline's tests.

Photo-like pictures (a gradient, large shapes and sensor-like noise, laid out by ``seed``,
so that different seeds are different scenes) in every accepted format, with the EXIF a
phone writes; pictures stored sideways or mirrored for each EXIF orientation; and a hostile
corpus of files that are not what they claim, are damaged, are in another format, or would
take gigabytes to decode.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from datetime import datetime
from functools import lru_cache
from typing import Any

import pillow_heif
from PIL import ExifTags, Image, ImageDraw, TiffImagePlugin

pillow_heif.register_heif_opener()

Rational = TiffImagePlugin.IFDRational

# The upright picture of ``oriented``: landscape, red top-left and green top-right corners.
UPRIGHT_SIZE = (400, 300)
RED_BOX = (0, 0, 80, 60)
GREEN_BOX = (320, 0, 400, 60)
BACKGROUND = (40, 60, 160)


def picture(width: int, height: int, *, seed: int = 0, noise: int = 16) -> Image.Image:
    """An RGB picture with a photo's structure: a tilted gradient, shapes, fine noise."""
    rng = random.Random(seed)
    gradient = Image.linear_gradient("L").rotate(rng.uniform(0, 360), expand=False)
    img = Image.composite(
        Image.new("RGB", (width, height), _colour(rng)),
        Image.new("RGB", (width, height), _colour(rng)),
        gradient.resize((width, height)),
    )
    draw = ImageDraw.Draw(img)
    for _ in range(7):
        x0, y0 = rng.uniform(-0.2, 0.8) * width, rng.uniform(-0.2, 0.8) * height
        x1, y1 = x0 + rng.uniform(0.2, 0.6) * width, y0 + rng.uniform(0.2, 0.6) * height
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=_colour(rng))
    if noise:
        grain = Image.frombytes("L", (width, height), rng.randbytes(width * height))
        img = Image.blend(img, Image.merge("RGB", (grain, grain, grain)), noise / 255)
    return img


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def exif_bytes(
    *,
    orientation: int | None = None,
    gps: tuple[float, float] | dict[int, Any] | None = None,
    taken: datetime | str | None = None,
    make: str | None = None,
    model: str | None = None,
) -> bytes:
    """EXIF as a phone writes it. ``gps`` is (lat, lon) in signed degrees, or raw GPS tags;
    ``taken`` is a datetime (its offset, if any, goes to OffsetTimeOriginal) or raw text."""
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if make is not None:
        exif[ExifTags.Base.Make] = make
    if model is not None:
        exif[ExifTags.Base.Model] = model
    if taken is not None:
        details = exif.get_ifd(ExifTags.IFD.Exif)
        if isinstance(taken, str):
            details[ExifTags.Base.DateTimeOriginal] = taken
        else:
            details[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
            if taken.utcoffset() is not None:
                offset = taken.strftime("%z")
                details[ExifTags.Base.OffsetTimeOriginal] = f"{offset[:3]}:{offset[3:]}"
    if gps is not None:
        tags = exif.get_ifd(ExifTags.IFD.GPSInfo)
        if isinstance(gps, dict):
            tags.update(gps)
        else:
            lat, lon = gps
            tags[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
            tags[ExifTags.GPS.GPSLatitude] = dms(abs(lat))
            tags[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
            tags[ExifTags.GPS.GPSLongitude] = dms(abs(lon))
    return exif.tobytes()


def dms(degrees: float) -> tuple[Rational, Rational, Rational]:
    """Degrees as the three EXIF rationals: whole degrees, whole minutes, milliseconds."""
    whole = int(degrees)
    minutes = int((degrees - whole) * 60)
    seconds = round((degrees - whole - minutes / 60) * 3600 * 1000)
    return Rational(whole, 1), Rational(minutes, 1), Rational(seconds, 1000)


def encode(img: Image.Image, fmt: str, **params: Any) -> bytes:
    """``img`` saved as ``fmt`` ("JPEG", "PNG", "WEBP", "HEIF", ...), with Pillow's params.

    PNG and HEIC are written with their encoders' fastest settings, to keep tests quick.
    """
    if fmt == "PNG":
        params.setdefault("compress_level", 1)
    if fmt == "HEIF":
        params.setdefault("enc_params", {"preset": "ultrafast"})
    out = io.BytesIO()
    img.save(out, fmt, **{key: value for key, value in params.items() if value is not None})
    return out.getvalue()


def _photo(
    fmt: str,
    width: int,
    height: int,
    *,
    orientation: int | None = None,
    gps: tuple[float, float] | dict[int, Any] | None = None,
    taken: datetime | str | None = None,
    make: str | None = None,
    model: str | None = None,
    seed: int = 0,
    **params: Any,
) -> bytes:
    exif = exif_bytes(orientation=orientation, gps=gps, taken=taken, make=make, model=model)
    img = picture(width, height, seed=seed)
    return encode(img, fmt, exif=exif if len(exif) > 8 else None, **params)


def jpeg(width: int = 640, height: int = 480, *, quality: int = 90, **kwargs: Any) -> bytes:
    """A JPEG photo; keywords as ``exif_bytes`` plus ``seed``."""
    return _photo("JPEG", width, height, quality=quality, **kwargs)


def png(width: int = 640, height: int = 480, **kwargs: Any) -> bytes:
    """A PNG photo, EXIF in an eXIf chunk; keywords as ``exif_bytes`` plus ``seed``."""
    return _photo("PNG", width, height, **kwargs)


def webp(width: int = 640, height: int = 480, *, quality: int = 90, **kwargs: Any) -> bytes:
    """A lossy WebP photo with an EXIF chunk; keywords as ``exif_bytes`` plus ``seed``."""
    return _photo("WEBP", width, height, quality=quality, **kwargs)


def heic(width: int = 640, height: int = 480, *, quality: int = 90, **kwargs: Any) -> bytes:
    """A HEIC photo (HEVC in HEIF) with EXIF; an EXIF orientation becomes irot/imir boxes."""
    return _photo("HEIF", width, height, quality=quality, **kwargs)


MAKERS = {"JPEG": jpeg, "PNG": png, "WEBP": webp, "HEIF": heic}


def oriented(orientation: int, fmt: str = "JPEG") -> bytes:
    """A picture stored as a camera held in ``orientation`` stores it, tagged so.

    Shown per the EXIF specification it is ``UPRIGHT_SIZE``, landscape, with ``RED_BOX``
    and ``GREEN_BOX`` in its top corners: two corners pin down all eight orientations.
    """
    width, height = UPRIGHT_SIZE
    stored = (width, height) if orientation <= 4 else (height, width)
    img = Image.new("RGB", stored, BACKGROUND)
    draw = ImageDraw.Draw(img)
    for box, colour in ((RED_BOX, (255, 0, 0)), (GREEN_BOX, (0, 255, 0))):
        x0, y0, x1, y1 = box
        corners = [_stored_at(orientation, x, y) for x, y in ((x0, y0), (x1 - 1, y1 - 1))]
        (c0, r0), (c1, r1) = corners
        draw.rectangle((min(c0, c1), min(r0, r1), max(c0, c1), max(r0, r1)), fill=colour)
    exif = exif_bytes(orientation=orientation)
    params: dict[str, Any] = {"quality": 95} if fmt != "PNG" else {}
    return encode(img, fmt, exif=exif, **params)


def _stored_at(orientation: int, x: int, y: int) -> tuple[int, int]:
    """Where the shown pixel (x, y) is stored, as (column, row), per the EXIF tag's meaning
    of "row 0 is the visual <side>, column 0 is the visual <side>"."""
    width, height = UPRIGHT_SIZE
    right, bottom = width - 1 - x, height - 1 - y
    return {
        1: (x, y),  # row 0 top, column 0 left
        2: (right, y),  # row 0 top, column 0 right
        3: (right, bottom),  # row 0 bottom, column 0 right
        4: (x, bottom),  # row 0 bottom, column 0 left
        5: (y, x),  # row 0 left, column 0 top
        6: (y, right),  # row 0 right, column 0 top
        7: (bottom, right),  # row 0 right, column 0 bottom
        8: (bottom, x),  # row 0 left, column 0 bottom
    }[orientation]


def mpo(width: int = 640, height: int = 480) -> bytes:
    """A JPEG whose MPF segment lists a second JPEG stored after it, as cameras write."""
    first, second = picture(width, height, seed=1), picture(width // 2, height // 2, seed=2)
    return encode(first, "MPO", save_all=True, append_images=[second], quality=90)


# The hostile corpus.


def not_an_image() -> bytes:
    """A web page, to be uploaded as image/jpeg."""
    return b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.txt", "not evidence")
    return out.getvalue()


def with_zip(photo: bytes) -> bytes:
    """A polyglot: a valid photo that is also a valid ZIP archive."""
    data = photo + zip_archive()
    assert zipfile.is_zipfile(io.BytesIO(data))
    return data


def with_script(photo: bytes) -> bytes:
    """A valid photo with a web page and script after its last byte."""
    return photo + b"<html><script>fetch('/api/v1/users')</script></html>"


def png_signature_then_html() -> bytes:
    """Starts with the PNG signature, then is a web page."""
    return b"\x89PNG\r\n\x1a\n" + not_an_image()


def truncated(photo: bytes, fraction: float = 0.6) -> bytes:
    """The first ``fraction`` of a file: an upload cut short."""
    return photo[: int(len(photo) * fraction)]


def corrupt_png() -> bytes:
    """A PNG whose chunks and checksums are intact but whose compressed pixels are not."""
    rows = b"".join(b"\x00" + bytes(range(256)) * 3 for _ in range(64))
    damaged = bytearray(zlib.compress(rows))
    damaged[10:40] = b"\xff" * 30
    return _png(256, 64, bit_depth=8, colour_type=2, idat=bytes(damaged))


def bilevel_png(width: int, height: int) -> bytes:
    """A real, complete all-black 1-bit PNG, compressed by hand a row at a time.

    Huge ones are decompression bombs: 30000x30000 is 900 megapixels in ~110 KB.
    """
    return _bilevel_png(width, height)


@lru_cache(maxsize=8)
def _bilevel_png(width: int, height: int) -> bytes:
    compressor = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then zero bits
    block = row * max(1, (1 << 20) // len(row))
    rows_per_block = len(block) // len(row)
    parts = []
    full, rest = divmod(height, rows_per_block)
    for _ in range(full):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(row * rest))
    parts.append(compressor.flush())
    return _png(width, height, bit_depth=1, colour_type=0, idat=b"".join(parts))


def _png(width: int, height: int, *, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small valid JPEG whose frame header is rewritten to claim ``width`` x ``height``."""
    data = bytearray(encode(Image.new("RGB", (64, 64), "grey"), "JPEG"))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def gif() -> bytes:
    return encode(picture(64, 48, noise=0), "GIF")


def bmp() -> bytes:
    return encode(picture(64, 48), "BMP")


def tiff() -> bytes:
    return encode(picture(64, 48), "TIFF", exif=exif_bytes(gps=(22.5, 114.0)))


def avif() -> bytes:
    return encode(picture(64, 48), "AVIF")


def avif_as_mif1() -> bytes:
    """An AVIF whose major brand is the generic mif1, which pillow-heif agrees to open."""
    data = bytearray(avif())
    data[8:12] = b"mif1"
    return bytes(data)


def svg() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48">'
        b"<script>alert(1)</script><rect width='64' height='48' fill='red'/></svg>"
    )
