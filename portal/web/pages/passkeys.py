"""Passkeys (`portal.auth.passkeys`): a staff member lists, adds and removes their own; the
sign-in page asks for a challenge to answer with one. The browser side is
static/passkeys.js; the options travel as JSON, every POST carries the form's CSRF token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from portal.auth import passkeys
from portal.db import transaction
from portal.deps import RuntimeDep, client_host
from portal.errors import Invalid
from portal.runtime import Runtime
from portal.web.access import StaffUserDep
from portal.web.rendering import render, see_other
from portal.web.routing import router

JSON = "application/json"


def relying_party(request: Request, rt: Runtime) -> passkeys.RelyingParty:
    """For PORTAL_PUBLIC_URL (and PORTAL_PASSKEY_RP_ID), else the request's own address, as
    the other absolute links do."""
    base = rt.settings.public_url or str(request.base_url)
    return passkeys.RelyingParty.from_url(base, rt.settings.passkey_rp_id)


@router.get("/staff/passkeys")
def passkeys_page(request: Request, rt: RuntimeDep, user: StaffUserDep) -> HTMLResponse:
    with rt.sessions() as db:
        rows = passkeys.list_for(db, user=user)
    return render(request, "staff/passkeys.html", user=user, rows=rows)


@router.post("/staff/passkeys/options")
def registration_options(request: Request, rt: RuntimeDep, user: StaffUserDep) -> Response:
    with transaction(rt.sessions) as db:
        options = passkeys.registration_options(
            db, user=user, rp=relying_party(request, rt), now=rt.clock()
        )
    return Response(options, media_type=JSON, headers={"Cache-Control": "no-store"})


@router.post("/staff/passkeys")
def add_passkey(
    request: Request,
    rt: RuntimeDep,
    user: StaffUserDep,
    credential: Annotated[str, Form(max_length=16384)],
    name: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    with transaction(rt.sessions) as db:
        added = passkeys.add(
            db,
            user=user,
            rp=relying_party(request, rt),
            response=credential,
            name=name,
            now=rt.clock(),
        )
    if isinstance(added, Invalid):
        raise added  # after the commit: the challenge it answered stays spent
    return see_other("/web/staff/passkeys")


@router.post("/staff/passkeys/{passkey_id}/remove")
def remove_passkey(passkey_id: str, rt: RuntimeDep, user: StaffUserDep) -> Response:
    with transaction(rt.sessions) as db:
        passkeys.remove(db, user=user, passkey_id=passkey_id, now=rt.clock())
    return see_other("/web/staff/passkeys")


@router.post("/staff/login/passkey-options")
async def login_options(request: Request, rt: RuntimeDep) -> Response:
    """A challenge for the sign-in form (for nobody in particular: which accounts have
    passkeys is not told). Counted like a login try: each one is a row until it expires."""

    def run() -> str:
        rt.count_request("logins", client_host(request))
        with transaction(rt.sessions) as db:
            return passkeys.login_options(db, rp=relying_party(request, rt), now=rt.clock())

    options = await run_in_threadpool(run)
    return Response(options, media_type=JSON, headers={"Cache-Control": "no-store"})
