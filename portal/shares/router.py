"""Share routes: thin wrappers over shares/service.py, for supervisors (the pages in
web/pages/shares.py do the same through a session)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from portal.auth.models import StaffUser
from portal.auth.permissions import Permission
from portal.db import transaction
from portal.deps import RuntimeDep, base_url, require
from portal.errors import responses
from portal.shares import service
from portal.shares.models import Share
from portal.shares.schemas import ShareCreate, ShareCreated, ShareOut

router = APIRouter(prefix="/api/v1", tags=["shares"], responses=responses(401, 403))
Sharer = require(Permission.SHARES)


def _fields(share: Share, now: datetime) -> dict[str, Any]:
    return {
        "id": share.id,
        "case_id": share.case_id,
        "evidence_ids": list(share.evidence_ids),
        "recipient": share.recipient,
        "can_download": share.can_download,
        "watermark": share.watermark,
        "include_identity": share.include_identity,
        "created_at": share.created_at,
        "expires_at": share.expires_at,
        "revoked_at": share.revoked_at,
        "state": service.ended(share, now) or "open",
    }


@router.post("/shares", status_code=201, responses=responses(404, 422))
def create_share(
    body: ShareCreate, request: Request, rt: RuntimeDep, user: StaffUser = Sharer
) -> ShareCreated:
    now = rt.clock()
    with transaction(rt.sessions) as db:
        share, code = service.create(
            db,
            user=user,
            recipient=body.recipient,
            case_id=body.case_id,
            evidence_ids=body.evidence_ids,
            days=body.days,
            can_download=body.can_download,
            watermark=body.watermark,
            include_identity=body.include_identity,
            now=now,
        )
        link = f"{base_url(request, rt)}/web/share/{share.id}"
        return ShareCreated(**_fields(share, now), link=link, code=code)


@router.get("/shares")
def list_shares(rt: RuntimeDep, user: StaffUser = Sharer) -> list[ShareOut]:
    now = rt.clock()
    with rt.sessions() as db:
        return [ShareOut(**_fields(s, now)) for s in service.list_shares(db)]


@router.post("/shares/{share_id}/revoke", responses=responses(404))
def revoke_share(share_id: str, rt: RuntimeDep, user: StaffUser = Sharer) -> ShareOut:
    """End the share at once: its link and any open session stop at their next request."""
    now = rt.clock()
    with transaction(rt.sessions) as db:
        return ShareOut(**_fields(service.revoke(db, user=user, share_id=share_id, now=now), now))
