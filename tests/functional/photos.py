"""Photos made in the tests with Pillow, carrying markers in every place a camera or a program hides data:
EXIF (description, make, model, GPS), JPEG comments, PNG text chunks, bytes after the image."""

from __future__ import annotations

import io
import zlib

from PIL import ExifTags, Image, PngImagePlugin

from haven.attachments.forms import FileLimits, Upload
from haven.attachments.models import Attachment
from haven.attachments.services import check_files, message_rows
from haven.cases.models import Case
from haven.cases.records import RecordKind
from haven.db import insert_rows
from haven.runtime import Runtime

RED, BLUE = (220, 20, 20), (20, 20, 220)


def two_colour_picture(width: int, height: int) -> Image.Image:
    """Left half red, right half blue: where the halves end up tells how the picture was turned."""
    picture = Image.new("RGB", (width, height), RED)
    picture.paste(BLUE, (width // 2, 0, width, height))
    return picture


def jpeg_with_gps(marker: str, *, width: int = 64, height: int = 32, orientation: int = 1) -> bytes:
    """A JPEG whose EXIF holds `marker` in its description, make, model and GPS area, with a position
    and an orientation, plus a comment and a trailing payload holding it too."""
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = f"description {marker}"
    exif[ExifTags.Base.Make] = f"make {marker}"
    exif[ExifTags.Base.Model] = f"model {marker}"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (50.0, 27.0, 1.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (30.0, 31.0, 24.0)
    gps[ExifTags.GPS.GPSAreaInformation] = b"ASCII\x00\x00\x00" + f"area {marker}".encode()
    out = io.BytesIO()
    two_colour_picture(width, height).save(
        out, "JPEG", exif=exif, comment=f"comment {marker}".encode(), quality=95
    )
    return out.getvalue() + f"trailing {marker}".encode()


def png_with_text(marker: str, *, width: int = 40, height: int = 20) -> bytes:
    """A PNG with `marker` in a tEXt, an iTXt (XMP) and a zTXt chunk."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", f"text {marker}")
    info.add_itxt("XML:com.adobe.xmp", f"<x:xmpmeta>{marker}</x:xmpmeta>")
    info.add_text("Author", f"author {marker}", zip=True)
    out = io.BytesIO()
    two_colour_picture(width, height).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def small_png(colour: tuple[int, int, int] = RED) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, "PNG")
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A valid, tiny PNG of one-bit pixels that decodes to width × height: a decompression bomb when big."""
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte, then the row's bits, all black
    packer = zlib.compressobj(9)
    raw = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


HTML_AS_JPG = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
PDF_AS_JPG = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def attach_photo(runtime: Runtime, case_id: str, name: str = "scan.png") -> str:
    """Store a requester's message carrying a small photo in the case; returns the file's id."""
    with runtime.db.read() as s:
        case = s.get(Case, case_id)
    assert case is not None
    checked = check_files([Upload(name, small_png())], limits=FileLimits.of(runtime.settings))
    rows = message_rows(case=case, kind=RecordKind.INBOUND, text="A photo", files=checked)
    with runtime.db.write() as s:
        insert_rows(s, rows)
    attachment = rows[-1]
    assert isinstance(attachment, Attachment)
    return attachment.id
