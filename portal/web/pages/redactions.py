"""Staff pages for redacted copies, on an item's page: define one (operations typed as rows),
preview a still, approve another's, ask for a public release, play the copy.

Each action calls the same flow as the API route (`portal.flows.redaction`), so it appends the
same custody event. The form's rows are read and checked here first, so that a refusal is
said in the page's language; the flow checks them again and nothing is stored on a refusal.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth import service as staff_auth
from portal.changes.models import ChangeKind, ChangeRequest, ChangeState
from portal.db import transaction
from portal.deps import RuntimeDep
from portal.errors import Invalid
from portal.evidence import service as evidence
from portal.evidence.models import Evidence
from portal.flows import jobs as job_flows
from portal.flows import redaction as flows
from portal.jobs import service as jobs
from portal.jobs.models import JobKind
from portal.redactions import service as redactions
from portal.redactions.models import Purpose, Redaction
from portal.redactions.schemas import RedactionIn
from portal.web import timeline as tl
from portal.web.access import Player
from portal.web.forms import confirmed, validated
from portal.web.i18n import Translator
from portal.web.rendering import see_other, translator
from portal.web.routing import router


def evidence_done(evidence_id: str) -> Response:
    """Back to the item's redactions, which then say the change was made."""
    return see_other(f"/web/staff/evidence/{evidence_id}?done=1#redactions-h")


ROWS = 4  # empty operation rows the form offers; a row with no kind is skipped
KINDS = ("box_blur", "box_solid", "frame_blur", "mute")
Rows = Annotated[list[str] | None, Form(max_length=200)]
Short = Annotated[str, Form(max_length=40)]


def _number(t: Translator, row: int, field: str, value: str, *, whole: bool) -> float:
    """A number typed into a row, or a refusal naming the row and field in words."""
    name = t("redact.f." + field)
    try:
        number = int(value) if whole else float(value.replace(",", "."))
    except ValueError:
        key = "redact.err.whole" if whole else "redact.err.number"
        raise Invalid(t(key, row=row, field=name)) from None
    if not math.isfinite(number) or number < 0:
        raise Invalid(t("redact.err.number", row=row, field=name))
    return number


def _operation(t: Translator, row: int, kind: str, cells: dict[str, str]) -> dict[str, Any]:
    if kind not in KINDS:
        raise Invalid(t("redact.err.kind", row=row))
    start = _number(t, row, "start", cells["start"], whole=False)
    end = _number(t, row, "end", cells["end"], whole=False)
    if end <= start:
        raise Invalid(t("redact.err.order", row=row))
    if not kind.startswith("box_"):
        return {"type": kind, "start": start, "end": end}
    box = {k: int(_number(t, row, k, cells[k], whole=True)) for k in ("x", "y", "w", "h")}
    if box["w"] < 2 or box["h"] < 2:
        raise Invalid(t("redact.err.small", row=row))
    return {"type": "box", **box, "start": start, "end": end, "style": kind.removeprefix("box_")}


