"""Picture operations shared by the perceptual hash and the derivatives: RGB without
transparency, fitting within a longest side, and turning upright by the EXIF orientation."""

from __future__ import annotations

from PIL import Image

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


def rgb(img: Image.Image) -> Image.Image:
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


def fit(img: Image.Image, longest: int, *, copy: bool = True) -> Image.Image:
    """A new image whose longest side is at most ``longest``; never enlarged. Without
    ``copy``, ``img`` itself when it is small enough."""
    width, height = img.size
    if max(width, height) <= longest:
        return img.copy() if copy else img
    scale = longest / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def upright(img: Image.Image, orientation: int) -> Image.Image:
    method = _UPRIGHT.get(orientation)
    return img if method is None else img.transpose(method)
