"""The admin's "purge now": the retention purge the server runs on its own, at once."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from haven.dependencies import AdminDep, RuntimeDep
from haven.desk.admin import admin_page_response
from haven.desk.pages import Csrf, checked
from haven.retention.services import purge

router = APIRouter(prefix="/desk", include_in_schema=False)


@router.post("/admin/purge")
def purge_now(request: Request, runtime: RuntimeDep, context: AdminDep, csrf_token: Csrf = "") -> Response:
    """Purge what the admin page listed (and anything that expired since); shows what went."""
    checked(context, csrf_token)
    report = purge(
        db=runtime.db,
        rules=runtime.catalogue.retention,
        actor=context.operator.actor,
        forget=runtime.forget_cases,
    )
    return admin_page_response(request, runtime, context, purged=report)
