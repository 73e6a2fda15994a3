"""The image-processing core of photo evidence: what is accepted, what it says, what is shown."""

from __future__ import annotations

import io
import re
import struct
import warnings
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from PIL import ExifTags, Image, ImageCms, ImageDraw, ImageFile

from fieldapi.photos.imaging import decoding, trailing_data
from fieldapi.photos.imaging.derivatives import Derivative
from fieldapi.photos.imaging.derivatives import derivatives as make_derivatives
from fieldapi.photos.imaging.facts import Facts
from fieldapi.photos.imaging.facts import inspect as inspect_stream
from fieldapi.photos.imaging.perceptual_hash import hamming
from fieldapi.photos.imaging.rejections import ImageRejected
from tests.photos import images
from tests.photos.images import MAKERS, Rational, dms

FORMATS = ["JPEG", "PNG", "WEBP", "HEIF"]
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
}
TAKEN = datetime(2024, 5, 1, 10, 20, 30, tzinfo=timezone(timedelta(hours=8)))
SITE = (22.543096, 114.057865)  # Futian, Shenzhen
SHANGHAI = ZoneInfo("Asia/Shanghai")


def inspect(data: bytes, **kwargs) -> Facts:
    return inspect_stream(io.BytesIO(data), **kwargs)


def derivatives(data: bytes, **kwargs) -> tuple[Derivative, Derivative]:
    return make_derivatives(io.BytesIO(data), **kwargs)


def refusal(call, data: bytes, **kwargs) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        call(data, **kwargs)
    return caught.value


def jpeg_segments(data: bytes) -> list[int]:
    """Marker codes of a JPEG's segments up to its first scan."""
    codes, position = [], 2
    while True:
        code = data[position + 1]
        codes.append(code)
        if code == 0xDA:
            return codes
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length


def assert_bare_jpeg(derivative: Derivative) -> Image.Image:
    """A plain JPEG: no EXIF, XMP, ICC, comment or any application segment but JFIF."""
    assert derivative.content_type == "image/jpeg"
    img = Image.open(io.BytesIO(derivative.data))
    assert img.format == "JPEG"
    assert img.mode == "RGB"
    assert img.size == (derivative.width, derivative.height)
    assert not img.getexif()
    assert not {"exif", "xmp", "icc_profile", "comment", "photoshop"} & img.info.keys()
    segments = jpeg_segments(derivative.data)
    assert [code for code in segments if 0xE1 <= code <= 0xEF or code == 0xFE] == []
    assert b"Exif\x00\x00" not in derivative.data
    img.load()
    return img


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def shown_at(img: Image.Image, x: int, y: int) -> tuple[int, ...]:
    """The colour at (x, y) of the 400x300 upright picture, in a copy of any size."""
    scale = img.width / images.UPRIGHT_SIZE[0]
    return img.getpixel((int(x * scale), int(y * scale)))


