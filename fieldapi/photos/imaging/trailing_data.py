"""Where the picture in an accepted file ends: data after it is refused, and so is a file
that ends before it.

Pillow stops reading where the picture ends, so bytes appended to a valid photo (a ZIP, a
web page) would slip through as evidence and be served back as the original. The layout of
each accepted format is walked here, without decoding, to find where the picture ends; the
same walk tells a truncated file from a damaged one when Pillow cannot identify it at all.
"""

from __future__ import annotations

import re
import struct
from typing import BinaryIO

from fieldapi.photos.imaging.rejections import corrupt, truncated

_CHUNK = 1 << 16
# 0xFF followed by a marker code: not a stuffed zero (0xFF00) inside entropy-coded data, not
# a restart marker (0xFFD0..0xFFD7) and not a fill byte (another 0xFF; the last one counts).
_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")
_MAX_MPF_IMAGES = 16
_BOXES = {b"ftyp", b"meta", b"mdat", b"moov", b"free", b"skip", b"uuid", b"wide", b"idat"}
_BOXES |= {b"pdin", b"styp", b"sidx", b"moof", b"mfra", b"prft", b"emsg", b"etyp", b"otyp"}


def check_extent(stream: BinaryIO, kind: str, size: int) -> None:
    """Refuse a file that ends before its picture does, or goes on after it."""
    walk = {"JPEG": _jpeg_end, "PNG": _png_end, "WEBP": _webp_end, "HEIF": _heif_end}[kind]
    if walk(stream, size) != size:
        raise corrupt("This photo file carries other data after the picture.")


def _png_end(stream: BinaryIO, size: int) -> int:
    position = 8
    while True:
        stream.seek(position)
        header = stream.read(8)
        if len(header) < 8:
            raise truncated()
        length, chunk = struct.unpack(">I4s", header)
        if not chunk.isalpha() or (position == 8 and chunk != b"IHDR"):
            raise corrupt()
        position += 12 + length
        if position > size:
            raise truncated()
        if chunk == b"IEND":
            return position


def _webp_end(stream: BinaryIO, size: int) -> int:
    stream.seek(4)
    (riff_size,) = struct.unpack("<I", stream.read(4))
    end = 8 + riff_size
    if riff_size % 2 and size == end + 1:  # the pad byte after an odd-sized RIFF body
        end += 1
    if end > size:
        raise truncated()
    return end


def _heif_end(stream: BinaryIO, size: int) -> int:
    position = 0
    while position < size:
        stream.seek(position)
        header = stream.read(16)
        if len(header) < 8:
            raise truncated()
        box_size, box = struct.unpack(">I4s", header[:8])
        if box not in _BOXES:
            raise corrupt("This photo file carries other data after the picture.")
        if box_size == 0:  # the last box runs to the end of the file
            return size
        if box_size == 1:
            if len(header) < 16:
                raise truncated()
            (box_size,) = struct.unpack(">Q", header[8:])
        if box_size < 8:
            raise corrupt()
        position += box_size
    if position > size:
        raise truncated()
    return position


def _jpeg_end(stream: BinaryIO, size: int) -> int:
    """End of the JPEG, including the further images its MPF segment lists."""
    end, mpf = _jpeg_stream_end(stream, 0)
    if mpf is None:
        return end
    base, tiff = mpf
    offsets = sorted({base + offset for offset in _mpf_offsets(tiff)})
    if len(offsets) > _MAX_MPF_IMAGES:
        raise corrupt()
    last = end
    for start in offsets:
        if start < end:
            raise corrupt()
        if start >= size:
            raise truncated()
        last = max(last, _jpeg_stream_end(stream, start)[0])
    return last


def _jpeg_stream_end(stream: BinaryIO, start: int) -> tuple[int, tuple[int, bytes] | None]:
    """End of the JPEG beginning at ``start`` (past its EOI) and its MPF header, if any.

    The MPF header is (file offset its image offsets count from, its TIFF-structured body).
    """
    stream.seek(start)
    if stream.read(2) != b"\xff\xd8":
        raise corrupt()
    position, mpf = start + 2, None
    while True:
        position, code = _next_marker(stream, position)
        if code == 0xD9:  # EOI
            return position + 2, mpf
        if code == 0xD8:  # a second SOI inside the image
            raise corrupt()
        if code == 0x01:  # TEM has no length
            position += 2
            continue
        stream.seek(position + 2)
        raw = stream.read(2)
        if len(raw) < 2:
            raise truncated()
        (length,) = struct.unpack(">H", raw)
        if length < 2:
            raise corrupt()
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
            raise truncated()
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
