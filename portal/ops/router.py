"""/healthz, /readyz and /metrics: for a load balancer and monitoring, not for people.

None of them carries witness data. /metrics is off unless PORTAL_METRICS_TOKEN is set, and then
asks for that token, so that counts are never public by accident.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from portal import metrics
from portal.deps import RuntimeDep
from portal.errors import NotFound, Unauthorized
from portal.flows import operations

router = APIRouter(tags=["operations"])
_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/healthz")
def healthz() -> JSONResponse:
    """The process answers; says nothing of its parts (that is /readyz)."""
    return JSONResponse({"status": "alive"}, headers=_NO_STORE)


@router.get("/readyz", responses={503: {"description": "A part is failing; `checks` names it"}})
async def readyz(rt: RuntimeDep) -> JSONResponse:
    """Whether this instance can take witnesses' uploads now: 200, or 503 naming the part."""
    checks = await run_in_threadpool(operations.readiness, rt)
    ready = all(c.ok for c in checks)
    body = {
        "ready": ready,
        "checks": {c.name: {"ok": c.ok, "ms": c.ms, "detail": c.detail} for c in checks},
    }
    return JSONResponse(body, status_code=200 if ready else 503, headers=_NO_STORE)


@router.get("/metrics", responses={401: {}, 404: {}})
async def metrics_page(
    rt: RuntimeDep, authorization: str | None = Header(default=None)
) -> Response:
    token = rt.settings.metrics_token
    if not token:
        raise NotFound("metrics are off (PORTAL_METRICS_TOKEN)")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("metrics need the PORTAL_METRICS_TOKEN bearer token")
    gauges = operations.PortalGauges(rt, rt.clock)
    body = await run_in_threadpool(metrics.exposition, gauges)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=_NO_STORE)
