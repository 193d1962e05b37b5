"""A photo as the server keeps it: decoded, upright, re-encoded from its pixels alone; anything else is
refused with a reason the requester can read, never with another exception."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from haven.attachments.images import ImageRefused, clean_image, media_type_of
from tests.functional.photos import jpeg_with_gps, png_declaring, png_with_text, small_png

PIXELS = 1_000_000
MARKER = "zqunitmarker42"


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def saved(picture: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, kind, **options)
    return out.getvalue()


def test_a_jpeg_comes_back_a_jpeg_with_no_exif_comment_or_trailing_bytes() -> None:
    clean = clean_image(jpeg_with_gps(MARKER), max_pixels=PIXELS)

    assert (clean.media_type, clean.extension, clean.width, clean.height) == ("image/jpeg", "jpg", 64, 32)
    assert MARKER.encode() not in clean.data
    assert b"Exif" not in clean.data
    assert clean.data.endswith(b"\xff\xd9")  # nothing after the image's end marker
    assert "comment" not in opened(clean.data).info


def test_a_png_comes_back_a_png_without_its_text_chunks() -> None:
    clean = clean_image(png_with_text(MARKER), max_pixels=PIXELS)

    assert clean.media_type == "image/png"
    assert MARKER.encode() not in clean.data
    assert opened(clean.data).info == {}


def test_a_webp_comes_back_a_webp_without_its_exif() -> None:
    original = saved(opened(jpeg_with_gps(MARKER)), "WEBP", exif=opened(jpeg_with_gps(MARKER)).getexif())
    assert MARKER.encode() in original

    clean = clean_image(original, max_pixels=PIXELS)

    assert clean.media_type == "image/webp"
    assert MARKER.encode() not in clean.data


def test_a_multi_picture_jpeg_keeps_its_first_picture_only() -> None:
    first, second = Image.new("RGB", (16, 8), (200, 0, 0)), Image.new("RGB", (8, 16), (0, 0, 200))
    original = saved(first, "MPO", save_all=True, append_images=[second])
    assert opened(original).format == "MPO"

    clean = clean_image(original, max_pixels=PIXELS)

    assert (clean.media_type, clean.width, clean.height) == ("image/jpeg", 16, 8)
    assert opened(clean.data).format == "JPEG"


def test_an_icc_profile_is_dropped() -> None:
    profile = b"\x00" * 128 + MARKER.encode()
    original = saved(Image.new("RGB", (8, 8)), "JPEG", icc_profile=profile)

    clean = clean_image(original, max_pixels=PIXELS)

    assert MARKER.encode() not in clean.data
    assert "icc_profile" not in opened(clean.data).info


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_every_turning_orientation_is_applied(orientation: int) -> None:
    clean = clean_image(jpeg_with_gps(MARKER, orientation=orientation), max_pixels=PIXELS)

    assert (clean.width, clean.height) == ((64, 32) if orientation == 3 else (32, 64))
    assert 0x0112 not in opened(clean.data).getexif()


@pytest.mark.parametrize(
    ("mode", "kind", "expected"),
    [
        ("CMYK", "JPEG", "RGB"),
        ("L", "JPEG", "L"),
        ("P", "PNG", "RGB"),
        ("LA", "PNG", "LA"),
        ("I;16", "PNG", "RGB"),
    ],
)
def test_unusual_modes_are_written_in_one_the_format_holds(mode: str, kind: str, expected: str) -> None:
    clean = clean_image(saved(Image.new(mode, (8, 8)), kind), max_pixels=PIXELS)

    assert opened(clean.data).mode == expected


def test_a_palette_picture_with_transparency_keeps_it() -> None:
    clean = clean_image(saved(Image.new("P", (8, 8)), "PNG", transparency=0), max_pixels=PIXELS)

    assert opened(clean.data).mode == "RGBA"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"<html><body>hello</body></html>",
        b"%PDF-1.7\n",
        b"GIF89a" + bytes(40),
        b"PK\x03\x04" + bytes(40),
    ],
    ids=["empty", "html", "pdf", "gif", "zip"],
)
def test_anything_but_jpeg_png_or_webp_is_not_an_image(content: bytes) -> None:
    with pytest.raises(ImageRefused) as refused:
        clean_image(content, max_pixels=PIXELS)
    assert refused.value.reason == "file_not_image"


def test_a_gif_is_refused_even_though_pillow_reads_it() -> None:
    with pytest.raises(ImageRefused) as refused:
        clean_image(saved(Image.new("P", (8, 8)), "GIF"), max_pixels=PIXELS)
    assert refused.value.reason == "file_not_image"


def test_a_picture_over_the_pixel_limit_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(ImageRefused) as refused:
        clean_image(png_declaring(2000, 1000), max_pixels=PIXELS)
    assert refused.value.reason == "file_too_many_pixels"


def test_a_cut_picture_is_unreadable() -> None:
    with pytest.raises(ImageRefused) as refused:
        clean_image(jpeg_with_gps(MARKER)[:600], max_pixels=PIXELS)
    assert refused.value.reason == "file_unreadable"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
    ],
)
def test_the_type_handed_out_is_read_from_the_bytes(data: bytes, expected: str) -> None:
    assert media_type_of(data)[0] == expected


SEEDS = [jpeg_with_gps(MARKER), png_with_text(MARKER), small_png()]
OUTCOMES = {"cleaned", "file_not_image", "file_too_many_pixels", "file_unreadable"}


def outcome(data: bytes) -> str:
    """ "cleaned", or the reason the picture was refused; any other exception fails the test."""
    try:
        clean = clean_image(data, max_pixels=PIXELS)
    except ImageRefused as refused:
        return refused.reason
    assert clean.media_type in {"image/jpeg", "image/png", "image/webp"}
    return "cleaned"


@settings(max_examples=150, deadline=timedelta(seconds=2))
@given(
    seed=st.sampled_from(SEEDS),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
    cut=st.integers(min_value=0, max_value=2000),
)
def test_a_damaged_photo_is_cleaned_or_refused_never_anything_else(
    seed: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(seed[: max(1, len(seed) - cut)])
    for at, value in flips:
        data[at % len(data)] = value

    assert outcome(bytes(data)) in OUTCOMES


@settings(max_examples=150, deadline=timedelta(seconds=2))
@given(st.binary(max_size=2000))
def test_any_bytes_are_cleaned_or_refused_never_anything_else(data: bytes) -> None:
    assert outcome(data) in OUTCOMES