@pytest.fixture
def decoded_sizes(monkeypatch) -> set[tuple[int, int]]:
    """The sizes at which JPEG and PNG files are actually decoded (after any draft)."""
    sizes: set[tuple[int, int]] = set()
    load = ImageFile.ImageFile.load

    def recording_load(self):
        sizes.add(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    return sizes


@pytest.fixture(scope="module")
def twelve_megapixels() -> bytes:
    data = images.jpeg(4096, 3072, seed=3)
    assert len(data) > 2_500_000  # a phone-sized file, not a toy
    return data


# Accepted formats


@pytest.mark.parametrize("fmt", FORMATS)
def test_facts_of_each_accepted_format(fmt):
    data = MAKERS[fmt](640, 480, gps=SITE, taken=TAKEN, make="Xiaomi", model="2201123C")

    facts = inspect(data, declared_type=CONTENT_TYPES[fmt])

    assert (facts.format, facts.content_type) == (fmt, CONTENT_TYPES[fmt])
    assert (facts.width, facts.height, facts.orientation) == (640, 480, 1)
    assert facts.captured_at == TAKEN
    assert facts.captured_at.utcoffset() == timedelta(hours=8)
    assert facts.location == pytest.approx(SITE, abs=1e-6)
    assert facts.device == "Xiaomi 2201123C"
    assert re.fullmatch(r"[0-9a-f]{16}", facts.phash)


@pytest.mark.parametrize("declared", ["image/heic", "image/heif"])
def test_heic_may_be_declared_as_heic_or_heif(declared):
    facts = inspect(images.heic(), declared_type=declared)

    assert (facts.format, facts.content_type) == ("HEIF", "image/heic")


@pytest.mark.parametrize("fmt", FORMATS)
def test_photo_without_exif_has_no_metadata_facts(fmt):
    facts = inspect(MAKERS[fmt](320, 240))

    assert (facts.orientation, facts.captured_at, facts.location, facts.device) == (
        1,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_damaged_exif_costs_the_metadata_not_the_photo(fmt):
    img = images.picture(320, 240, seed=4)
    data = images.encode(img, fmt, exif=b"Exif\x00\x00" + b"\xcf\xea\x01" * 40)

    facts = inspect(data)
    display, _ = derivatives(data)

    assert (facts.width, facts.height, facts.orientation, facts.captured_at) == (320, 240, 1, None)
    assert (display.width, display.height) == (320, 240)


def _app5(payload: bytes) -> bytes:
    return b"\xff\xe5" + struct.pack(">H", len(payload) + 2) + payload


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"progressive": True}, id="progressive"),
        pytest.param({"optimize": True, "subsampling": 0}, id="optimized-444"),
        pytest.param({"restart_marker_blocks": 4}, id="restart-markers"),
        pytest.param(
            {"extra": _app5(images.encode(Image.new("RGB", (32, 24)), "JPEG"))},
            id="segment-holding-a-thumbnail",
        ),
    ],
)
def test_jpeg_encodings_cameras_use_are_accepted(params):
    data = images.encode(images.picture(640, 480, seed=6), "JPEG", quality=90, **params)

    facts = inspect(data, declared_type="image/jpeg")

    assert (facts.format, facts.width, facts.height) == ("JPEG", 640, 480)


@pytest.mark.parametrize("chunk", [2, 3, 7])
def test_end_of_a_jpeg_is_found_wherever_reads_split_it(chunk, monkeypatch):
    monkeypatch.setattr(trailing_data, "_CHUNK", chunk)
    params = {"progressive": True, "restart_marker_blocks": 1}
    data = images.encode(images.picture(96, 64, seed=7), "JPEG", **params)

    assert inspect(data).width == 96
    assert inspect(images.mpo(96, 64)).width == 96
    assert refusal(inspect, images.with_script(data)).reason == "corrupt"
    assert refusal(inspect, images.truncated(data, 0.9)).reason == "truncated"


def test_greyscale_jpeg_is_accepted():
    data = images.encode(images.picture(640, 480, seed=6).convert("L"), "JPEG")

    facts = inspect(data, declared_type="image/jpeg")
    display, _ = derivatives(data)

    assert (facts.width, facts.height) == (640, 480)
    assert Image.open(io.BytesIO(display.data)).mode == "RGB"


def test_mpo_is_a_jpeg_showing_its_first_image():
    data = images.mpo(640, 480)

    facts = inspect(data, declared_type="image/jpeg")
    display, _ = derivatives(data)

    assert (facts.format, facts.content_type, facts.width, facts.height) == (
        "JPEG",
        "image/jpeg",
        640,
        480,
    )
    assert (display.width, display.height) == (640, 480)


# Derivatives


@pytest.mark.parametrize("fmt", FORMATS)
def test_derivatives_are_bare_jpegs_within_bounds(fmt):
    data = MAKERS[fmt](2100, 1400, gps=SITE, taken=TAKEN, make="HUAWEI", model="P30")

    display, thumbnail = derivatives(data)

    assert (display.width, display.height) == (2048, 1365)
    assert (thumbnail.width, thumbnail.height) == (320, 213)
    assert_bare_jpeg(display)
    assert_bare_jpeg(thumbnail)


def test_derivatives_never_enlarge():
    display, thumbnail = derivatives(images.jpeg(300, 200))

    assert (display.width, display.height) == (300, 200)
    assert (thumbnail.width, thumbnail.height) == (300, 200)


@pytest.mark.parametrize("fmt", FORMATS)
def test_location_is_in_the_original_and_gone_from_derivatives(fmt):
    data = MAKERS[fmt](800, 600, gps=SITE, taken=TAKEN, make="Apple", model="iPhone 15")
    assert inspect(data).location is not None

    for derivative in derivatives(data):
        assert_bare_jpeg(derivative)
        facts = inspect(derivative.data, declared_type="image/jpeg")
        assert (facts.location, facts.captured_at, facts.device) == (None, None, None)


