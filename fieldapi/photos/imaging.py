"""Judging uploaded bytes as photo evidence, and making the copies that phones are shown.

Plain functions over seekable binary file objects, always read from offset 0; no web
framework, database or blob store here. ``inspect`` checks an original (which is kept
untouched as evidence) and reads its facts; ``derivatives`` makes the display image and the
thumbnail, upright and without any metadata; ``process`` does both from a single decode, which
is what verifying an upload needs. All refuse what is not an accepted photo with
``ImageRejected``.
"""

from __future__ import annotations

import io
import math
import re
import statistics
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import BinaryIO
from zoneinfo import ZoneInfo

import pillow_heif
from PIL import Image, ImageFile

from fieldapi.photos import exif

__all__ = [
    "ACCEPTED",
    "DISPLAY_MIN",
    "MAX_PIXELS",
    "SHANGHAI",
    "Derivative",
    "Facts",
    "ImageRejected",
    "derivatives",
    "hamming",
    "inspect",
    "process",
]

# Content type a phone may declare → the format the bytes must then be.
ACCEPTED = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
}
MAX_PIXELS = 60_000_000
# ``process`` decodes a large JPEG at a reduced scale, never below this longest side.
DISPLAY_MIN = 1600
SHANGHAI = ZoneInfo("Asia/Shanghai")

pillow_heif.register_heif_opener()

_DECODERS = ["JPEG", "PNG", "WEBP", "HEIF"]
# Pillow names a JPEG that lists further images in an MPF segment (a camera's preview, a
# depth or gain map) "MPO"; what it shows is still its first JPEG.
_SAME_AS = {"MPO": "JPEG"}
_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC"}
# What Pillow and pillow-heif raise on bytes they cannot decode.
_BROKEN = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, RuntimeError)
_JPEG_QUALITY = 85
_PHASH = re.compile(r"[0-9a-fA-F]{16}")

# Orientation 1..8 → the transposition that shows the picture upright, as in
# ImageOps.exif_transpose; applied here from one reading of the orientation, so that it
# survives mode conversions that drop image.info, and damaged EXIF that makes Pillow raise.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageRejected(Exception):
    """The bytes are not a photo accepted as evidence.

    ``reason`` is a stable slug: "not-an-image", "unsupported-format", "too-many-pixels",
    "truncated", "corrupt" or "format-mismatch". ``detail`` is a sentence for the person
    holding the phone.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Facts:
    """What an accepted original is and what it says about itself.

    ``width`` and ``height`` are as displayed, after the EXIF orientation; ``orientation``
    is the one recorded (1 = upright). ``captured_at`` is timezone-aware; ``location`` is
    (latitude, longitude) in decimal degrees; ``device`` is "Make Model". Each is ``None``
    when the photo does not say. ``phash`` is a 64-bit perceptual hash of the upright
    picture as 16 hex digits; compare two with ``hamming``.
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


@dataclass(frozen=True)
class Derivative:
    """A JPEG made from an original: upright, resized, without EXIF, XMP, ICC or comments."""

    data: bytes
    content_type: str
    width: int
    height: int


def inspect(
    stream: BinaryIO, *, declared_type: str | None = None, default_tz: tzinfo = SHANGHAI
) -> Facts:
    """Check that ``stream`` holds one accepted photo, decode it fully once, return its facts.

    The format comes from the bytes alone; ``declared_type`` (the content type the phone
    sent) must name that same format, else "format-mismatch". Refused: anything but JPEG,
    PNG, WebP and HEIC, more than ``MAX_PIXELS`` (judged from the header, before decoding),
    truncated or damaged files, and data after the picture (a file that is also a ZIP or a
    page). A capture time recorded without its UTC offset is read in ``default_tz``.
    """
    with _opened(stream) as img:
        kind = _accept(img, stream, declared_type)
        _decode(img)
        phash = _phash(img, exif.applied_orientation(img))
        return _facts(img, kind, img.size, phash, default_tz)


