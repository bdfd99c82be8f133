"""Staff pages for cases: the list, a new case, a case's evidence, closing and reopening."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.background import BackgroundTask

from portal.auth import service as auth
from portal.cases import service as case_service
from portal.cases.schemas import CaseClose, CaseCreate
from portal.changes import service as changes
from portal.db import transaction
from portal.deps import RuntimeDep
from portal.errors import Invalid
from portal.evidence import service as evidence
from portal.export.report_words import LANGUAGES as REPORT_LANGUAGES
from portal.flows import cases as case_flows
from portal.flows import export as export_flow
from portal.web.access import CaseWorker
from portal.web.forms import confirmed, validated
from portal.web.rendering import render, see_other
from portal.web.routing import router


@router.get("/staff/cases")
def cases_page(request: Request, rt: RuntimeDep, user: CaseWorker) -> HTMLResponse:
    with rt.sessions() as db:
        rows = case_service.list_cases(db)
    return render(request, "staff/cases.html", user=user, rows=rows)


@router.post("/staff/cases")
def create_case(
    rt: RuntimeDep,
    user: CaseWorker,
    title: Annotated[str, Form(max_length=600)],
    reference: Annotated[str, Form(max_length=256)] = "",
    offense: Annotated[str, Form(max_length=16)] = "felony",
) -> Response:
    body = validated(
        CaseCreate, title=title.strip(), reference=reference.strip() or None, offense=offense
    )
    with transaction(rt.sessions) as db:
        case = case_service.create(
            db,
            user=user,
            title=body.title,
            reference=body.reference,
            offense=body.offense,
            now=rt.clock(),
        )
        case_id = case.id
    return see_other(f"/web/staff/cases/{case_id}")


@router.get("/staff/cases/{case_id}")
def case_page(request: Request, case_id: str, rt: RuntimeDep, user: CaseWorker) -> HTMLResponse:
    with transaction(rt.sessions) as db:
        case = case_service.get(db, case_id=case_id)
        items = evidence.case_evidence(db, user=user, case=case, now=rt.clock())
        # A pending offence downgrade is shown where the case is: nothing has changed yet.
        pending = changes.pending(db, target=case.id)
        names = auth.names_of(db, user_ids={r.requested_by for r in pending})
    return render(
        request,
        "staff/case.html",
        user=user,
        case=case,
        items=items,
        pending=pending,
        names=names,
    )


@router.post("/staff/cases/{case_id}/close")
def close_case(
    case_id: str,
    rt: RuntimeDep,
    user: CaseWorker,
    offense: Annotated[str, Form(max_length=16)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    body = validated(CaseClose, offense=offense or None)
    confirmed(confirm)
    with transaction(rt.sessions) as db:
        case_flows.close(
            db, rt.retention, user=user, case_id=case_id, offense=body.offense, now=rt.clock()
        )
    return see_other(f"/web/staff/cases/{case_id}")


@router.post("/staff/cases/{case_id}/reopen")
def reopen_case(case_id: str, rt: RuntimeDep, user: CaseWorker) -> Response:
    with transaction(rt.sessions) as db:
        case_flows.reopen(db, rt.retention, user=user, case_id=case_id, now=rt.clock())
    return see_other(f"/web/staff/cases/{case_id}")


@router.post("/staff/cases/{case_id}/export")
def export_case(
    case_id: str,
    rt: RuntimeDep,
    user: CaseWorker,
    language: Annotated[str, Form(max_length=2)] = "es",
) -> Response:
    """The court bundle as a download: the same flow as the API's export (checked, proven,
    written, logged), without witness identity, its custody report in `language`; the spooled
    file goes once sent."""
    if language not in REPORT_LANGUAGES:
        raise Invalid("language must be es or en", code="bad_language")
    spool = rt.settings.data_dir / "tmp"
    spool.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="export-", dir=spool))
    try:
        result = export_flow.export_case(
            rt,
            case_id=case_id,
            actor=str(user.actor),
            include_witness_identity=False,
            dest=workdir / "bundle.zip",
            language=language,
        )
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return FileResponse(
        result.path,
        media_type="application/zip",
        filename=f"case-{case_id}-export-{result.log_index}.zip",
        headers={"X-Log-Index": str(result.log_index), "Cache-Control": "private, no-store"},
        background=BackgroundTask(shutil.rmtree, workdir, ignore_errors=True),
    )