def test_comment_xmp_and_icc_profile_are_not_copied():
    secret = b"GPS 22.543096,114.057865 flat 1203"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>22,32.5N</exif:GPSLatitude>'
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = images.encode(
        images.picture(640, 480), "JPEG", comment=secret, xmp=xmp + b"</x:xmpmeta>", icc_profile=icc
    )
    assert secret in data  # the original carries them

    for derivative in derivatives(data):
        assert_bare_jpeg(derivative)
        assert secret not in derivative.data
        assert b"GPSLatitude" not in derivative.data


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_is_shown_upright(fmt, orientation):
    data = images.oriented(orientation, fmt)

    facts = inspect(data)
    display, thumbnail = derivatives(data)

    assert (facts.width, facts.height, facts.orientation) == (400, 300, orientation)
    assert (display.width, display.height) == (400, 300)
    assert (thumbnail.width, thumbnail.height) == (320, 240)
    for derivative in (display, thumbnail):
        img = assert_bare_jpeg(derivative)
        assert close(shown_at(img, 40, 30), (255, 0, 0)), "red marker top-left"
        assert close(shown_at(img, 360, 30), (0, 255, 0)), "green marker top-right"
        assert close(shown_at(img, 40, 270), images.BACKGROUND)
        assert close(shown_at(img, 360, 270), images.BACKGROUND)


@pytest.mark.parametrize("value", [0, 9])
def test_orientation_outside_one_to_eight_counts_as_upright(value):
    data = images.jpeg(640, 480, orientation=value)

    facts = inspect(data)
    display, _ = derivatives(data)

    assert (facts.width, facts.height, facts.orientation) == (640, 480, 1)
    assert (display.width, display.height) == (640, 480)


def test_transparency_becomes_white():
    img = Image.new("RGBA", (200, 100), (200, 0, 0, 255))
    ImageDraw.Draw(img).rectangle((0, 0, 99, 99), fill=(0, 0, 0, 0))
    palette = img.convert("RGB").quantize(4)
    palette.info["transparency"] = palette.getpixel((10, 10))

    for source in (img, img.convert("LA"), palette):
        display, _ = derivatives(images.encode(source, "PNG"))
        shown = Image.open(io.BytesIO(display.data)).convert("RGB")
        assert close(shown.getpixel((20, 50)), (255, 255, 255), 8), source.mode
        assert not close(shown.getpixel((180, 50)), (255, 255, 255), 8), source.mode


def test_sixteen_bit_grey_is_scaled_not_clipped():
    img = Image.new("I;16", (200, 100), 65535)
    ImageDraw.Draw(img).rectangle((100, 0, 199, 99), fill=32768)

    display, _ = derivatives(images.encode(img, "PNG"))

    shown = Image.open(io.BytesIO(display.data)).convert("L")
    assert shown.getpixel((50, 50)) >= 250
    assert 120 <= shown.getpixel((150, 50)) <= 136


