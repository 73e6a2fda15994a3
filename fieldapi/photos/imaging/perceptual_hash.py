"""The perceptual hash of a photo, and how far apart two are: how a photo already used
elsewhere is recognised after it was re-encoded or resized."""

from __future__ import annotations

import math
import re
import statistics

from PIL import Image

from fieldapi.photos.imaging.pixels import rgb, upright

_PHASH = re.compile(r"[0-9a-fA-F]{16}")
# cos(pi * k * (2n + 1) / 64): the DCT-II basis for 32 samples, lowest 8 frequencies.
_COSINES = [[math.cos(math.pi * k * (2 * n + 1) / 64) for n in range(32)] for k in range(8)]


def hamming(a: str, b: str) -> int:
    """How many of the 64 bits differ between two ``Facts.phash`` values.

    Re-encoded or resized copies of one picture differ by a few bits; different scenes by
    about half of them.
    """
    if not (_PHASH.fullmatch(a) and _PHASH.fullmatch(b)):
        raise ValueError("a perceptual hash is 16 hexadecimal digits")
    return (int(a, 16) ^ int(b, 16)).bit_count()


def phash(img: Image.Image, orientation: int) -> str:
    """The DCT perceptual hash (pHash) of the upright picture.

    The same algorithm and bit order as ``imagehash.phash``: greyscale, 32x32 Lanczos, 2-D
    DCT, the 8x8 lowest frequencies compared with their median. In pure Python, as the
    64 coefficients need only a few thousand multiplications.
    """
    grey = rgb(img).convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    pixels = upright(grey, orientation).tobytes()
    rows = [pixels[32 * r : 32 * r + 32] for r in range(32)]
    across = [[_dot(basis, row) for basis in _COSINES] for row in rows]
    low = [_dot(basis, [row[u] for row in across]) for basis in _COSINES for u in range(8)]
    median = statistics.median(low)
    bits = "".join("1" if value > median else "0" for value in low)
    return f"{int(bits, 2):016x}"


def _dot(a: list[float], b: bytes | list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))
