"""Witness and staff web pages: server-rendered Jinja2 over the API's own service functions.

Witness pages need no account: consent is given in a form here, then the browser uploads
with tus straight to `/api/v1/uploads` (the vendored tus-js-client) using the witness token,
which the page keeps on the device so an upload resumes after a reload. The receipt code
(`<submission id>.<witness token>`) opens the receipt and status pages, always by POST so it
never lands in a URL.

Staff pages use a session cookie (`portal.auth.service.login`); every form carries a CSRF
token. Each page that shows evidence calls the same service function as the API route, so it
appends the same custody event (the content and thumbnail routes call the API's handlers).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Depends, Form, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from portal.auth import service as staff_auth
from portal.auth.models import StaffUser
from portal.auth.permissions import Permission, allowed
from portal.auth.witness import new_token
from portal.cases import service as case_service
from portal.cases.schemas import CaseClose, CaseCreate
from portal.custody import service as custody
from portal.db import transaction
from portal.deps import RuntimeDep, client_host
from portal.errors import Forbidden, Invalid, NotFound, PortalError, RateLimited, Unauthorized
from portal.evidence import router as evidence_api
from portal.evidence import service as evidence
from portal.evidence.schemas import Triage
from portal.flows import cases as case_flows
from portal.flows import triage as triage_flow
from portal.retention import service as retention
from portal.retention.router import HoldCreate, HoldRelease
from portal.runtime import Runtime
from portal.submissions import consent as consent_docs
from portal.submissions import service as submissions
from portal.submissions.models import Submission
from portal.submissions.schemas import SubmissionCreate
from portal.uploads.service import terminate_all
from portal.web import i18n
from portal.web.i18n import Translator
from portal.web.security import (
    CSRF_FIELD,
    CsrfRefused,
    add_headers,
    check_csrf,
    csrf_cookie,
    delete_cookie,
    is_secure,
    new_csrf_token,
    session_cookie,
    set_cookie,
)

log = logging.getLogger("portal")

TUS_ENDPOINT = "/api/v1/uploads"
# Small enough to pass proxies with a modest body limit and to lose little on a bad link
# (the server keeps the bytes of a cut PATCH anyway), big enough not to waste round trips.
TUS_CHUNK_SIZE = 4 * 1024 * 1024
PER_PAGE = 50
CODE_RE = re.compile(r"^([0-9a-f]{32})\.(wt_[A-Za-z0-9_-]{16,128})$")
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
}
STATIC_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# --- plumbing ----------------------------------------------------------------------------------


class LoginRequired(Unauthorized):
    code = "login_required"


class WebRoute(APIRoute):
    """Errors become HTML pages (or a redirect to the login page); every response gets the
    security headers, errors included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired:
                response = RedirectResponse(_login_url(request), status_code=303)
            except PortalError as exc:
                response = _error_page(request, exc)
            except RequestValidationError as exc:
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
                    for e in exc.errors()
                )
                response = _error_page(request, Invalid(detail or "invalid request"))
            add_headers(response)
            return response

        return run


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _secure(request: Request) -> bool:
    return is_secure(request, _runtime(request).settings.public_url)


async def csrf_guard(request: Request) -> None:
    """Every POST to the web pages carries the form's CSRF token."""
    if request.method != "POST":
        return
    form = await request.form()
    check_csrf(request, form.get(CSRF_FIELD), secure=_secure(request))


router = APIRouter(
    prefix="/web",
    route_class=WebRoute,
    dependencies=[Depends(csrf_guard)],
    include_in_schema=False,
)