def test_cmyk_and_bilevel_become_rgb():
    cmyk = images.encode(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG")
    bilevel = images.bilevel_png(64, 48)

    red = Image.open(io.BytesIO(derivatives(cmyk)[0].data))
    black = Image.open(io.BytesIO(derivatives(bilevel)[0].data))

    assert red.mode == "RGB"
    assert close(red.getpixel((30, 20)), (255, 0, 0), 60)
    assert black.mode == "RGB"
    assert close(black.getpixel((30, 20)), (0, 0, 0), 8)


# Large JPEGs and memory


def test_large_jpeg_is_decoded_at_reduced_scale_for_derivatives(twelve_megapixels, decoded_sizes):
    display, thumbnail = derivatives(twelve_megapixels)

    assert decoded_sizes == {(2048, 1536)}  # a quarter of the pixels, never the full frame
    assert (display.width, display.height) == (2048, 1536)
    assert (thumbnail.width, thumbnail.height) == (320, 240)


def test_inspect_decodes_every_pixel_of_the_original(twelve_megapixels, decoded_sizes):
    inspect(twelve_megapixels)

    assert decoded_sizes == {(4096, 3072)}


def test_reduced_scale_never_goes_below_the_display_size(decoded_sizes):
    # Half of 4000 is below 2048, so the full frame is needed; for 1000 a quarter will do.
    display, _ = derivatives(images.jpeg(4000, 3000))
    assert decoded_sizes == {(4000, 3000)}
    assert (display.width, display.height) == (2048, 1536)

    decoded_sizes.clear()
    display, _ = derivatives(images.jpeg(4000, 3000), display_max=1000)
    assert decoded_sizes == {(1000, 750)}
    assert (display.width, display.height) == (1000, 750)


class RecordingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.largest_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.largest_read = max(self.largest_read, len(data))
        return data


@pytest.mark.parametrize("call", [inspect_stream, make_derivatives])
def test_jpeg_and_png_originals_are_streamed_in_blocks(call, twelve_megapixels):
    for data in (twelve_megapixels, images.png(1200, 900)):
        stream = RecordingStream(data)
        call(stream)
        assert stream.largest_read <= 64 * 1024 < len(data)


# Capture time, place and device


def test_capture_time_without_offset_is_read_in_the_default_zone():
    data = images.jpeg(taken=datetime(2024, 5, 1, 10, 20, 30))

    assert inspect(data).captured_at == datetime(2024, 5, 1, 10, 20, 30, tzinfo=SHANGHAI)
    berlin = inspect(data, default_tz=ZoneInfo("Europe/Berlin")).captured_at
    assert berlin.utcoffset() == timedelta(hours=2)


def test_capture_time_offset_wins_over_the_default_zone():
    taken = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))

    facts = inspect(images.jpeg(taken=taken), default_tz=ZoneInfo("Europe/Berlin"))

    assert facts.captured_at == taken
    assert facts.captured_at.utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024:05:01 10:20:30", datetime(2024, 5, 1, 10, 20, 30, tzinfo=SHANGHAI)),
        ("2024-05-01 10:20:30", datetime(2024, 5, 1, 10, 20, 30, tzinfo=SHANGHAI)),
        ("0000:00:00 00:00:00", None),
        ("2024:13:45 10:20:30", None),
        ("    :  :     :  :  ", None),
        ("yesterday", None),
    ],
)
def test_capture_time_text(text, expected):
    assert inspect(images.jpeg(taken=text)).captured_at == expected


def _gps(lat_ref, lat, lon_ref, lon, status=None) -> dict:
    tags = {
        ExifTags.GPS.GPSLatitudeRef: lat_ref,
        ExifTags.GPS.GPSLatitude: lat,
        ExifTags.GPS.GPSLongitudeRef: lon_ref,
        ExifTags.GPS.GPSLongitude: lon,
        ExifTags.GPS.GPSStatus: status,
    }
    return {tag: value for tag, value in tags.items() if value is not None}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        pytest.param(_gps("S", dms(33.8688), "W", dms(151.2093)), (-33.8688, -151.2093), id="SW"),
        pytest.param(
            _gps("N", (Rational(45, 2), 0, 0), "E", (Rational(228, 2), 0, 0)),
            (22.5, 114.0),
            id="degrees-as-fractions",
        ),
        pytest.param(
            _gps("N", (Rational(22, 1), Rational(30, 0), 0), "E", dms(114.0)),
            None,
            id="zero-denominator",
        ),
        pytest.param(_gps("N", dms(95.0), "E", dms(114.0)), None, id="latitude-over-90"),
        pytest.param(_gps("N", dms(22.5), "E", dms(181.0)), None, id="longitude-over-180"),
        pytest.param(_gps("N", (22, 75, 0), "E", dms(114.0)), None, id="75-minutes"),
        pytest.param(_gps(None, dms(22.5), None, dms(114.0)), None, id="no-hemisphere"),
        pytest.param(_gps("X", dms(22.5), "E", dms(114.0)), None, id="bad-hemisphere"),
        pytest.param(_gps("N", dms(0), "E", dms(0)), None, id="no-fix-zero-zero"),
        pytest.param(_gps("N", dms(22.5), "E", dms(114.0), status="V"), None, id="void-fix"),
        pytest.param(_gps("N", (22, 30, 0, 5), "E", dms(114.0)), None, id="four-parts"),
    ],
)
def test_gps_position(tags, expected):
    location = inspect(images.jpeg(gps=tags)).location

    if expected is None:
        assert location is None
    else:
        assert location == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("make", "model", "expected"),
    [
        ("Apple", "iPhone 15 Pro", "Apple iPhone 15 Pro"),
        ("HUAWEI", "HUAWEI P30", "HUAWEI P30"),
        ("OPPO\x00\x00", "  PHY110 ", "OPPO PHY110"),
        ("vivo", None, "vivo"),
        (None, "X100", "X100"),
        (None, None, None),
    ],
)
def test_device_is_make_and_model(make, model, expected):
    assert inspect(images.jpeg(make=make, model=model)).device == expected