def derivatives(
    stream: BinaryIO, *, display_max: int = 2048, thumb_max: int = 320
) -> tuple[Derivative, Derivative]:
    """Make the display image and the thumbnail of a photo that ``inspect`` accepted.

    Both are upright baseline-compatible progressive JPEGs whose longest side is at most
    ``display_max`` and ``thumb_max``; a smaller picture is never enlarged. Large JPEGs are
    decoded at a reduced scale (Pillow's draft mode), never below the display size. The
    same bombs and undecodable files are refused as in ``inspect``.
    """
    with _opened(stream) as img:
        if _format(img, stream) == "JPEG":
            _draft(img, display_max)
        _decode(img)
        display = _upright(_fit(_rgb(img), display_max), exif.applied_orientation(img))
    thumbnail = _fit(display, thumb_max)
    return _jpeg(display), _jpeg(thumbnail)


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
    with _opened(stream) as img:
        kind = _accept(img, stream, declared_type)
        stored = img.size
        if kind == "JPEG":
            _draft(img, min(display_min, display_max))
        _decode(img)
        applied = exif.applied_orientation(img)
        picture = _rgb(img)
        facts = _facts(img, kind, stored, _phash(picture, applied), default_tz)
        # Encoded before the original closes, so the display may be the decoded picture itself.
        display = _upright(_fit(picture, display_max, copy=False), applied)
        thumbnail = _fit(display, thumb_max)
        return facts, _jpeg(display), _jpeg(thumbnail)


def hamming(a: str, b: str) -> int:
    """How many of the 64 bits differ between two ``Facts.phash`` values.

    Re-encoded or resized copies of one picture differ by a few bits; different scenes by
    about half of them.
    """
    if not (_PHASH.fullmatch(a) and _PHASH.fullmatch(b)):
        raise ValueError("a perceptual hash is 16 hexadecimal digits")
    return (int(a, 16) ^ int(b, 16)).bit_count()


