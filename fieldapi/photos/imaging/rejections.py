"""Why bytes are not accepted as a photo: ``ImageRejected``, and the refusals that the
format, container and decoding checks share, each with its sentence for the phone."""

from __future__ import annotations


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


def truncated() -> ImageRejected:
    return ImageRejected("truncated", "This photo did not arrive complete. Send it again.")


def corrupt(detail: str = "This photo file is damaged and cannot be read.") -> ImageRejected:
    return ImageRejected("corrupt", f"{detail} Take or choose the photo again.")


def unsupported(name: str) -> ImageRejected:
    return ImageRejected(
        "unsupported-format",
        f"This picture is in {name} format. Send photos as JPEG, PNG, WebP or HEIC.",
    )
