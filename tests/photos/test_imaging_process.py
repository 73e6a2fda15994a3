"""``process``: checking an original and making its derivatives from one decode."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageCms, ImageFile

from fieldapi.photos.imaging import single_decode
from fieldapi.photos.imaging.derivatives import Derivative
from fieldapi.photos.imaging.derivatives import derivatives as make_derivatives
from fieldapi.photos.imaging.facts import Facts
from fieldapi.photos.imaging.facts import inspect as inspect_stream
from fieldapi.photos.imaging.perceptual_hash import hamming
from fieldapi.photos.imaging.rejections import ImageRejected
from tests.photos import images
from tests.photos.test_imaging import CONTENT_TYPES, FORMATS, HOSTILE, SITE, TAKEN


def process(data: bytes, **kwargs) -> tuple[Facts, Derivative, Derivative]:
    return single_decode.process(io.BytesIO(data), **kwargs)


def inspect(data: bytes, **kwargs) -> Facts:
    return inspect_stream(io.BytesIO(data), **kwargs)


def derivatives(data: bytes, **kwargs) -> tuple[Derivative, Derivative]:
    return make_derivatives(io.BytesIO(data), **kwargs)


def verdict(call, data: bytes) -> str:
    """ "accepted", or the reason for the refusal."""
    try:
        call(data)
    except ImageRejected as refused:
        return refused.reason
    return "accepted"


def plain_jpeg(width: int, height: int) -> bytes:
    """A JPEG without grain: quick to make at any size."""
    return images.encode(images.picture(width, height, noise=0), "JPEG")


@pytest.fixture
def decodes(monkeypatch) -> list[tuple[int, int]]:
    """The size of every decode of a JPEG or PNG (after any draft), in order."""
    sizes: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def recording_load(self):
        if self.tile:  # pixels still to decode; later calls return the decoded image
            sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    return sizes


@pytest.fixture(scope="module")
def phone_photo() -> bytes:
    """A 12-megapixel phone photo, stored sideways (orientation 6), with GPS and time."""
    data = images.jpeg(4000, 3000, seed=8, orientation=6, gps=SITE, taken=TAKEN, make="vivo")
    assert len(data) > 2_500_000
    return data


# The same verdicts and facts as inspect, the same pictures as derivatives


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("orientation", [1, 6])
def test_small_photo_gives_exactly_inspect_and_derivatives(fmt, orientation):
    data = images.MAKERS[fmt](
        900, 600, orientation=orientation, gps=SITE, taken=TAKEN, make="Xiaomi", model="13"
    )

    facts, display, thumbnail = process(data, declared_type=CONTENT_TYPES[fmt])

    assert facts == inspect(data, declared_type=CONTENT_TYPES[fmt])
    assert (display, thumbnail) == derivatives(data)
    assert facts.location == pytest.approx(SITE, abs=1e-6)


@pytest.mark.parametrize(
    ("make", "declared", "reason"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_files_are_refused_as_by_inspect(make, declared, reason, decodes):
    with pytest.raises(ImageRejected) as caught:
        process(make(), declared_type=declared)

    assert caught.value.reason == reason
    if reason in ("too-many-pixels", "unsupported-format", "not-an-image"):
        assert decodes == []


@pytest.mark.parametrize(
    ("make", "declared"),
    [
        pytest.param(images.png, "image/jpeg", id="PNG-as-JPEG"),
        pytest.param(images.jpeg, "image/png", id="JPEG-as-PNG"),
        pytest.param(images.heic, "image/jpeg", id="HEIC-as-JPEG"),
    ],
)
def test_declared_type_must_match_the_bytes(make, declared):
    with pytest.raises(ImageRejected) as caught:
        process(make(), declared_type=declared)

    assert caught.value.reason == "format-mismatch"


# Large JPEGs: one decode, at a reduced scale


def test_phone_photo_is_decoded_once_at_half_scale(phone_photo, decodes):
    facts, display, thumbnail = process(phone_photo, declared_type="image/jpeg")

    assert decodes == [(2000, 1500)]
    # Facts describe the original as shown: stored 4000x3000, turned a quarter.
    assert (facts.width, facts.height, facts.orientation) == (3000, 4000, 6)
    assert (display.width, display.height) == (1500, 2000)
    assert (thumbnail.width, thumbnail.height) == (240, 320)


def test_phone_photo_facts_are_those_of_inspect(phone_photo):
    facts, _, _ = process(phone_photo)
    full = inspect(phone_photo)

    assert facts == full
    assert facts.captured_at == TAKEN
    assert facts.device == "vivo"


@pytest.mark.parametrize(
    ("size", "decoded"),
    [
        ((8000, 6000), (2000, 1500)),  # a quarter
        ((4096, 3072), (2048, 1536)),  # a half
        ((3264, 2448), (1632, 1224)),  # a half: still at least 1600
        ((3000, 2000), (3000, 2000)),  # a half would be 1500: the full frame
        ((1200, 900), (1200, 900)),
    ],
)
def test_reduced_scale_keeps_the_longest_side_at_least_display_min(size, decoded, decodes):
    _, display, _ = process(plain_jpeg(*size))

    assert decodes == [decoded]
    assert max(display.width, display.height) == min(max(decoded), 2048)


def test_display_min_and_max_bound_the_decode(decodes):
    data = plain_jpeg(4000, 3000)

    _, display, _ = process(data, display_min=2048)
    assert decodes == [(4000, 3000)]
    assert (display.width, display.height) == (2048, 1536)

    decodes.clear()
    _, display, _ = process(data, display_max=1000)
    assert decodes == [(1000, 750)]
    assert (display.width, display.height) == (1000, 750)


def test_derivatives_of_a_large_photo_are_bare_upright_jpegs(phone_photo):
    _, display, thumbnail = process(phone_photo)

    for derivative in (display, thumbnail):
        img = Image.open(io.BytesIO(derivative.data))
        assert (img.format, img.mode) == ("JPEG", "RGB")
        assert img.size == (derivative.width, derivative.height)
        assert img.height > img.width  # shown upright: portrait
        assert not img.getexif()
        assert b"Exif\x00\x00" not in derivative.data


def test_display_made_without_resizing_carries_no_metadata(decodes):
    # 4000x3000 decodes at 2000x1500, already display size: the decoded picture is encoded as
    # is, and nothing of the original's comment, XMP or ICC profile may come along.
    secret = b"GPS 22.543096,114.057865 flat 1203"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>22,32.5N</exif:GPSLatitude>'
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture = images.picture(4000, 3000, noise=0)
    data = images.encode(
        picture, "JPEG", comment=secret, xmp=xmp + b"</x:xmpmeta>", icc_profile=icc
    )

    _, display, thumbnail = process(data)

    assert decodes == [(2000, 1500)]
    assert (display.width, display.height) == (2000, 1500)
    for derivative in (display, thumbnail):
        img = Image.open(io.BytesIO(derivative.data))
        assert not {"exif", "xmp", "icc_profile", "comment"} & img.info.keys()
        assert secret not in derivative.data
        assert b"GPSLatitude" not in derivative.data


def test_reduced_scale_phash_matches_the_full_decode():
    # Photos already stored were hashed from a full decode; a copy must still be found.
    for seed in range(3):
        data = images.jpeg(4032, 3024, seed=20 + seed)

        facts, _, _ = process(data)

        assert hamming(facts.phash, inspect(data).phash) <= 2


# A reduced-scale decode still reads the whole file


def _damaged(data: bytes, marker: bytes, offset: int, value: bytes) -> bytes:
    """``data`` with ``value`` written ``offset`` bytes into its first ``marker`` segment."""
    at = data.index(marker) + offset
    return data[:at] + value + data[at + len(value) :]


@pytest.mark.parametrize(
    ("marker", "offset", "value"),
    [
        pytest.param(b"\xff\xc4", 5, b"\xff" * 16, id="impossible-huffman-table"),
        pytest.param(b"\xff\xda", 5, b"\x77", id="scan-of-an-unknown-component"),
        pytest.param(b"\xff\xda", 6, b"\x77", id="scan-using-a-missing-table"),
    ],
)
def test_damage_found_only_by_decoding_is_refused_at_reduced_scale(
    phone_photo, decodes, marker, offset, value
):
    data = _damaged(phone_photo, marker, offset, value)

    with pytest.raises(ImageRejected) as caught:
        process(data)

    assert caught.value.reason == "corrupt"
    assert decodes == [(2000, 1500)]


def test_truncated_large_jpeg_is_refused(phone_photo):
    for fraction in (0.5, 0.9, 0.999):
        with pytest.raises(ImageRejected) as caught:
            process(images.truncated(phone_photo, fraction))

        assert caught.value.reason == "truncated", fraction


def test_damaged_large_jpeg_gets_the_verdict_of_a_full_decode(phone_photo):
    rng = random.Random(5)
    damaged = []
    for at in (0.2, 0.5, 0.95):
        start = int(len(phone_photo) * at)
        garbage = bytes(b if b != 0xFF else 0 for b in rng.randbytes(4096))
        damaged.append(phone_photo[:start] + garbage + phone_photo[start + 4096 :])
        damaged.append(phone_photo[:start] + phone_photo[start + 4096 :])
        damaged.append(phone_photo[:start] + b"\xff\xd9" + phone_photo[start:])
        damaged.append(phone_photo[:start] + b"\xff\xd8" + phone_photo[start:])
        damaged.append(images.truncated(phone_photo, at))

    verdicts = [(verdict(process, data), verdict(inspect, data)) for data in damaged]

    assert [ours for ours, _ in verdicts] == [full for _, full in verdicts]
    assert {ours for ours, _ in verdicts} >= {"corrupt", "truncated"}


def test_large_jpeg_is_streamed_in_blocks(phone_photo):
    class RecordingStream(io.BytesIO):
        largest_read = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            self.largest_read = max(self.largest_read, len(data))
            return data

    stream = RecordingStream(phone_photo)
    single_decode.process(stream)

    assert stream.largest_read <= 64 * 1024
