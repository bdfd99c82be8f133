"""Public custody-log routes: anyone may fetch the signed head and the key to check it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from portal.deps import RuntimeDep
from portal.errors import NotFound

router = APIRouter(prefix="/api/v1/log", tags=["custody log"])


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(rt: RuntimeDep) -> PlainTextResponse:
    """The newest signed checkpoint (C2SP tlog-checkpoint in a signed note)."""
    with rt.sessions() as db:
        from portal.custody.service import latest_checkpoint

        latest = latest_checkpoint(db)
    if latest is None:
        raise NotFound("no checkpoint has been signed yet")
    return PlainTextResponse(latest.note, headers={"Cache-Control": "no-store"})


@router.get("/public-key", response_class=PlainTextResponse)
def public_key(rt: RuntimeDep) -> PlainTextResponse:
    """The checkpoint verifier key (golang.org/x/mod/sumdb/note format)."""
    return PlainTextResponse(rt.log_verifier + "\n")
