"""What every desk page shares: rendering a desk template, the CSRF check of a form, redirect-after-POST."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from haven.dependencies import CsrfRejected, OperatorContext
from haven.i18n import Translator
from haven.runtime import Runtime
from haven.security.csrf import FIELD, token_matches

Csrf = Annotated[str, Form(alias=FIELD, max_length=200)]
Text = Annotated[str, Form(max_length=40_000)]


def render(
    request: Request,
    runtime: Runtime,
    template: str,
    context: OperatorContext | None = None,
    status_code: int = 200,
    **values: Any,
) -> Response:
    return runtime.templates.TemplateResponse(
        request,
        f"desk/{template}",
        {
            "t": Translator("en"),
            "me": context.operator if context else None,
            "csrf_token": context.csrf_token if context else "",
            "catalogue": runtime.catalogue,
            **values,
        },
        status_code=status_code,
    )


def checked(context: OperatorContext, token: str) -> OperatorContext:
    if not token_matches(context.csrf_token, token):
        raise CsrfRejected
    return context


def back(path: str, notice: str = "") -> RedirectResponse:
    return RedirectResponse(f"{path}?notice={notice}" if notice else path, status_code=303)
