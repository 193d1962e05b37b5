"""The admin's pages: operators (create, unlock, revoke), teams and who is in them."""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from haven.accounts import services as accounts
from haven.accounts import totp
from haven.accounts.lockout import is_locked, unlock_operator
from haven.accounts.models import Operator, Role
from haven.accounts.revocation import revoke_operator
from haven.cases.rewrap import waiting_case_keys
from haven.crypto.receipts import diceware
from haven.dependencies import AdminDep, OperatorContext, RuntimeDep
from haven.desk.pages import Csrf, checked, render
from haven.retention.services import expiring
from haven.runtime import Runtime

router = APIRouter(prefix="/desk", include_in_schema=False)


def admin_page_response(
    request: Request, runtime: Runtime, context: OperatorContext, status_code: int = 200, **values: Any
) -> Response:
    with runtime.db.read() as s:
        operators = accounts.list_operators(db_session=s)
        teams = accounts.list_teams(db_session=s)
        members = accounts.memberships(db_session=s)
    values.setdefault("error", None)
    # Named from the store, never from the URL: a crafted link cannot make the page claim a revocation.
    revoked_id = request.query_params.get("revoked", "")
    values.setdefault(
        "revoked", next((op.username for op in operators if op.revoked_at and str(op.id) == revoked_id), "")
    )
    values.setdefault("waiting", waiting_case_keys(db=runtime.db))
    values.setdefault("locked", {op.id for op in operators if is_locked(op)})
    values.setdefault("created", None)
    values.setdefault("expiring", expiring(db=runtime.db, rules=runtime.catalogue.retention))
    values.setdefault("purged", None)
    values.setdefault("purge_every", runtime.settings.purge_interval_minutes)
    return render(
        request,
        runtime,
        "admin.html",
        context,
        status_code,
        operators=operators,
        teams=teams,
        members=members,
        roles=list(Role),
        **values,
    )


@router.get("/admin")
def admin_page(request: Request, runtime: RuntimeDep, context: AdminDep) -> Response:
    return admin_page_response(request, runtime, context)


@router.post("/admin/teams")
def create_team(
    request: Request,
    runtime: RuntimeDep,
    context: AdminDep,
    slug: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=120)] = "",
    csrf_token: Csrf = "",
) -> Response:
    checked(context, csrf_token)
    try:
        with runtime.db.write() as s:
            me = s.get(Operator, context.operator.id)
            accounts.create_team(
                db_session=s, slug=slug, name=name, members=[me] if me else [], by=context.operator.actor
            )
    except accounts.AccountError as exc:
        return admin_page_response(request, runtime, context, 400, error=str(exc))
    return RedirectResponse("/desk/admin", status_code=303)


@router.post("/admin/operators")
async def create_operator(
    request: Request,
    runtime: RuntimeDep,
    context: AdminDep,
    username: Annotated[str, Form(max_length=40)] = "",
    role: Annotated[str, Form(max_length=20)] = "operator",
    csrf_token: Csrf = "",
) -> Response:
    checked(context, csrf_token)
    passphrase = diceware(6)

    def create() -> accounts.NewOperator:
        with runtime.db.write() as s:
            return accounts.create_operator(
                db_session=s,
                username=username,
                passphrase=passphrase,
                role=Role(role) if role in Role.__members__.values() else Role.OPERATOR,
                kdf=runtime.kdf,
                totp_key=runtime.secrets.totp_key,
                must_change_passphrase=True,
                by=context.operator.actor,
            )

    try:
        new = await run_in_threadpool(create)
    except accounts.AccountError as exc:
        return admin_page_response(request, runtime, context, 400, error=str(exc))
    uri = totp.provisioning_uri(
        new.totp_secret, username=new.operator.username, issuer=runtime.settings.org_name
    )
    created = {
        "username": new.operator.username,
        "passphrase": passphrase,
        "totp_secret": new.totp_secret,
        "qr_svg": segno.make(uri, error="m").svg_inline(scale=4),
    }
    return admin_page_response(request, runtime, context, 201, created=created)


@router.post("/admin/unlock")
def unlock(
    request: Request,
    runtime: RuntimeDep,
    context: AdminDep,
    operator_id: Annotated[int, Form()] = 0,
    csrf_token: Csrf = "",
) -> Response:
    """Lift a lockout after too many failed logins (and forget the failures)."""
    checked(context, csrf_token)
    with runtime.db.write() as s:
        found = unlock_operator(db_session=s, operator_id=operator_id, by=context.operator.actor)
    if not found:
        return admin_page_response(request, runtime, context, 400, error="No such operator.")
    return RedirectResponse("/desk/admin", status_code=303)


@router.post("/admin/grants")
def grant(
    request: Request,
    runtime: RuntimeDep,
    context: AdminDep,
    operator_id: Annotated[int, Form()] = 0,
    team_id: Annotated[int, Form()] = 0,
    csrf_token: Csrf = "",
) -> Response:
    checked(context, csrf_token)
    try:
        with runtime.db.write() as s:
            accounts.grant_membership(
                db_session=s, team_id=team_id, operator_id=operator_id, by=context.operator
            )
    except accounts.AccountError as exc:
        return admin_page_response(request, runtime, context, 400, error=str(exc))
    return RedirectResponse("/desk/admin", status_code=303)


@router.post("/admin/revoke")
def revoke(
    request: Request,
    runtime: RuntimeDep,
    context: AdminDep,
    operator_id: Annotated[int, Form()] = 0,
    csrf_token: Csrf = "",
) -> Response:
    """Revoke at once: sessions ended, team keys deleted and rotated; the re-wrap starts in the background."""
    checked(context, csrf_token)
    try:
        with runtime.db.write() as s:
            revoked = revoke_operator(db_session=s, operator_id=operator_id, by=context.operator)
    except accounts.AccountError as exc:
        return admin_page_response(request, runtime, context, 400, error=str(exc))
    runtime.sessions.end_all(kind="operator", subject=str(revoked.operator_id))
    runtime.receiving.forget()
    runtime.rewrap.start_for(context.operator, context.session_id)
    return RedirectResponse(f"/desk/admin?revoked={revoked.operator_id}", status_code=303)