# Refusals


# Valid pictures with something after them: decodable, so only inspect can tell.
POLYGLOTS = [
    ("JPEG that is also a ZIP", lambda: images.with_zip(images.jpeg()), "image/jpeg", "corrupt"),
    ("JPEG then a script", lambda: images.with_script(images.jpeg()), "image/jpeg", "corrupt"),
    ("MPO that is also a ZIP", lambda: images.with_zip(images.mpo()), "image/jpeg", "corrupt"),
    ("PNG that is also a ZIP", lambda: images.with_zip(images.png()), "image/png", "corrupt"),
    ("WebP that is also a ZIP", lambda: images.with_zip(images.webp()), "image/webp", "corrupt"),
    ("HEIC that is also a ZIP", lambda: images.with_zip(images.heic()), "image/heic", "corrupt"),
    ("HEIC then a script", lambda: images.with_script(images.heic()), "image/heic", "corrupt"),
]
UNDECODABLE = [
    ("web page sent as a JPEG", images.not_an_image, "image/jpeg", "not-an-image"),
    ("empty file", lambda: b"", "image/jpeg", "not-an-image"),
    ("PNG signature then a page", images.png_signature_then_html, "image/png", "corrupt"),
    ("damaged PNG pixels", images.corrupt_png, "image/png", "corrupt"),
    ("JPEG cut at 60%", lambda: images.truncated(images.jpeg()), "image/jpeg", "truncated"),
    ("PNG cut at 60%", lambda: images.truncated(images.png()), "image/png", "truncated"),
    ("WebP cut at 60%", lambda: images.truncated(images.webp()), "image/webp", "truncated"),
    ("HEIC cut at 60%", lambda: images.truncated(images.heic()), "image/heic", "truncated"),
    ("900 MP PNG bomb", lambda: images.bilevel_png(30000, 30000), "image/png", "too-many-pixels"),
    ("100 MP PNG", lambda: images.bilevel_png(10000, 10000), "image/png", "too-many-pixels"),
    ("61.6 MP PNG", lambda: images.bilevel_png(8000, 7700), "image/png", "too-many-pixels"),
    (
        "JPEG claiming 65000²",
        lambda: images.jpeg_claiming(65000, 65000),
        "image/jpeg",
        "too-many-pixels",
    ),
    ("GIF", images.gif, "image/jpeg", "unsupported-format"),
    ("BMP", images.bmp, "image/jpeg", "unsupported-format"),
    ("TIFF", images.tiff, "image/jpeg", "unsupported-format"),
    ("AVIF", images.avif, "image/heif", "unsupported-format"),
    ("AVIF with brand mif1", images.avif_as_mif1, "image/heif", "unsupported-format"),
    ("SVG", images.svg, "image/png", "unsupported-format"),
]
HOSTILE = POLYGLOTS + UNDECODABLE


