"""Reading a form that may carry files, into memory only.

Starlette's own multipart parser writes each file into a SpooledTemporaryFile, which moves to a file on
disk past 1 MiB: a photo of someone's military ID would then sit, in the clear, in the server's temp
directory until the blocks are reused. Here every part is kept in memory as bytes, within limits that
bound that memory: the route's body limit (raised for these routes only), the number of files, the size
of each. A file over a limit is dropped and the form is still read to its end, so that the page can come
back with everything the requester typed and say which limit was met.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import FormData, UploadFile

from haven.config import Settings
from haven.security.limits import BodyTooLarge, allow_body

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_NAME_CHARS = 120
# Every reason a file is refused, here and in images.py (message keys in locale/*.json).
FILE_ERRORS = frozenset(
    {
        "too_many_files",
        "files_too_large",
        "file_too_large",
        "file_not_image",
        "file_too_many_pixels",
        "file_unreadable",
    }
)
# A form of ours has a few dozen fields at most.
MAX_FIELDS = 200


@dataclass(frozen=True)
class FileLimits:
    max_files: int
    max_file_bytes: int
    max_pixels: int
    # What a form's text fields (and the multipart framing) may add to the files.
    max_text_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> FileLimits:
        return cls(
            settings.max_files, settings.max_file_bytes, settings.max_image_pixels, settings.max_body_bytes
        )

    @property
    def max_body_bytes(self) -> int:
        return self.max_files * self.max_file_bytes + self.max_text_bytes

    @property
    def max_megabytes(self) -> int:
        return max(1, self.max_file_bytes // (1024 * 1024))


@dataclass(frozen=True)
class Upload:
    """A file as it arrived: the name the requester's device gave it (cleaned for display) and its bytes."""

    name: str
    data: bytes


@dataclass
class ReceivedForm:
    fields: FormData
    files: list[Upload] = field(default_factory=list)
    # A message key when a file was over a limit and left out; the HTTP status to answer with.
    refused: str = ""
    status: int = 200


def display_name(raw: str) -> str:
    """The file's own name, without any folder, control or formatting characters, at most 120 characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c if not unicodedata.category(c).startswith(("C", "Z")) else " " for c in name)
    return " ".join(kept.split())[:MAX_NAME_CHARS]


async def receive_form(request: Request, *, limits: FileLimits) -> ReceivedForm:
    """The request's form: its text fields, and its files held in memory (multipart/form-data only).

    A body that is not a form answers 400 (as Starlette's own parser does); a body over the raised limit
    ends the reading where it is met, keeping the fields read before it."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        # No files can come this way: the default body limit stays, and Starlette reads the fields.
        form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=limits.max_text_bytes)
        return ReceivedForm(form)
    allow_body(request.scope, limits.max_body_bytes)
    parts = _Parts(limits)
    try:
        parser = MultipartParser(boundary, parts.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BodyTooLarge:
        parts.refuse("files_too_large", 413)
    except (FormParserError, _Unreadable):
        raise HTTPException(400) from None
    return ReceivedForm(FormData(parts.fields), parts.files, parts.refused, parts.status)


class _Unreadable(Exception):
    """Not a form our pages send (too many fields, a field larger than a whole text form)."""


class _Parts:
    """python-multipart's callbacks, gathering fields as text and files as bytes."""

    def __init__(self, limits: FileLimits) -> None:
        self.limits = limits
        # Typed as FormData takes them; only text is ever put in.
        self.fields: list[tuple[str, str | UploadFile]] = []
        self.files: list[Upload] = []
        self.refused = ""
        self.status = 200
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._begin_part()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin_part,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end_part,
        }

    def refuse(self, reason: str, status: int) -> None:
        # The first limit met is the one the requester hears about.
        if not self.refused:
            self.refused, self.status = reason, status

    def _begin_part(self) -> None:
        self._disposition = b""
        self._name = ""
        self._filename: str | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._keep = True

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _kind, options = parse_options_header(self._disposition)
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            if len(self.fields) >= MAX_FIELDS:
                raise _Unreadable
            return
        self._filename = display_name(options[b"filename"].decode("utf-8", "replace"))

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._filename is None:
            if self._size > self.limits.max_text_bytes:
                raise _Unreadable
        elif self._keep and len(self.files) >= self.limits.max_files:
            # Not kept even for a moment: it would be refused anyway.
            self._drop("too_many_files", 400)
        elif self._keep and self._size > self.limits.max_file_bytes:
            self._drop("file_too_large", 413)
        if self._keep:
            self._chunks.append(data[start:end])

    def _drop(self, reason: str, status: int) -> None:
        self.refuse(reason, status)
        self._keep = False
        self._chunks = []

    def _end_part(self) -> None:
        content = b"".join(self._chunks)
        self._chunks = []
        if self._filename is None:
            self.fields.append((self._name, content.decode("utf-8", "replace")))
        elif not self._keep or not (self._filename or content):
            # Dropped; or a file input left empty, which still sends a part, with no name and no bytes.
            return
        elif len(self.files) >= self.limits.max_files:
            self.refuse("too_many_files", 400)
        else:
            self.files.append(Upload(self._filename, content))