@contextmanager
def _opened(stream: BinaryIO) -> Iterator[ImageFile.ImageFile]:
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
            img = Image.open(stream, formats=_DECODERS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except _BROKEN as error:  # UnidentifiedImageError included
        raise _diagnose(stream) from error
    with img:
        width, height = img.size
        if width * height > MAX_PIXELS:
            raise _too_many_pixels()
        yield img


def _accept(img: ImageFile.ImageFile, stream: BinaryIO, declared_type: str | None) -> str:
    """The format of an opened original, once it matches ``declared_type`` and its file
    holds the picture and nothing else; the stream is left where it was."""
    kind = _format(img, stream)
    if declared_type is not None:
        declared = declared_type.split(";")[0].strip().lower()
        if ACCEPTED.get(declared) != kind:
            raise ImageRejected(
                "format-mismatch",
                f"This picture is in {_NAMES[kind]} format but was sent as {declared}. "
                "Send it again from the app.",
            )
    position = stream.tell()
    size = _length(stream)
    _check_extent(stream, kind, size)
    stream.seek(position)
    return kind


def _facts(
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
        content_type=_content_type(img, kind),
        width=width,
        height=height,
        orientation=meta.orientation,
        captured_at=meta.captured_at,
        location=meta.location,
        device=meta.device,
        phash=phash,
    )


def _too_many_pixels() -> ImageRejected:
    return ImageRejected(
        "too-many-pixels",
        f"This picture has more than {MAX_PIXELS // 1_000_000} megapixels. Send a smaller photo.",
    )


def _format(img: ImageFile.ImageFile, stream: BinaryIO) -> str:
    kind = _SAME_AS.get(img.format or "", img.format or "")
    if kind == "HEIF" and _brands(_head(stream)) & _AVIF_BRANDS:
        # AV1 in a HEIF container: pillow-heif opens it when its major brand is mif1.
        raise _unsupported("AVIF")
    return kind


def _content_type(img: ImageFile.ImageFile, kind: str) -> str:
    if kind != "HEIF":
        return _CONTENT_TYPES[kind]
    # pillow-heif reads the brand: image/heic (or image/heic-sequence) for HEVC photos.
    mimetype = img.get_format_mimetype() or ""
    return "image/heic" if mimetype.startswith("image/heic") else "image/heif"


def _decode(img: ImageFile.ImageFile) -> None:
    """Decode every pixel once, so that a truncated or damaged file is refused."""
    try:
        img.load()
    except _BROKEN as error:
        message = str(error).lower()
        if isinstance(error, EOFError) or "truncated" in message or "end of file" in message:
            raise _truncated() from error
        raise _corrupt() from error


def _length(stream: BinaryIO) -> int:
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def _draft(img: ImageFile.ImageFile, longest: int) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale while staying at least display size."""
    width, height = img.size
    scale = longest / max(width, height)
    if scale < 1:
        img.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))


def _rgb(img: Image.Image) -> Image.Image:
    """The picture in RGB; transparent areas become white, 16-bit grey is scaled to 8 bits."""
    if img.mode == "RGB":
        return img
    if img.mode.startswith("I"):  # I;16 and I: a plain convert would clip at 255
        img = img.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", img.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")


def _fit(img: Image.Image, longest: int, *, copy: bool = True) -> Image.Image:
    """A new image whose longest side is at most ``longest``; never enlarged. Without
    ``copy``, ``img`` itself when it is small enough."""
    width, height = img.size
    if max(width, height) <= longest:
        return img.copy() if copy else img
    scale = longest / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _upright(img: Image.Image, orientation: int) -> Image.Image:
    method = _UPRIGHT.get(orientation)
    return img if method is None else img.transpose(method)


def _jpeg(img: Image.Image) -> Derivative:
    # Pillow copies some metadata (the JPEG comment) from image.info when saving.
    img.info = {}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=_JPEG_QUALITY, optimize=True, progressive=True)
    return Derivative(out.getvalue(), "image/jpeg", img.width, img.height)


# cos(pi * k * (2n + 1) / 64): the DCT-II basis for 32 samples, lowest 8 frequencies.
_COSINES = [[math.cos(math.pi * k * (2 * n + 1) / 64) for n in range(32)] for k in range(8)]


def _phash(img: Image.Image, orientation: int) -> str:
    """The DCT perceptual hash (pHash) of the upright picture.

    The same algorithm and bit order as ``imagehash.phash``: greyscale, 32x32 Lanczos, 2-D
    DCT, the 8x8 lowest frequencies compared with their median. In pure Python, as the
    64 coefficients need only a few thousand multiplications.
    """
    grey = _rgb(img).convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    pixels = _upright(grey, orientation).tobytes()
    rows = [pixels[32 * r : 32 * r + 32] for r in range(32)]
    across = [[_dot(basis, row) for basis in _COSINES] for row in rows]
    low = [_dot(basis, [row[u] for row in across]) for basis in _COSINES for u in range(8)]
    median = statistics.median(low)
    bits = "".join("1" if value > median else "0" for value in low)
    return f"{int(bits, 2):016x}"


def _dot(a: list[float], b: bytes | list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# Containers. Pillow stops reading where the picture ends, so bytes appended to a valid
# photo (a ZIP, a web page) would slip through as evidence and be served back as the
# original. The layout of each accepted format is walked here, without decoding, to find
# where the picture ends; the same walk tells a truncated file from a damaged one when
# Pillow cannot identify it at all.

_CHUNK = 1 << 16
# 0xFF followed by a marker code: not a stuffed zero (0xFF00) inside entropy-coded data, not
# a restart marker (0xFFD0..0xFFD7) and not a fill byte (another 0xFF; the last one counts).
_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")
_SNIFF = 1024
_MAX_MPF_IMAGES = 16
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS |= {b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_BOXES = {b"ftyp", b"meta", b"mdat", b"moov", b"free", b"skip", b"uuid", b"wide", b"idat"}
_BOXES |= {b"pdin", b"styp", b"sidx", b"moof", b"mfra", b"prft", b"emsg", b"etyp", b"otyp"}
_OTHER_IMAGES = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\xff\x0a", "JPEG XL"),
    (b"8BPS", "Photoshop"),
)


def _truncated() -> ImageRejected:
    return ImageRejected("truncated", "This photo did not arrive complete. Send it again.")


def _corrupt(detail: str = "This photo file is damaged and cannot be read.") -> ImageRejected:
    return ImageRejected("corrupt", f"{detail} Take or choose the photo again.")


def _unsupported(name: str) -> ImageRejected:
    return ImageRejected(
        "unsupported-format",
        f"This picture is in {name} format. Send photos as JPEG, PNG, WebP or HEIC.",
    )


def _diagnose(stream: BinaryIO) -> ImageRejected:
    """Why no accepted decoder could open the bytes: empty, cut short, damaged, another
    image format, or not an image at all."""
    size = _length(stream)
    head = _head(stream)
    if not head:
        return ImageRejected("not-an-image", "The file is empty. Send the photo again.")
    kind = _accepted_signature(head)
    if kind is not None:
        try:
            _check_extent(stream, kind, size)
        except ImageRejected as rejected:
            return rejected
        return _corrupt()
    name = _other_image(head)
    if name is not None:
        return _unsupported(name)
    return ImageRejected(
        "not-an-image", "This file is not a photo. Send a JPEG, PNG, WebP or HEIC picture."
    )


def _head(stream: BinaryIO) -> bytes:
    """The first bytes of the file, leaving the stream where it was."""
    position = stream.tell()
    stream.seek(0)
    head = stream.read(_SNIFF)
    stream.seek(position)
    return head


def _accepted_signature(head: bytes) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    brands = _brands(head)
    if brands & _HEIF_BRANDS and not brands & _AVIF_BRANDS:
        return "HEIF"
    return None


def _other_image(head: bytes) -> str | None:
    for signature, name in _OTHER_IMAGES:
        if head.startswith(signature):
            return name
    if head[:2] == b"BM" and len(head) >= 18:
        (header_size,) = struct.unpack_from("<I", head, 14)
        if header_size in (12, 40, 52, 56, 64, 108, 124):
            return "BMP"
    if _brands(head) & _AVIF_BRANDS:
        return "AVIF"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<") and b"<svg" in text:
        return "SVG"
    return None


def _brands(head: bytes) -> set[bytes]:
    """Major and compatible brands of an ISO base media file's leading ftyp box."""
    if head[4:8] != b"ftyp" or len(head) < 16:
        return set()
    (box_size,) = struct.unpack_from(">I", head)
    box = head[: min(box_size, len(head))]
    return {box[8:12]} | {box[i : i + 4] for i in range(16, len(box) - 3, 4)}


def _check_extent(stream: BinaryIO, kind: str, size: int) -> None:
    """Refuse a file that ends before its picture does, or goes on after it."""
    walk = {"JPEG": _jpeg_end, "PNG": _png_end, "WEBP": _webp_end, "HEIF": _heif_end}[kind]
    if walk(stream, size) != size:
        raise _corrupt("This photo file carries other data after the picture.")


def _png_end(stream: BinaryIO, size: int) -> int:
    position = 8
    while True:
        stream.seek(position)
        header = stream.read(8)
        if len(header) < 8:
            raise _truncated()
        length, chunk = struct.unpack(">I4s", header)
        if not chunk.isalpha() or (position == 8 and chunk != b"IHDR"):
            raise _corrupt()
        position += 12 + length
        if position > size:
            raise _truncated()
        if chunk == b"IEND":
            return position


def _webp_end(stream: BinaryIO, size: int) -> int:
    stream.seek(4)
    (riff_size,) = struct.unpack("<I", stream.read(4))
    end = 8 + riff_size
    if riff_size % 2 and size == end + 1:  # the pad byte after an odd-sized RIFF body
        end += 1
    if end > size:
        raise _truncated()
    return end


def _heif_end(stream: BinaryIO, size: int) -> int:
    position = 0
    while position < size:
        stream.seek(position)
        header = stream.read(16)
        if len(header) < 8:
            raise _truncated()
        box_size, box = struct.unpack(">I4s", header[:8])
        if box not in _BOXES:
            raise _corrupt("This photo file carries other data after the picture.")
        if box_size == 0:  # the last box runs to the end of the file
            return size
        if box_size == 1:
            if len(header) < 16:
                raise _truncated()
            (box_size,) = struct.unpack(">Q", header[8:])
        if box_size < 8:
            raise _corrupt()
        position += box_size
    if position > size:
        raise _truncated()
    return position


def _jpeg_end(stream: BinaryIO, size: int) -> int:
    """End of the JPEG, including the further images its MPF segment lists."""
    end, mpf = _jpeg_stream_end(stream, 0)
    if mpf is None:
        return end
    base, tiff = mpf
    offsets = sorted({base + offset for offset in _mpf_offsets(tiff)})
    if len(offsets) > _MAX_MPF_IMAGES:
        raise _corrupt()
    last = end
    for start in offsets:
        if start < end:
            raise _corrupt()
        if start >= size:
            raise _truncated()
        last = max(last, _jpeg_stream_end(stream, start)[0])
    return last


def _jpeg_stream_end(stream: BinaryIO, start: int) -> tuple[int, tuple[int, bytes] | None]:
    """End of the JPEG beginning at ``start`` (past its EOI) and its MPF header, if any.

    The MPF header is (file offset its image offsets count from, its TIFF-structured body).
    """
    stream.seek(start)
    if stream.read(2) != b"\xff\xd8":
        raise _corrupt()
    position, mpf = start + 2, None
    while True:
        position, code = _next_marker(stream, position)
        if code == 0xD9:  # EOI
            return position + 2, mpf
        if code == 0xD8:  # a second SOI inside the image
            raise _corrupt()
        if code == 0x01:  # TEM has no length
            position += 2
            continue
        stream.seek(position + 2)
        raw = stream.read(2)
        if len(raw) < 2:
            raise _truncated()
        (length,) = struct.unpack(">H", raw)
        if length < 2:
            raise _corrupt()
        if code == 0xE2 and mpf is None:
            payload = stream.read(length - 2)
            if payload.startswith(b"MPF\x00"):
                mpf = (position + 8, payload[4:])
        # After SOS (0xDA) the entropy-coded data follows; _next_marker skips it.
        position += 2 + length


def _next_marker(stream: BinaryIO, position: int) -> tuple[int, int]:
    """The next marker at or after ``position``: (its offset, its code).

    Skips entropy-coded data with its stuffed 0xFF00 bytes and restart markers, and fill
    bytes, reading in chunks.
    """
    while True:
        stream.seek(position)
        chunk = stream.read(_CHUNK)
        if len(chunk) < 2:
            raise _truncated()
        found = _MARKER.search(chunk)
        if found is not None:
            return position + found.start(), chunk[found.start() + 1]
        # A 0xFF at the end may begin a marker: read it again with what follows.
        position += len(chunk) - 1 if chunk[-1] == 0xFF else len(chunk)


def _mpf_offsets(tiff: bytes) -> list[int]:
    """Offsets of the images after the first, from an MPF segment's MP Entry tag (0xB002)."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None:
        return []
    try:
        (directory,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, directory)
        for index in range(count):
            entry = directory + 2 + 12 * index
            tag, _, length, value = struct.unpack_from(order + "HHII", tiff, entry)
            if tag == 0xB002:
                entries = range(1, length // 16)
                return [struct.unpack_from(order + "8xI", tiff, value + 16 * e)[0] for e in entries]
    except struct.error:
        return []
    return []
