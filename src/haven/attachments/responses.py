"""A file as the desk and the API hand it out: never rendered by the browser as a page of ours.

`X-Content-Type-Options: nosniff` and `Cache-Control: no-store` come with every answer of the app
(security/headers.py); a file adds a policy with `sandbox` and asks to be saved rather than shown.
"""

from __future__ import annotations

from fastapi.responses import Response

from haven.attachments.services import OpenedFile
from haven.security.headers import sandbox


def file_response(opened: OpenedFile) -> Response:
    """The re-encoded picture with the type sniffed from its bytes, under a name that tells nothing."""
    response = Response(
        opened.data,
        media_type=opened.media_type,
        headers={"Content-Disposition": f'attachment; filename="{opened.filename}"'},
    )
    sandbox(response)
    return response
