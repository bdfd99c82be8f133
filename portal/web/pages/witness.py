"""The witness's way in: consent given in a form, then the upload page.

Witness pages need no account. After consent the browser uploads with tus straight to
`/api/v1/uploads` (the vendored tus-js-client) using the witness token, which the page keeps
on the device so an upload resumes after a reload.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from portal.auth.witness import PREFIX, new_token
from portal.db import transaction
from portal.deps import RuntimeDep, client_host
from portal.errors import Invalid, NotFound, RateLimited
from portal.flows import requests as request_flows
from portal.runtime import Runtime
from portal.submissions import consent as consent_docs
from portal.submissions.schemas import SubmissionCreate
from portal.web.i18n import Translator
from portal.web.rendering import language, render
from portal.web.routing import router

TUS_ENDPOINT = "/api/v1/uploads"
# Small enough to pass proxies with a modest body limit and to lose little on a bad link
# (the server keeps the bytes of a cut PATCH anyway), big enough not to waste round trips.
TUS_CHUNK_SIZE = 4 * 1024 * 1024


def code_of(submission_id: str, token: str) -> str:
    """The receipt code: a readable token is enough on its own (it finds the submission)."""
    return f"{submission_id}.{token}" if token.startswith(PREFIX) else token


def consent_context(lang: str) -> dict[str, Any]:
    doc = consent_docs.current()
    return {
        "consent_version": doc.version,
        "consent_sha256": doc.sha256,
        "consent_text": doc.text.get(lang) or doc.text["en"],
        "scopes": [
            {
                "name": s["name"],
                "required": bool(s["required"]),
                "text": s["text"].get(lang) or s["text"]["en"],
            }
            for s in doc.scopes
        ],
    }


@router.get("/")
def consent_page(request: Request) -> HTMLResponse:
    lang = language(request)
    return render(
        request,
        "witness/consent.html",
        errors=[],
        values={},
        chosen=[],
        **consent_context(lang),
    )


def _occurred_at(value: str, offset: str, zone: str) -> datetime | None:
    """The incident time with its UTC offset: the one the browser computed for that date, or
    (without script) the portal's zone's offset on that date, daylight saving included."""
    if not value.strip():
        return None
    at = datetime.fromisoformat(value.strip())
    if at.tzinfo is not None:
        return at
    if offset.strip().lstrip("-").isdigit() and -16 * 60 <= int(offset) <= 16 * 60:
        return at.replace(tzinfo=timezone(timedelta(minutes=int(offset))))
    return at.replace(tzinfo=ZoneInfo(zone))


def _consent_problem(t: Translator, loc: tuple[int | str, ...]) -> str:
    """A witness-friendly message for one validation error of the consent form."""
    where = ".".join(str(p) for p in loc)
    if "email" in where:
        return t("consent.bad_email")
    if "occurred_at" in where:
        return t("consent.bad_date")
    if "scopes" in where or "consent" in where:
        return t("consent.need_scope")
    field = {"place": "incident.where", "description": "incident.what", "name": "contact.name"}
    return t("consent.bad_input", field=t(field.get(str(loc[-1]), "contact.phone")))


def _submission_of(
    t: Translator,
    values: dict[str, str],
    *,
    consent: dict[str, Any],
    tz_offset: str,
    zone: str,
    errors: list[str],
) -> SubmissionCreate | None:
    """The API's request body from the form's fields; None (with `errors`) if it has none."""
    payload: dict[str, Any] = {"consent": consent}
    if values.get("request_code", "").strip():
        payload["request_code"] = values["request_code"].strip()
    try:
        when = _occurred_at(values["occurred_at"], tz_offset, zone)
    except ValueError:
        when = None
        errors.append(t("consent.bad_date"))
    incident = {
        "occurred_at": when,
        "place": values["place"].strip() or None,
        "description": values["description"].strip() or None,
    }
    if any(v is not None for v in incident.values()):
        payload["incident"] = incident
    contact = {
        "name": values["contact_name"].strip() or None,
        "phone": values["contact_phone"].strip() or None,
        "email": values["contact_email"].strip() or None,
    }
    if any(v is not None for v in contact.values()):
        payload["contact"] = contact
    if errors:
        return None
    try:
        return SubmissionCreate.model_validate(payload)
    except ValidationError as exc:
        errors.extend(_consent_problem(t, e["loc"]) for e in exc.errors())
        return None


def _create(rt: Runtime, client: str | None, model: SubmissionCreate, token: str) -> str:
    with transaction(rt.sessions) as db:
        # The API's per-client limit, counted in the same transaction: a form sent back
        # for correction costs nothing. When refused, the form returns as filled in.
        rt.count_request("submissions", client, db=db)
        sub = request_flows.open_submission(
            rt, db, payload=model, token=token, cipher=rt.contact_cipher, now=rt.clock()
        )
        return sub.id


def _consent_again(
    request: Request,
    lang: str,
    errors: list[str],
    values: dict[str, str],
    chosen: list[str],
    limited: RateLimited | None,
) -> HTMLResponse:
    """The form back as filled in, with what to correct (or when to try again)."""
    response = render(
        request,
        "witness/consent.html",
        status=limited.status if limited else 422,
        errors=list(dict.fromkeys(errors)),
        values=values,
        chosen=chosen,
        **consent_context(lang),
    )
    response.headers.update(limited.headers if limited else {})
    return response


@router.post("/submissions")
async def create_submission(
    request: Request,
    rt: RuntimeDep,
    consent_version: Annotated[str, Form(max_length=16)],
    scopes: Annotated[list[str], Form()] = [],  # noqa: B006  (FastAPI copies defaults)
    occurred_at: Annotated[str, Form(max_length=40)] = "",
    tz_offset: Annotated[str, Form(max_length=8)] = "",
    place: Annotated[str, Form(max_length=1000)] = "",
    description: Annotated[str, Form(max_length=10000)] = "",
    contact_name: Annotated[str, Form(max_length=400)] = "",
    contact_phone: Annotated[str, Form(max_length=100)] = "",
    contact_email: Annotated[str, Form(max_length=400)] = "",
    request_code: Annotated[str, Form(max_length=40)] = "",
) -> HTMLResponse:
    lang = language(request)
    values = {
        "occurred_at": occurred_at,
        "place": place,
        "description": description,
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "contact_email": contact_email,
        "request_code": request_code,
    }
    t = Translator(lang)
    errors: list[str] = []
    consent = {"version": consent_version, "scopes": scopes, "language": lang}
    body = _submission_of(
        t, values, consent=consent, tz_offset=tz_offset, zone=rt.settings.time_zone, errors=errors
    )
    token = new_token()
    limited: RateLimited | None = None
    if body is not None:
        try:
            sub_id = await run_in_threadpool(_create, rt, client_host(request), body, token)
        except RateLimited as exc:
            limited = exc
            errors.append(t("consent.rate_limited", minutes=-(-exc.retry_after // 60)))
        except Invalid as exc:
            errors.append(
                t("consent.outdated") if exc.code == "consent_version" else t("consent.need_scope")
            )
    if errors or body is None:
        return _consent_again(request, lang, errors, values, scopes, limited)
    return render(
        request,
        "witness/upload.html",
        lang_path=f"/web/upload/{sub_id}",
        submission_id=sub_id,
        token=token,
        code=code_of(sub_id, token),
        **_upload_context(sub_id),
    )


def _upload_context(sub_id: str) -> dict[str, Any]:
    return {
        "endpoint": TUS_ENDPOINT,
        "chunk_size": TUS_CHUNK_SIZE,
        "page_url": f"/web/upload/{sub_id}",
    }


@router.get("/upload/{submission_id}")
def upload_page(request: Request, submission_id: str) -> HTMLResponse:
    """After a reload: the token comes from the device's storage, never from the server."""
    if not re.fullmatch(r"[0-9a-f]{32}", submission_id):
        raise NotFound("no such submission")
    return render(
        request,
        "witness/upload.html",
        submission_id=submission_id,
        token="",
        code="",
        **_upload_context(submission_id),
    )
