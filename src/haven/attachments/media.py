"""Voice notes and PDF documents, which the Telegram bot accepts beside photos.

Neither can be re-encoded from a picture's pixels, so neither is cleaned: a voice note from Telegram is an
Ogg Opus stream whose only tags name the encoder, and a PDF keeps whatever its author's program wrote in it
(author, creation tool, dates). Both are recognised by their first bytes, never by the name or the type the
sender claimed, and sealed like photos. Anything else must decode as a photo.
"""

from __future__ import annotations

from haven.attachments.images import CleanFile, clean_image, media_type_of

_KEPT_AS_SENT = ("audio/ogg", "application/pdf")


def clean_media(data: bytes, *, max_pixels: int) -> CleanFile:
    """A voice note or PDF as it came, or a photo re-encoded without metadata. Raises ImageRefused
    ("file_not_image") for anything else."""
    media_type, extension = media_type_of(data)
    if media_type in _KEPT_AS_SENT:
        return CleanFile(data, media_type, extension, 0, 0)
    return clean_image(data, max_pixels=max_pixels)