def language(request: Request) -> str:
    return i18n.choose(
        request.query_params.get("lang"),
        request.cookies.get(i18n.COOKIE),
        request.headers.get("accept-language"),
    )


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("portal.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    user: StaffUser | None = None,
    **context: Any,
) -> HTMLResponse:
    lang = language(request)
    t = Translator(lang)
    secure = _secure(request)
    csrf = request.cookies.get(csrf_cookie(secure))
    fresh = None
    if not csrf:
        csrf = fresh = new_csrf_token()
    other = "en" if lang == "es" else "es"
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "done")}
    switch = request.url.path + "?" + urlencode({**query, "lang": other})

    def can(permission: str) -> bool:
        return user is not None and allowed(user.role, Permission(permission))

    html = (
        environment()
        .get_template(template)
        .render(
            t=t,
            lang=lang,
            other_lang=other,
            lang_url=switch,
            csrf=csrf,
            csrf_field=CSRF_FIELD,
            user=user,
            can=can,
            js_strings=t.js_strings(),
            https_needed=secure
            and request.url.scheme != "https"
            and not _runtime(request).settings.public_url.lower().startswith("https:"),
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if fresh:
        set_cookie(response, csrf_cookie(secure), fresh, secure=secure)
    chosen = request.query_params.get("lang")
    if chosen in i18n.LANGUAGES:
        set_cookie(response, i18n.COOKIE, str(chosen), secure=secure, max_age=365 * 24 * 3600)
    return response


def _error_page(request: Request, exc: PortalError) -> HTMLResponse:
    t = Translator(language(request))
    if isinstance(exc, CsrfRefused):
        message = t("error.csrf")
    elif exc.status == 404 and exc.code == "not_found":
        message = t("error.not_found")
    elif isinstance(exc, Invalid) or exc.status == 422:
        message = t("error.invalid", detail=exc.message)
    else:
        message = exc.message
    staff = request.url.path.startswith("/web/staff")
    response = render(
        request,
        "error.html",
        status=exc.status,
        message=message,
        back="/web/staff/queue" if staff else "/web/",
    )
    for name, value in exc.headers.items():
        if name.lower() != "www-authenticate":
            response.headers[name] = value
    return response


def _login_url(request: Request) -> str:
    target = request.url.path if request.method == "GET" else ""
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return "/web/staff/login" + ("?" + urlencode({"next": target}) if target else "")


def _safe_next(value: str | None) -> str:
    """Only our own staff pages: never an open redirect."""
    if value and value.startswith("/web/staff/") and "//" not in value and "\\" not in value:
        return value
    return "/web/staff/queue"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- static files ------------------------------------------------------------------------------


@cache
def _static(path: str) -> tuple[bytes, str] | None:
    parts = path.split("/")
    if not all(STATIC_PART.match(p) for p in parts):
        return None
    suffix = "." + parts[-1].rsplit(".", 1)[-1] if "." in parts[-1] else ""
    media = STATIC_TYPES.get(suffix)
    if media is None:
        return None
    node = resources.files("portal.web").joinpath("static", *parts)
    if not node.is_file():
        return None
    return node.read_bytes(), media


@router.get("/static/{path:path}")
def static(path: str) -> Response:
    found = _static(path)
    if found is None:
        raise NotFound("no such file")
    data, media = found
    return Response(data, media_type=media, headers={"Cache-Control": "public, max-age=3600"})


# --- witness pages -----------------------------------------------------------------------------


def code_of(submission_id: str, token: str) -> str:
    return f"{submission_id}.{token}"


def _witness(db: Any, code: str | None) -> Submission | None:
    """The submission a receipt code opens, or None (a wrong code and a wrong id look alike)."""
    found = CODE_RE.match((code or "").strip())
    if found is None:
        return None
    try:
        sub = submissions.authenticate(db, token=found.group(2))
    except Unauthorized:
        return None
    return sub if sub.id == found.group(1) else None


def _consent_context(lang: str) -> dict[str, Any]:
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
        **_consent_context(lang),
    )


def _occurred_at(value: str, offset: str) -> datetime | None:
    if not value.strip():
        return None
    at = datetime.fromisoformat(value.strip())
    if at.tzinfo is None and offset.strip().lstrip("-").isdigit():
        minutes = int(offset)
        if -16 * 60 <= minutes <= 16 * 60:
            at = at.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    return at


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
) -> HTMLResponse:
    lang = language(request)
    values = {
        "occurred_at": occurred_at,
        "place": place,
        "description": description,
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "contact_email": contact_email,
    }
    t = Translator(lang)
    errors: list[str] = []
    payload: dict[str, Any] = {
        "consent": {"version": consent_version, "scopes": scopes, "language": lang}
    }
    try:
        when = _occurred_at(occurred_at, tz_offset)
    except ValueError:
        when = None
        errors.append(t("consent.bad_date"))
    incident = {
        "occurred_at": when,
        "place": place.strip() or None,
        "description": description.strip() or None,
    }
    if any(v is not None for v in incident.values()):
        payload["incident"] = incident
    contact = {
        "name": contact_name.strip() or None,
        "phone": contact_phone.strip() or None,
        "email": contact_email.strip() or None,
    }
    if any(v is not None for v in contact.values()):
        payload["contact"] = contact
    body: SubmissionCreate | None = None
    if not errors:
        try:
            body = SubmissionCreate.model_validate(payload)
        except ValidationError as exc:
            errors.extend(_consent_problem(t, e["loc"]) for e in exc.errors())
    token = new_token()

    def create(model: SubmissionCreate) -> str:
        with transaction(rt.sessions) as db:
            # The API's per-client limit, counted in the same transaction: a form sent back
            # for correction costs nothing. When refused, the form returns as filled in.
            rt.count_request("submissions", client_host(request), db=db)
            sub = submissions.create(
                db, payload=model, token=token, cipher=rt.contact_cipher, now=rt.clock()
            )
            return sub.id

    limited: RateLimited | None = None
    if body is not None:
        try:
            sub_id = await run_in_threadpool(create, body)
        except RateLimited as exc:
            limited = exc
            errors.append(t("consent.rate_limited", minutes=-(-exc.retry_after // 60)))
        except Invalid as exc:
            errors.append(
                t("consent.outdated") if exc.code == "consent_version" else t("consent.need_scope")
            )
    if errors or body is None:
        response = render(
            request,
            "witness/consent.html",
            status=limited.status if limited else 422,
            errors=list(dict.fromkeys(errors)),
            values=values,
            chosen=scopes,
            **_consent_context(lang),
        )
        response.headers.update(limited.headers if limited else {})
        return response
    return render(
        request,
        "witness/upload.html",
        submission_id=sub_id,
        token=token,
        code=code_of(sub_id, token),
        **_upload_context(sub_id),
    )


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


@dataclass(frozen=True)
class WitnessFile:
    name: str
    size: int
    sha256: str
    media_type: str
    received_at: datetime
    log_index: int
    state: str
    retention: str


def _witness_view(db: Any, sub: Submission, t: Translator) -> dict[str, Any]:
    consent = submissions.consent_of(db, submission_id=sub.id)
    files = []
    for f in submissions.files_of(db, submission_id=sub.id):
        kept = retention.status_for_witness(db, item=f)
        files.append(
            WitnessFile(
                name=f.filename,
                size=f.size,
                sha256=f.sha256,
                media_type=f.media_type,
                received_at=f.received_at,
                log_index=f.log_index,
                state=kept.state,
                retention=t(f"retention.{kept.state}", until=t.when(kept.until)),
            )
        )
    unfinished = [
        {
            "name": u.filename,
            "pct": int(100 * u.offset / u.length) if u.length else 0,
        }
        for u in submissions.uploads_of(db, submission_id=sub.id)
        if u.status == "active"
    ]
    scope_text = {s["name"]: s["text"] for s in consent_docs.current().scopes}
    return {
        "submission": sub,
        "withdrawn_at": consent.withdrawn_at,
        "scopes": [
            scope_text.get(s, {}).get(t.lang) or scope_text.get(s, {}).get("en") or s
            for s in consent.scopes
        ],
        "files": files,
        "unfinished": unfinished,
    }


def _code_form(request: Request, action: str, *, bad: bool = False) -> HTMLResponse:
    return render(
        request, "witness/code.html", status=401 if bad else 200, action=action, bad_code=bad
    )


@router.get("/status")
def status_form(request: Request) -> HTMLResponse:
    return _code_form(request, "status")


@router.get("/receipt")
def receipt_form(request: Request) -> HTMLResponse:
    return _code_form(request, "receipt")


def _witness_page(
    request: Request, rt: Runtime, code: str, template: str, **extra: Any
) -> HTMLResponse | None:
    t = Translator(language(request))
    with rt.sessions() as db:
        sub = _witness(db, code)
        if sub is None:
            return None
        view = _witness_view(db, sub, t)
    return render(
        request,
        template,
        code=code.strip(),
        token=code.strip().partition(".")[2],
        grace_days=rt.settings.withdrawal_grace.days,
        **view,
        **extra,
    )


@router.post("/receipt")
def receipt_page(
    request: Request, rt: RuntimeDep, code: Annotated[str, Form(max_length=300)]
) -> HTMLResponse:
    page = _witness_page(request, rt, code, "witness/receipt.html")
    return page if page is not None else _code_form(request, "receipt", bad=True)


@router.post("/status")
def status_page(
    request: Request, rt: RuntimeDep, code: Annotated[str, Form(max_length=300)]
) -> HTMLResponse:
    page = _witness_page(request, rt, code, "witness/status.html", withdrawn_now=False)
    return page if page is not None else _code_form(request, "status", bad=True)


@router.post("/withdraw")
def withdraw(
    request: Request,
    rt: RuntimeDep,
    code: Annotated[str, Form(max_length=300)],
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> HTMLResponse:
    """First POST asks for confirmation; the second (confirm=yes) withdraws, as the API does."""
    if confirm != "yes":
        page = _witness_page(request, rt, code, "witness/withdraw.html")
        return page if page is not None else _code_form(request, "status", bad=True)
    with transaction(rt.sessions) as db:
        sub = _witness(db, code)
        if sub is None:
            return _code_form(request, "status", bad=True)
        if sub.status != "withdrawn":
            retention.withdraw(db, rt.retention, submission=sub, now=rt.clock())
        sub_id = sub.id
    # Unfinished uploads can no longer complete; their partial bytes go now (as the API).
    terminate_all(rt.upload_deps, submission_id=sub_id, reason="consent withdrawn")
    page = _witness_page(request, rt, code, "witness/status.html", withdrawn_now=True)
    assert page is not None
    return page


# --- staff: session ----------------------------------------------------------------------------


def web_staff(request: Request, rt: RuntimeDep) -> StaffUser:
    token = request.cookies.get(session_cookie(_secure(request)))
    if not token:
        raise LoginRequired("log in first")
    with rt.sessions() as db:
        try:
            return staff_auth.resolve(db, token=token, now=rt.clock())
        except Unauthorized as exc:
            raise LoginRequired(exc.message) from None


StaffUserDep = Annotated[StaffUser, Depends(web_staff)]


def need(*permissions: Permission) -> Any:
    """Staff holding any of `permissions` (per the matrix); the web matrix test reads
    `web_permissions` off the dependency."""

    def check(user: StaffUserDep) -> StaffUser:
        if not any(allowed(user.role, p) for p in permissions):
            raise Forbidden(f"the {user.role} role may not do this")
        return user

    check.web_permissions = permissions  # type: ignore[attr-defined]
    return Depends(check)


Reader = Annotated[StaffUser, need(Permission.EVIDENCE_READ)]
Player = Annotated[StaffUser, need(Permission.EVIDENCE_CONTENT)]
Triager = Annotated[StaffUser, need(Permission.EVIDENCE_TRIAGE)]
CaseWorker = Annotated[StaffUser, need(Permission.CASES)]
ContactViewer = Annotated[StaffUser, need(Permission.WITNESS_CONTACT)]
Holder = Annotated[StaffUser, need(Permission.HOLDS)]
RetentionViewer = Annotated[StaffUser, need(Permission.RETENTION)]
Approver = Annotated[StaffUser, need(Permission.DISPOSITION)]


def _home(user: StaffUser) -> str:
    if allowed(user.role, Permission.EVIDENCE_READ):
        return "/web/staff/queue"
    return "/web/staff/log"


@router.get("/staff/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "staff/login.html", error=None, next=_safe_next(next), name="")


@router.post("/staff/login")
async def login(
    request: Request,
    rt: RuntimeDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    def run() -> staff_auth.LoginResult:
        with transaction(rt.sessions) as db:
            return staff_auth.login(
                db, name=username, password=password, policy=rt.login_policy, now=rt.clock()
            )

    result = await run_in_threadpool(run)  # the failure is committed before we answer
    if result.failure is not None or result.token is None or result.user is None:
        t = Translator(language(request))
        error = t("staff.locked") if result.failure == "locked" else t("staff.bad_login")
        status = 403 if result.failure == "locked" else 401
        return render(
            request,
            "staff/login.html",
            status=status,
            error=error,
            next=_safe_next(next),
            name=username,
        )
    secure = _secure(request)
    target = _safe_next(next) if next else _home(result.user)
    response = _see_other(target)
    ttl = int(rt.settings.session_ttl.total_seconds())
    set_cookie(response, session_cookie(secure), result.token, secure=secure, max_age=ttl)
    # A new CSRF token for the new session: one planted before login is worthless after.
    set_cookie(response, csrf_cookie(secure), new_csrf_token(), secure=secure)
    return response


@router.post("/staff/logout")
def logout(request: Request, rt: RuntimeDep) -> Response:
    secure = _secure(request)
    token = request.cookies.get(session_cookie(secure))
    if token:
        with transaction(rt.sessions) as db:
            staff_auth.logout(db, token=token, now=rt.clock())
    response = _see_other("/web/staff/login")
    delete_cookie(response, session_cookie(secure), secure=secure)
    delete_cookie(response, csrf_cookie(secure), secure=secure)
    return response


@router.get("/staff")
@router.get("/staff/")
def staff_home(user: StaffUserDep) -> Response:
    return _see_other(_home(user))


# --- staff: queue and evidence -----------------------------------------------------------------


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    if not _blank(value):
        return None
    try:
        day = date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid(f"not a date: {value!r}", code="bad_date") from None
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return at + timedelta(days=1) if end else at


@router.get("/staff/queue")
def queue(
    request: Request,
    rt: RuntimeDep,
    user: Reader,
    status: Annotated[str | None, Query(max_length=16)] = None,
    media_type: Annotated[str | None, Query(max_length=100)] = None,
    case: Annotated[str | None, Query(max_length=64)] = None,
    received_from: Annotated[str | None, Query(max_length=20)] = None,
    received_to: Annotated[str | None, Query(max_length=20)] = None,
    sort: Annotated[str, Query(max_length=20)] = "-received_at",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    status = _blank(status)
    if status not in (None, "new", "accepted", "declined"):
        raise Invalid("status must be new, accepted or declined", code="bad_status")
    filters = evidence.QueueFilter(
        status,
        _day(received_from),
        _day(received_to, end=True),
        _blank(case),
        _blank(media_type),
    )
    with transaction(rt.sessions) as db:
        items, total = evidence.queue(
            db, user=user, filters=filters, sort=sort, page=page, per_page=PER_PAGE, now=rt.clock()
        )
        cases = evidence.case_ids(db, evidence_ids=[e.id for e in items])
        all_cases = (
            [c for c, _ in case_service.list_cases(db)] if allowed(user.role, Permission.CASES) else []
        )
    params = {
        "status": status or "",
        "media_type": _blank(media_type) or "",
        "case": _blank(case) or "",
        "received_from": _blank(received_from) or "",
        "received_to": _blank(received_to) or "",
        "sort": sort,
    }

    def page_url(n: int) -> str:
        return "/web/staff/queue?" + urlencode({**params, "page": n})

    return render(
        request,
        "staff/queue.html",
        user=user,
        items=items,
        cases=cases,
        all_cases=all_cases,
        total=total,
        page=page,
        filters=params,
        sorts=list(evidence.SORTS),
        prev_url=page_url(page - 1) if page > 1 else None,
        next_url=page_url(page + 1) if page * PER_PAGE < total else None,
    )


def _actor_names(db: Any, events: list[dict[str, Any]]) -> dict[str, str]:
    ids = {e["actor"].split(":")[1] for e in events if e["actor"].startswith("staff:")}
    if not ids:
        return {}
    return {u.id: u.name for u in db.scalars(select(StaffUser).where(StaffUser.id.in_(ids)))}


def _who(actor: str, names: dict[str, str]) -> str:
    if actor.startswith("staff:"):
        _, uid, role = [*actor.split(":"), "", ""][:3]
        return f"{names.get(uid, uid)} ({role})"
    return actor


@router.get("/staff/evidence/{evidence_id}")
def evidence_page(
    request: Request,
    evidence_id: str,
    rt: RuntimeDep,
    user: Reader,
    done: str | None = None,
) -> HTMLResponse:
    now = rt.clock()
    with transaction(rt.sessions) as db:
        # The same calls as GET /api/v1/evidence/{id} and .../custody: the same events.
        item = evidence.view(db, user=user, evidence_id=evidence_id, now=now)
        linked = evidence.case_ids(db, evidence_ids=[item.id])[item.id]
        sub, consent = evidence.submission_context(db, item=item)
        holds = retention.holds_of(db, evidence_id=item.id)
        events = evidence.timeline(db, user=user, evidence_id=item.id, now=now)
        names = _actor_names(db, events)
        all_cases = (
            [c for c, _ in case_service.list_cases(db)] if allowed(user.role, Permission.CASES) else []
        )
        has_contact = sub.contact_encrypted is not None
        incident = {
            "occurred_at": sub.incident_occurred_at,
            "place": sub.incident_place,
            "description": sub.incident_description,
        }
    timeline = [
        {
            "index": e["seq"],
            "at": e["at"],
            "type": e["type"],
            "who": _who(e["actor"], names),
            "details": json.dumps(e["details"], ensure_ascii=False, sort_keys=True),
        }
        for e in events
    ]
    info = item.media_info or {}
    return render(
        request,
        "staff/evidence.html",
        user=user,
        item=item,
        info=info,
        kind=item.media_type.split("/")[0],
        linked=linked,
        all_cases=[c for c in all_cases if c.id not in linked],
        consent_scopes=consent.scopes,
        incident=incident,
        holds=holds,
        timeline=timeline,
        has_contact=has_contact and allowed(user.role, Permission.WITNESS_CONTACT),
        purged=item.disposition == "purged",
        done=bool(done),
        contact=None,
    )


@router.get("/staff/evidence/{evidence_id}/thumbnail")
def thumbnail(evidence_id: str, rt: RuntimeDep, user: Reader) -> Response:
    return evidence_api.thumbnail(evidence_id, rt, user)


@router.get("/staff/evidence/{evidence_id}/content")
def content(
    evidence_id: str,
    rt: RuntimeDep,
    user: Player,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
    download: bool = False,
    playback: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The API's content route behind the session cookie: same Range handling, playback
    grouping and checked download, so the same custody events."""
    return evidence_api.content(evidence_id, rt, user, range_header, download, playback)


def _back(evidence_id: str) -> RedirectResponse:
    return _see_other(f"/web/staff/evidence/{evidence_id}?done=1")


def _validated(model: Any, **data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        ) from None


@router.post("/staff/evidence/{evidence_id}/triage")
def triage(
    evidence_id: str,
    rt: RuntimeDep,
    user: Triager,
    decision: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=4000)],
) -> Response:
    body = _validated(Triage, decision=decision, reason=reason.strip())
    with transaction(rt.sessions) as db:
        triage_flow.triage(
            db,
            rt.retention,
            user=user,
            evidence_id=evidence_id,
            decision=body.decision,
            reason=body.reason,
            now=rt.clock(),
        )
    return _back(evidence_id)


@router.post("/staff/evidence/{evidence_id}/link")
def link(
    evidence_id: str,
    rt: RuntimeDep,
    user: CaseWorker,
    case_id: Annotated[str, Form(max_length=64)],
) -> Response:
    with transaction(rt.sessions) as db:
        case_flows.link(
            db, rt.retention, user=user, case_id=case_id, evidence_id=evidence_id, now=rt.clock()
        )
    return _back(evidence_id)


@router.post("/staff/evidence/{evidence_id}/unlink")
def unlink(
    evidence_id: str,
    rt: RuntimeDep,
    user: CaseWorker,
    case_id: Annotated[str, Form(max_length=64)],
) -> Response:
    with transaction(rt.sessions) as db:
        case_flows.unlink(
            db, rt.retention, user=user, case_id=case_id, evidence_id=evidence_id, now=rt.clock()
        )
    return _back(evidence_id)


@router.post("/staff/evidence/{evidence_id}/holds")
def place_hold(
    evidence_id: str,
    rt: RuntimeDep,
    user: Holder,
    reason: Annotated[str, Form(max_length=4000)],
    case_reference: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    body = _validated(
        HoldCreate, reason=reason.strip(), case_reference=case_reference.strip() or None
    )
    with transaction(rt.sessions) as db:
        retention.place_hold(
            db,
            rt.retention,
            user=user,
            evidence_id=evidence_id,
            reason=body.reason,
            case_reference=body.case_reference,
            now=rt.clock(),
        )
    return _back(evidence_id)


@router.post("/staff/holds/{hold_id}/release")
def release_hold(
    hold_id: str,
    rt: RuntimeDep,
    user: Holder,
    reason: Annotated[str, Form(max_length=4000)],
) -> Response:
    body = _validated(HoldRelease, reason=reason.strip())
    with transaction(rt.sessions) as db:
        hold = retention.release_hold(
            db, rt.retention, user=user, hold_id=hold_id, reason=body.reason, now=rt.clock()
        )
        evidence_id = hold.evidence_id
    return _back(evidence_id)


@router.post("/staff/evidence/{evidence_id}/contact")
def witness_contact(
    request: Request, evidence_id: str, rt: RuntimeDep, user: ContactViewer
) -> HTMLResponse:
    """Decrypting a contact is a logged look (witness.contact_viewed), as in the API."""
    with transaction(rt.sessions) as db:
        item = evidence.get(db, evidence_id=evidence_id)
        try:
            data = evidence.contact(
                db, user=user, evidence_id=evidence_id, cipher=rt.contact_cipher, now=rt.clock()
            )
        except NotFound:
            data = {}
    return render(request, "staff/contact.html", user=user, item=item, contact=data)


# --- staff: cases ----------------------------------------------------------------------------


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
    body = _validated(
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
    return _see_other(f"/web/staff/cases/{case_id}")


@router.get("/staff/cases/{case_id}")
def case_page(request: Request, case_id: str, rt: RuntimeDep, user: CaseWorker) -> HTMLResponse:
    with transaction(rt.sessions) as db:
        case = case_service.get(db, case_id=case_id)
        items = evidence.case_evidence(db, user=user, case=case, now=rt.clock())
    return render(request, "staff/case.html", user=user, case=case, items=items)


@router.post("/staff/cases/{case_id}/close")
def close_case(
    case_id: str,
    rt: RuntimeDep,
    user: CaseWorker,
    offense: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    body = _validated(CaseClose, offense=offense or None)
    with transaction(rt.sessions) as db:
        case_flows.close(
            db, rt.retention, user=user, case_id=case_id, offense=body.offense, now=rt.clock()
        )
    return _see_other(f"/web/staff/cases/{case_id}")


@router.post("/staff/cases/{case_id}/reopen")
def reopen_case(case_id: str, rt: RuntimeDep, user: CaseWorker) -> Response:
    with transaction(rt.sessions) as db:
        case_flows.reopen(db, rt.retention, user=user, case_id=case_id, now=rt.clock())
    return _see_other(f"/web/staff/cases/{case_id}")


# --- staff: retention and the log -----------------------------------------------------------


@router.get("/staff/retention")
def retention_page(request: Request, rt: RuntimeDep, user: RetentionViewer) -> HTMLResponse:
    with rt.sessions() as db:
        due = retention.due(db, as_of=rt.clock())
    return render(request, "staff/retention.html", user=user, due=due)


@router.post("/staff/retention/{evidence_id}/approve")
def approve(evidence_id: str, rt: RuntimeDep, user: Approver) -> Response:
    with transaction(rt.sessions) as db:
        retention.approve(db, user=user, evidence_id=evidence_id, now=rt.clock())
    return _see_other("/web/staff/retention")


@router.get("/staff/log")
def log_page(request: Request, rt: RuntimeDep, user: StaffUserDep) -> HTMLResponse:
    with rt.sessions() as db:
        latest = custody.latest_checkpoint(db)
    return render(
        request,
        "staff/log.html",
        user=user,
        checkpoint=latest.note if latest else None,
        size=latest.size if latest else 0,
        public_key=rt.log_verifier,
    )


# --- anything else under /web ----------------------------------------------------------------


@router.get("/{path:path}")
def not_found(path: str) -> Response:
    raise NotFound("no such page")


# `/` sends people to the witness start page (optional: include it in the app too).
root_router = APIRouter(include_in_schema=False)


@root_router.get("/")
def root() -> Response:
    response = RedirectResponse("/web/", status_code=307)
    add_headers(response)
    return response
