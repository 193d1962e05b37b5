"""A photo as the server keeps it: decoded, turned upright and encoded again from its pixels alone.

Why re-encode rather than delete known metadata: a photo from a phone carries the place it was taken (GPS),
the time, the phone's make, model and serial number, often a thumbnail of the uncropped original, and
whatever a program appended after the image. Each format hides these in its own places (EXIF, XMP, ICC,
PNG text chunks, JPEG comments, trailing bytes), and a list of places to clean is never complete. Pixels
copied into a new image that has no metadata at all, and encoded from it, carry nothing but the picture.

Decoding is also the content check: the name and the type the browser sent are never trusted; a file is
accepted only if Pillow decodes it fully as JPEG, PNG or WebP. Its size in pixels is checked before its
pixels are decoded, so a small file that would unpack to gigabytes (a decompression bomb) is refused.
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass

from PIL import Image, ImageOps, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError, WebPImagePlugin

# The decoders tried, and no other: Pillow knows dozens of formats, each a parser facing hostile input.
# Their plugins are imported by name so that they are registered (Pillow loads WebP's only on demand).
DECODERS = ["JPEG", "PNG", "WEBP"]
_PLUGINS = (JpegImagePlugin, PngImagePlugin, WebPImagePlugin)
# Pillow's format names that we accept, as (media type, file extension, the format written back).
# MPO is how Pillow names the multi-picture JPEGs many phones write: only its first picture is kept.
FORMATS = {
    "JPEG": ("image/jpeg", "jpg", "JPEG"),
    "MPO": ("image/jpeg", "jpg", "JPEG"),
    "PNG": ("image/png", "png", "PNG"),
    "WEBP": ("image/webp", "webp", "WEBP"),
}
# What each written format can hold without a conversion; anything else becomes RGB (or RGBA).
_MODES = {"JPEG": ("RGB", "L"), "PNG": ("RGB", "RGBA", "L", "LA"), "WEBP": ("RGB", "RGBA")}
_SAVE_OPTIONS: dict[str, dict[str, object]] = {
    "JPEG": {"quality": 90},
    "PNG": {},
    "WEBP": {"quality": 90},
}
# Pillow logs every EXIF tag it reads, value included, at DEBUG: a photo's GPS position, the camera's
# serial number. Whatever level the server logs at, Pillow's logger says nothing below a warning.
logging.getLogger("PIL").setLevel(logging.WARNING)

# Decoded pixels take several bytes each: at most this many photos are decoded at once, however many
# requests send one, so that memory stays bounded.
_DECODING = threading.BoundedSemaphore(2)


class ImageRefused(ValueError):
    """The file is not a photo we accept. `reason` is a message key (locale/*.json)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CleanFile:
    """A file as the server keeps it. For a picture, its size in pixels; for anything else 0 × 0."""

    data: bytes
    media_type: str
    extension: str
    width: int
    height: int


def media_type_of(data: bytes) -> tuple[str, str]:
    """(media type, extension) of a file the server kept (a picture this module wrote, or a voice note or
    PDF that attachments/media.py let in), from its first bytes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    if data.startswith(b"OggS"):
        return "audio/ogg", "ogg"
    if data.startswith(b"%PDF-"):
        return "application/pdf", "pdf"
    return "application/octet-stream", "bin"


def clean_image(data: bytes, *, max_pixels: int) -> CleanFile:
    """Decode `data` as a JPEG, PNG or WebP photo and return it re-encoded with no metadata, upright.

    Raises ImageRefused("file_not_image") for anything that is not one of those, "file_too_many_pixels"
    for a picture larger than `max_pixels`, and "file_unreadable" for one that does not decode."""
    with _DECODING:
        try:
            with Image.open(io.BytesIO(data), formats=DECODERS) as image:
                if image.width * image.height > max_pixels:
                    raise ImageRefused("file_too_many_pixels")
                media_type, extension, written = FORMATS[image.format or ""]
                pixels = _pixels_only(image, _MODES[written])
        except ImageRefused:
            raise
        except UnidentifiedImageError:
            raise ImageRefused("file_not_image") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's own limit, met before ours when a picture declares a huge size.
            raise ImageRefused("file_too_many_pixels") from None
        except Exception:
            # A damaged or hostile file can make a decoder fail in many ways (OSError, SyntaxError,
            # ValueError, struct.error, ...): all of them mean the same to the requester.
            raise ImageRefused("file_unreadable") from None
        out = io.BytesIO()
        pixels.save(out, format=written, **_SAVE_OPTIONS[written])
        return CleanFile(out.getvalue(), media_type, extension, pixels.width, pixels.height)


def _pixels_only(image: Image.Image, modes: tuple[str, ...]) -> Image.Image:
    """The picture, turned as its EXIF orientation says, copied into a new image that has no metadata."""
    image.seek(0)  # the first frame of an animation or a multi-picture file
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:
        # EXIF too damaged to say which way is up: the pixels are still good, shown as they were taken.
        upright = image
    if upright.mode not in modes:
        # A palette, CMYK, 16-bit or other mode the encoder would refuse or misread.
        upright = upright.convert("RGBA" if upright.has_transparency_data and "RGBA" in modes else "RGB")
    # Image.new starts with empty `info` and no EXIF; paste copies pixels and nothing else.
    bare = Image.new(upright.mode, upright.size)
    bare.paste(upright)
    return bare