def operations(t: Translator, columns: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The rows of the form as the API's operations (rows left without a kind skipped)."""
    kinds = columns["kind"]
    if any(len(values) != len(kinds) for values in columns.values()):
        raise Invalid(t("redact.err.rows"))
    out = []
    for n, kind in enumerate(kinds):
        if not kind.strip():
            continue
        cells = {k: v[n].strip() for k, v in columns.items()}
        out.append(_operation(t, n + 1, kind.strip(), cells))
    if not out:
        raise Invalid(t("redact.err.none"))
    return out


def _fits(t: Translator, item: Evidence, ops: list[dict[str, Any]]) -> None:
    """The service's own check (portal.redactions.service.check_fits), said in words."""
    info = item.media_info or {}
    width, height = info.get("width"), info.get("height")
    duration = info.get("duration_seconds")
    if not width or not height or not duration:
        raise Invalid(t("redact.err.not_video"))
    for n, op in enumerate(ops, start=1):
        if op["end"] > duration:
            raise Invalid(t("redact.err.after_end", row=n, duration=t.decimal(duration)))
        if op["type"] == "box" and op["x"] + op["w"] > width:
            raise Invalid(t("redact.err.width", row=n, width=width))
        if op["type"] == "box" and op["y"] + op["h"] > height:
            raise Invalid(t("redact.err.height", row=n, height=height))


@router.post("/staff/evidence/{evidence_id}/redactions")
def define(
    request: Request,
    evidence_id: str,
    rt: RuntimeDep,
    user: Player,
    purpose: Short = "",
    op_kind: Rows = None,
    op_x: Rows = None,
    op_y: Rows = None,
    op_w: Rows = None,
    op_h: Rows = None,
    op_start: Rows = None,
    op_end: Rows = None,
) -> Response:
    t = translator(request)
    if purpose not in set(Purpose):
        raise Invalid(t("redact.err.purpose"))
    columns = {"kind": op_kind, "x": op_x, "y": op_y, "w": op_w, "h": op_h}
    columns |= {"start": op_start, "end": op_end}
    ops = operations(t, {k: v or [] for k, v in columns.items()})
    with rt.sessions() as db:
        _fits(t, evidence.get_live(db, evidence_id=evidence_id), ops)
    body = validated(RedactionIn, purpose=purpose, operations=ops)
    with transaction(rt.sessions) as db:
        flows.define(db, user=user, evidence_id=evidence_id, body=body, rt=rt)
    return evidence_done(evidence_id)


@router.get("/staff/redactions/{redaction_id}/preview")
def preview(
    redaction_id: str,
    rt: RuntimeDep,
    user: Player,
    at: Annotated[float, Query(ge=0, allow_inf_nan=False)] = 0.0,
) -> Response:
    """The API's preview behind the session cookie: the same still, the same logged look."""
    png = flows.preview(
        rt, user=user, redaction_id=redaction_id, at=at, limits=job_flows.media_limits(rt)
    )
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.get("/staff/redactions/{redaction_id}/content")
def content(redaction_id: str, rt: RuntimeDep, user: Player) -> Response:
    """The redacted copy (never the original), logged as the API's is."""
    with transaction(rt.sessions) as db:
        copy = flows.copy(db, user=user, redaction_id=redaction_id, rt=rt)
        key, source, digest = copy.key, copy.source_sha256, copy.sha256
    headers = {
        "Cache-Control": "private, no-store",
        "X-Original-SHA256": source,
        "X-Redacted-Copy-SHA256": digest,
    }
    return Response(b"".join(rt.storage.read(key)), media_type="video/mp4", headers=headers)


@router.post("/staff/redactions/{redaction_id}/approve")
def approve(redaction_id: str, rt: RuntimeDep, user: Player, confirm: Short = "") -> Response:
    confirmed(confirm)
    with transaction(rt.sessions) as db:
        row = flows.approve(
            db, user=user, redaction_id=redaction_id, policy=job_flows.policy(rt), rt=rt
        )
        evidence_id = row.evidence_id
    job_flows.start_jobs(rt, evidence_id)
    return evidence_done(evidence_id)


@router.post("/staff/redactions/{redaction_id}/release")
def request_release(
    redaction_id: str, rt: RuntimeDep, user: Player, confirm: Short = ""
) -> Response:
    """A change request; a second person, a supervisor, confirms it on the changes page."""
    confirmed(confirm)
    with transaction(rt.sessions) as db:
        flows.request_release(db, user=user, redaction_id=redaction_id, now=rt.clock())
        evidence_id = redactions.get(db, redaction_id=redaction_id).evidence_id
    return evidence_done(evidence_id)


def _op_words(t: Translator, op: dict[str, Any]) -> str:
    span = t("redact.span", start=t.decimal(op["start"]), end=t.decimal(op["end"]))
    if op["type"] != "box":
        return f"{t('redact.kind.' + op['type'])} · {span}"
    where = t("redact.box_at", x=op["x"], y=op["y"], w=op["w"], h=op["h"])
    return f"{t('redact.kind.box_' + op.get('style', 'blur'))} {where} · {span}"


def _derived_event(events: list[dict[str, Any]], redaction_id: str) -> dict[str, Any] | None:
    """The custody event holding this copy's provenance record (or its final failure)."""
    for e in events:
        record = (e.get("details") or {}).get("redaction") or {}
        if e["type"] == "evidence.derived" and redaction_id in (
            record.get("redaction"),
            record.get("id"),
        ):
            return e
    return None


def _row(
    t: Translator, r: Redaction, events: list[dict[str, Any]], names: dict[str, str], job: Any
) -> dict[str, Any]:
    event = _derived_event(events, r.id)
    tool = (r.provenance or {}).get("tool") or {}
    return {
        "r": r,
        "state": t("redact.state." + r.state),
        "purpose": t("redact.purpose." + r.purpose),
        "asked": tl.who(t, r.requested_by, names),
        "approved": tl.who(t, r.approved_by, names) if r.approved_by else "",
        "ops": [_op_words(t, op) for op in r.operations],
        "job": job,
        "tool": ", ".join(f"{k} {tool[k]}" for k in ("ffmpeg", "pyav", "pillow") if k in tool),
        "rendered_at": (r.provenance or {}).get("rendered_at"),
        "event": event,
        "raw": json.dumps(event, ensure_ascii=False, sort_keys=True, indent=1) if event else "",
    }


def for_item(
    request: Request, db: Session, *, item: Evidence, events: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the item page shows of its redactions (and the preview asked for, if any)."""
    t = translator(request)
    rows = redactions.for_evidence(db, evidence_id=item.id)
    actors = [a for r in rows for a in (r.requested_by, r.approved_by) if a]
    ids = {a.split(":")[1] for a in actors if a.startswith("staff:")}
    names = staff_auth.names_of(db, user_ids=ids)
    renders = {j.target: j for j in jobs.for_evidence(db, item.id) if j.kind == JobKind.REDACT}
    asked = select(ChangeRequest.target).where(
        ChangeRequest.kind == ChangeKind.RELEASE,
        ChangeRequest.state == ChangeState.PENDING,
        ChangeRequest.target.in_([r.id for r in rows]),
    )
    shown = request.query_params.get("preview")
    try:
        at = max(0.0, float(request.query_params.get("at") or 0))
    except ValueError:
        at = 0.0
    return {
        "redactions": [_row(t, r, events, names, renders.get(r.id)) for r in rows],
        "release_asked": set(db.scalars(asked)),
        "preview_of": shown if any(r.id == shown for r in rows) else None,
        "preview_at": at if math.isfinite(at) else 0.0,
        "op_rows": ROWS,
        "op_kinds": KINDS,
        "purposes": [str(p) for p in Purpose],
    }