@pytest.mark.parametrize(
    ("make", "declared", "reason"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_files_are_refused_by_inspect(make, declared, reason):
    refused = refusal(inspect, make(), declared_type=declared)

    assert refused.reason == reason
    assert refused.detail.endswith(".")
    assert len(refused.detail) < 160


@pytest.mark.parametrize(
    ("make", "reason"),
    [(case[1], case[3]) for case in UNDECODABLE],
    ids=[case[0] for case in UNDECODABLE],
)
def test_derivatives_refuse_what_cannot_be_decoded(make, reason):
    assert refusal(derivatives, make()).reason == reason


@pytest.mark.parametrize(
    ("make", "declared"),
    [
        pytest.param(images.png, "image/jpeg", id="PNG-as-JPEG"),
        pytest.param(images.jpeg, "image/png", id="JPEG-as-PNG"),
        pytest.param(images.heic, "image/jpeg", id="HEIC-as-JPEG"),
        pytest.param(images.webp, "image/heic", id="WebP-as-HEIC"),
        pytest.param(images.jpeg, "image/webp", id="JPEG-as-WebP"),
    ],
)
def test_declared_type_must_match_the_bytes(make, declared):
    refused = refusal(inspect, make(), declared_type=declared)

    assert refused.reason == "format-mismatch"
    assert declared in refused.detail


@pytest.mark.parametrize(
    ("width", "height", "make"),
    [
        (30000, 30000, images.bilevel_png),
        (8000, 7700, images.bilevel_png),
        (65000, 65000, images.jpeg_claiming),
        (8000, 7700, images.jpeg_claiming),
    ],
)
def test_pixel_limit_is_judged_before_decoding(width, height, make, decoded_sizes):
    data = make(width, height)

    assert refusal(inspect, data).reason == "too-many-pixels"
    assert refusal(derivatives, data).reason == "too-many-pixels"
    assert decoded_sizes == set()


def test_pixel_limit_is_inclusive(monkeypatch):
    monkeypatch.setattr(decoding, "MAX_PIXELS", 640 * 480)

    assert inspect(images.jpeg(640, 480)).width == 640
    assert refusal(inspect, images.jpeg(641, 480)).reason == "too-many-pixels"


def test_pillow_bomb_warning_is_raised_as_a_refusal_not_emitted():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        refused = refusal(inspect, images.bilevel_png(10000, 10000))

    assert refused.reason == "too-many-pixels"
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_process_wide_pillow_settings_are_left_alone():
    filters = list(warnings.filters)

    refusal(inspect, images.bilevel_png(10000, 10000))
    refusal(inspect, images.truncated(images.jpeg()))

    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # Pillow's own default
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert warnings.filters == filters


def test_lenient_truncated_loading_is_refused_outright(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)

    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        inspect(images.truncated(images.jpeg()))


# Perceptual hash


def test_near_identical_copies_hash_within_six_bits():
    scene = images.picture(1600, 1200, seed=5)
    reference = inspect(images.encode(scene, "JPEG", quality=95)).phash
    copies = {
        "quality 40": images.encode(scene, "JPEG", quality=40),
        "half size": images.encode(scene.resize((800, 600)), "JPEG", quality=85),
        "PNG": images.encode(scene, "PNG"),
        "HEIC": images.encode(scene, "HEIF", quality=60),
        "stored sideways, tagged 6": images.encode(
            scene.transpose(Image.Transpose.ROTATE_90),
            "JPEG",
            exif=images.exif_bytes(orientation=6),
        ),
    }

    distances = {name: hamming(reference, inspect(data).phash) for name, data in copies.items()}

    assert max(distances.values()) <= 6, distances


def test_different_scenes_hash_more_than_twelve_bits_apart():
    hashes = [inspect(images.jpeg(640, 480, seed=seed)).phash for seed in range(8)]

    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]

    assert min(distances) > 12, distances


@pytest.mark.parametrize(
    ("shapes", "expected"),
    [
        (
            [((20, 30, 200, 180), (200, 30, 30)), ((150, 100, 300, 230), (20, 160, 60))],
            "ea15c83a9f62394e",
        ),
        (
            [((0, 0, 160, 120), (250, 250, 250)), ((170, 130, 320, 240), (0, 0, 0))],
            "cc264a11b3656b3f",
        ),
    ],
)
def test_phash_equals_imagehash_phash(shapes, expected):
    # Expected values computed with ImageHash 4.3.2, imagehash.phash(Image.open(png)).
    img = Image.linear_gradient("L").resize((320, 240)).convert("RGB")
    draw = ImageDraw.Draw(img)
    for box, colour in shapes:
        draw.ellipse(box, fill=colour)

    assert inspect(images.encode(img, "PNG")).phash == expected


def test_hamming_counts_differing_bits():
    assert hamming("0000000000000000", "ffffffffffffffff") == 64
    assert hamming("00000000000000f0", "0000000000000010") == 3
    assert hamming("ABCDEF0123456789", "abcdef0123456789") == 0


@pytest.mark.parametrize("bad", ["", "abc", "0x00000000000000", "ghijklmnopqrstuv", "0" * 17])
def test_hamming_refuses_what_is_not_a_phash(bad):
    with pytest.raises(ValueError, match="16 hexadecimal"):
        hamming(bad, "0" * 16)
