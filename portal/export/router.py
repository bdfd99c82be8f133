"""`POST /api/v1/cases/{id}/exports`: the court bundle as a download, its log index in a header.

The bundle is written to a temporary file under the data folder (it can be large), hashed,
logged, streamed, and deleted once sent: nothing but the `evidence.exported` event stays.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from portal.auth.models import StaffUser
from portal.deps import CaseWorker, RuntimeDep
from portal.errors import responses
from portal.export import service
from portal.export.schemas import ExportRequest
from portal.flows import export as export_flow

router = APIRouter(prefix="/api/v1", tags=["exports"])

STALE_SPOOL = 6 * 3600
"""Seconds after which a spooled bundle is left over (a client that went away mid-download)."""


def _sweep(spool: Path) -> None:
    cutoff = time.time() - STALE_SPOOL
    for old in spool.glob("export-*"):
        try:
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


@router.post(
    "/cases/{case_id}/exports",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}, **responses(401, 403, 404, 410, 503)},
)
def export_case(
    case_id: str,
    rt: RuntimeDep,
    body: ExportRequest | None = None,
    user: StaffUser = CaseWorker,
) -> FileResponse:
    """Build, log and return the case's court bundle (zip). 422 `consent_scope` names every
    item whose consent does not cover court use; then nothing is exported or logged."""
    request = body or ExportRequest()
    service.check_identity_allowed(user.role, request.include_witness_identity)
    service.check_witness_data_allowed(user.role, request.include_witness_data)
    spool = rt.settings.data_dir / "tmp"
    spool.mkdir(parents=True, exist_ok=True)
    _sweep(spool)
    workdir = Path(tempfile.mkdtemp(prefix="export-", dir=spool))
    try:
        result = export_flow.export_case(
            rt,
            case_id=case_id,
            actor=str(user.actor),
            include_witness_identity=request.include_witness_identity,
            include_witness_data=request.include_witness_data,
            dest=workdir / "bundle.zip",
        )
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return FileResponse(
        result.path,
        media_type="application/zip",
        filename=f"case-{case_id}-export-{result.log_index}.zip",
        headers={
            "X-Log-Index": str(result.log_index),
            "X-Bundle-SHA256": result.sha256,
            "Cache-Control": "private, no-store",
        },
        background=BackgroundTask(shutil.rmtree, workdir, ignore_errors=True),
    )
