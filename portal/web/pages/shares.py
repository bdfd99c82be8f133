"""Supervisor pages for shares: list, create (the one-time code shown once), revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from portal.auth.models import StaffUser
from portal.auth.permissions import Permission
from portal.cases import service as case_service
from portal.db import transaction
from portal.deps import RuntimeDep, base_url
from portal.shares import service as shares
from portal.web.access import need
from portal.web.rendering import render, see_other
from portal.web.routing import router

Sharer = Annotated[StaffUser, need(Permission.SHARES)]


def _items(text: str) -> list[str]:
    return [p for p in text.replace(",", " ").split() if p]


@router.get("/staff/shares")
def shares_page(request: Request, rt: RuntimeDep, user: Sharer) -> HTMLResponse:
    now = rt.clock()
    with rt.sessions() as db:
        rows = [(s, shares.ended(s, now)) for s in shares.list_shares(db)]
        cases = [c for c, _ in case_service.list_cases(db)]
    return render(request, "staff/shares.html", user=user, rows=rows, cases=cases)


@router.post("/staff/shares")
def create_share(
    request: Request,
    rt: RuntimeDep,
    user: Sharer,
    case_id: Annotated[str, Form(max_length=64)],
    recipient: Annotated[str, Form(max_length=400)],
    days: Annotated[int, Form(ge=1, le=shares.MAX_DAYS)],
    items: Annotated[str, Form(max_length=4000)] = "",
    download: Annotated[str, Form(max_length=8)] = "",
    watermark: Annotated[str, Form(max_length=8)] = "",
    identity: Annotated[str, Form(max_length=8)] = "",
) -> HTMLResponse:
    with transaction(rt.sessions) as db:
        share, code = shares.create(
            db,
            user=user,
            recipient=recipient,
            case_id=case_id,
            evidence_ids=_items(items),
            days=days,
            can_download=bool(download),
            watermark=bool(watermark),
            include_identity=bool(identity),
            now=rt.clock(),
        )
        link = f"{base_url(request, rt)}/web/share/{share.id}"
        recipient_name, expires = share.recipient, share.expires_at
    # Shown once: only the code's hash is kept.
    return render(
        request,
        "staff/share_made.html",
        user=user,
        link=link,
        code=code,
        recipient=recipient_name,
        expires=expires,
        lang_path="/web/staff/shares",
    )


@router.post("/staff/shares/{share_id}/revoke")
def revoke_share(share_id: str, rt: RuntimeDep, user: Sharer) -> Response:
    with transaction(rt.sessions) as db:
        shares.revoke(db, user=user, share_id=share_id, now=rt.clock())
    return see_other("/web/staff/shares")
