"""FastAPI dependency aliases shared by routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from portal.auth.witness import bearer
from portal.runtime import Runtime
from portal.submissions import service as submissions
from portal.submissions.models import Submission


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_witness(
    rt: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> Submission:
    token = bearer(authorization)
    with rt.sessions() as db:
        return submissions.authenticate(db, token=token)


WitnessDep = Annotated[Submission, Depends(get_witness)]


def base_url(request: Request, rt: Runtime) -> str:
    return rt.settings.public_url or str(request.base_url).rstrip("/")
