"""Which photo formats are accepted, and telling them from the bytes alone.

The decoder allow-list (JPEG, PNG, WebP, HEIC), the content types a phone may declare for
each, the format of an opened original checked against what was declared, and, for bytes
that no accepted decoder opens, why: empty, cut short, damaged, another image format, or
not an image at all.
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

import pillow_heif
from PIL import ImageFile

from fieldapi.photos.imaging.rejections import ImageRejected, corrupt, unsupported
from fieldapi.photos.imaging.trailing_data import check_extent

# Content type a phone may declare → the format the bytes must then be.
ACCEPTED = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
}

pillow_heif.register_heif_opener()

DECODERS = ["JPEG", "PNG", "WEBP", "HEIF"]
# Pillow names a JPEG that lists further images in an MPF segment (a camera's preview, a
# depth or gain map) "MPO"; what it shows is still its first JPEG.
_SAME_AS = {"MPO": "JPEG"}
_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC"}
_SNIFF = 1024
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS |= {b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
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


def accept(img: ImageFile.ImageFile, stream: BinaryIO, declared_type: str | None) -> str:
    """The format of an opened original, once it matches ``declared_type`` and its file
    holds the picture and nothing else; the stream is left where it was."""
    kind = format_of(img, stream)
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
    check_extent(stream, kind, size)
    stream.seek(position)
    return kind


def format_of(img: ImageFile.ImageFile, stream: BinaryIO) -> str:
    kind = _SAME_AS.get(img.format or "", img.format or "")
    if kind == "HEIF" and _brands(_head(stream)) & _AVIF_BRANDS:
        # AV1 in a HEIF container: pillow-heif opens it when its major brand is mif1.
        raise unsupported("AVIF")
    return kind


def content_type_of(img: ImageFile.ImageFile, kind: str) -> str:
    if kind != "HEIF":
        return _CONTENT_TYPES[kind]
    # pillow-heif reads the brand: image/heic (or image/heic-sequence) for HEVC photos.
    mimetype = img.get_format_mimetype() or ""
    return "image/heic" if mimetype.startswith("image/heic") else "image/heif"


def _length(stream: BinaryIO) -> int:
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def diagnose(stream: BinaryIO) -> ImageRejected:
    """Why no accepted decoder could open the bytes: empty, cut short, damaged, another
    image format, or not an image at all."""
    size = _length(stream)
    head = _head(stream)
    if not head:
        return ImageRejected("not-an-image", "The file is empty. Send the photo again.")
    kind = _accepted_signature(head)
    if kind is not None:
        try:
            check_extent(stream, kind, size)
        except ImageRejected as rejected:
            return rejected
        return corrupt()
    name = _other_image(head)
    if name is not None:
        return unsupported(name)
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
