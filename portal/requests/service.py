"""Evidence requests as plain functions over a session.

Every creation, publication, edit, closure, revocation and answer appends its custody event in
the caller's transaction. Events never carry a recipient's name or phone, nor the code of a
one-time link (a bearer secret): the published text enters as a SHA-256 only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import unicodedata
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.cases.models import Case, CaseState
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.errors import Conflict, Gone, Invalid, NotFound
from portal.evidence.models import Evidence
from portal.ids import new_id
from portal.requests.models import EvidenceRequest, RequestKind, RequestState
from portal.requests.notify import NotifyRules, allowed
from portal.requests.schemas import RequestCreate, RequestStats, RequestText
from portal.submissions.models import Submission

# Crockford's base 32 without I, L, O, U: nothing to confuse when typed from a poster.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# 10 symbols (50 bits) for a poster, 20 (100 bits) for a link that only its recipient holds.
CODE_LENGTH = {RequestKind.PUBLIC: 10, RequestKind.INDIVIDUAL: 20}
_TYPOS = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def new_code(kind: RequestKind) -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH[kind]))
    return "-".join(raw[i : i + 5] for i in range(0, len(raw), 5))


def normalise_code(text: str) -> str:
    """What a witness typed, as stored: upper case, look-alikes mended, dashes put back."""
    raw = text.upper().translate(_TYPOS)
    if not raw or len(raw) > 20 or any(c not in ALPHABET for c in raw):
        return ""
    return "-".join(raw[i : i + 5] for i in range(0, len(raw), 5))


def commitment(key: bytes, *, salt: str, name: str, phone: str) -> str:
    """HMAC over the salt, the name (case and spacing folded) and the phone's digits."""
    folded = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    digits = "".join(c for c in phone if c.isdigit())
    message = f"{salt}\n{folded}\n{digits}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def published(req: EvidenceRequest) -> dict[str, object]:
    """What the public page shows, and nothing else."""
    point = None
    if req.latitude is not None and req.longitude is not None and req.radius_m is not None:
        point = {"latitude": req.latitude, "longitude": req.longitude, "radius_m": req.radius_m}
    return {
        "code": req.code,
        "title": {"es": req.title_es, "en": req.title_en},
        "description": {"es": req.description_es, "en": req.description_en},
        "place": req.place,
        "point": point,
        "window_start": req.window_start,
        "window_end": req.window_end,
        "media_kinds": list(req.media_kinds),
        "ask_contact": req.ask_contact,
        "expires_at": req.expires_at,
    }


def _published_sha256(req: EvidenceRequest) -> str:
    body = {k: v for k, v in published(req).items() if k != "code"}
    text = json.dumps(body, sort_keys=True, default=lambda d: as_utc(d).isoformat())
    return hashlib.sha256(text.encode()).hexdigest()


def _check(db: Session, body: RequestText, *, now: datetime, case_id: str | None) -> None:
    if body.window_start and body.window_end and body.window_end <= body.window_start:
        raise Invalid("window_end: the time window ends before it starts", code="window_end")
    if as_utc(body.expires_at) <= now:
        raise Invalid("expires_at: the expiry is in the past", code="expires_at")
    if case_id is not None:
        case = db.get(Case, case_id)
        # Every case is open to every case worker; a closed one takes no new evidence.
        if case is None or case.status != CaseState.OPEN:
            raise Invalid("case_id: no open case with this id", code="case_id")


def _check_notify(body: RequestCreate, rules: NotifyRules) -> None:
    # The server calls this address: only where the operator allowed (no internal services).
    if body.notify_url is not None:
        if not rules.webhook_secret:
            raise Invalid("notify_url: webhooks are not configured", code="notify_url")
        if not allowed(body.notify_url, rules.webhook_prefixes):
            raise Invalid("notify_url: not an allowed webhook address", code="notify_url")
    if body.notify_email is not None and not rules.email:
        raise Invalid("notify_email: email is not configured", code="notify_email")


def _apply(req: EvidenceRequest, body: RequestText) -> None:
    req.title_es, req.title_en = body.title_es, body.title_en
    req.description_es, req.description_en = body.description_es, body.description_en
    req.place = body.place
    point = body.point
    req.latitude = point.latitude if point else None
    req.longitude = point.longitude if point else None
    req.radius_m = point.radius_m if point else None
    req.window_start, req.window_end = body.window_start, body.window_end
    req.media_kinds = [str(k) for k in dict.fromkeys(body.media_kinds)]
    req.ask_contact, req.expires_at = body.ask_contact, body.expires_at


def _event(
    db: Session, kind: EventType, actor: Actor, req: EvidenceRequest, now: datetime, **extra: object
) -> None:
    details: dict[str, object] = {"kind": req.kind, "case": req.case_id, **extra}
    # A witness's answer names the request by id (its subject) alone: no code beside a
    # witness's submission in the permanent log.
    if req.kind == RequestKind.PUBLIC and kind != EventType.REQUEST_ANSWERED:
        details["code"] = req.code  # printed on posters anyway; a one-time code is a secret
    custody.append(db, type=kind, actor=actor, subject=req.id, details=details, at=now)


def create(
    db: Session,
    *,
    user: StaffUser,
    body: RequestCreate,
    recipient_key: bytes,
    now: datetime,
    notify: NotifyRules | None = None,
) -> EvidenceRequest:
    """Create and publish a request (a one-time link when the body names a recipient)."""
    _check(db, body, now=now, case_id=body.case_id)
    _check_notify(body, notify or NotifyRules())
    recipient = body.recipient
    kind = RequestKind.INDIVIDUAL if recipient else RequestKind.PUBLIC
    req = EvidenceRequest(
        id=new_id(),
        code=new_code(kind),
        kind=kind,
        state=RequestState.OPEN,
        case_id=body.case_id,
        created_at=now,
        created_by=user.id,
        updated_at=now,
    )
    _apply(req, body)
    req.notify_url, req.notify_email = body.notify_url, body.notify_email
    if recipient:
        req.recipient_salt = secrets.token_hex(16)
        req.recipient_commitment = commitment(
            recipient_key, salt=req.recipient_salt, name=recipient.name, phone=recipient.phone
        )
    db.add(req)
    db.flush()
    _event(db, EventType.REQUEST_CREATED, user.actor, req, now)
    sha = _published_sha256(req)
    _event(db, EventType.REQUEST_PUBLISHED, user.actor, req, now, published_sha256=sha)
    return req


def message(url: str, req: EvidenceRequest) -> dict[str, str]:
    """The text the officer sends by hand (SMS, messenger, a card): the portal sends nothing."""
    return {
        "es": f"{req.title_es}\nSi quiere compartir su video, use este enlace (un solo uso): {url}",
        "en": f"{req.title_en}\nIf you wish to share your video, use this one-time link: {url}",
    }


def get(db: Session, *, request_id: str) -> EvidenceRequest:
    req = db.get(EvidenceRequest, request_id)
    if req is None:
        raise NotFound("no such request")
    return req


def list_requests(db: Session) -> list[EvidenceRequest]:
    return list(db.scalars(select(EvidenceRequest).order_by(EvidenceRequest.created_at.desc())))


def by_code(db: Session, *, code: str) -> EvidenceRequest:
    req = None
    if normalised := normalise_code(code):
        req = db.scalar(select(EvidenceRequest).where(EvidenceRequest.code == normalised))
    if req is None:
        raise NotFound("no request has this code", code="request_unknown")
    return req


def ensure_answerable(req: EvidenceRequest, *, now: datetime) -> None:
    """A closed, revoked, expired or used request takes no new submission (410), and says
    nothing of its case."""
    if req.state == RequestState.REVOKED:
        raise Gone("this request was withdrawn", code="request_revoked")
    if req.state == RequestState.CLOSED:
        raise Gone("this request is closed", code="request_closed")
    if as_utc(req.expires_at) <= now:
        raise Gone("this request has expired", code="request_expired")
    if req.used_at is not None:
        raise Gone("this one-time link was already used", code="request_used")


def answer(db: Session, *, req: EvidenceRequest, submission_id: str, now: datetime) -> None:
    """Bind a new submission to the request (a one-time link is spent by it)."""
    ensure_answerable(req, now=now)
    if req.kind == RequestKind.INDIVIDUAL:
        req.used_at = now
    _event(
        db, EventType.REQUEST_ANSWERED, Actor.witness(submission_id), req, now,
        submission=submission_id,
    )  # fmt: skip


def edit(
    db: Session, *, user: StaffUser, request_id: str, body: RequestText, now: datetime
) -> EvidenceRequest:
    req = get(db, request_id=request_id)
    if req.state != RequestState.OPEN:
        raise Conflict("only an open request can be edited", code="request_ended")
    _check(db, body, now=now, case_id=None)
    before = _published_sha256(req)
    _apply(req, body)
    req.updated_at = now
    after = _published_sha256(req)
    _event(db, EventType.REQUEST_EDITED, user.actor, req, now, old=before, new=after)
    return req


def end(
    db: Session, *, user: StaffUser, request_id: str, state: RequestState, now: datetime
) -> EvidenceRequest:
    """Close (no more answers) or revoke (withdrawn, e.g. a link sent to the wrong person)."""
    req = get(db, request_id=request_id)
    if req.state != RequestState.OPEN:
        raise Conflict(f"the request is already {req.state}", code="request_ended")
    req.state, req.ended_at, req.updated_at = state, now, now
    kind = EventType.REQUEST_CLOSED if state == RequestState.CLOSED else EventType.REQUEST_REVOKED
    _event(db, kind, user.actor, req, now)
    return req


def stats(db: Session, *, request_ids: list[str]) -> dict[str, RequestStats]:
    """Submissions, files, bytes and last activity per request."""
    out = {
        i: RequestStats(submissions=0, files=0, bytes=0, last_activity=None) for i in request_ids
    }
    subs = db.execute(
        select(Submission.request_id, func.count(), func.max(Submission.created_at))
        .where(Submission.request_id.in_(request_ids))
        .group_by(Submission.request_id)
    )
    for rid, n, last in subs:
        out[str(rid)].submissions, out[str(rid)].last_activity = int(n), last
    files = db.execute(
        select(
            Submission.request_id,
            func.count(Evidence.id),
            func.coalesce(func.sum(Evidence.size), 0),
            func.max(Evidence.received_at),
        )
        .join(Evidence, Evidence.submission_id == Submission.id)
        .where(Submission.request_id.in_(request_ids))
        .group_by(Submission.request_id)
    )
    for rid, n, size, last in files:
        s = out[str(rid)]
        s.files, s.bytes = int(n), int(size)
        if last is not None and (s.last_activity is None or as_utc(last) > as_utc(s.last_activity)):
            s.last_activity = last
    return out


def recipient_matches(req: EvidenceRequest, *, key: bytes, name: str, phone: str) -> bool:
    if req.recipient_salt is None or req.recipient_commitment is None:
        return False
    given = commitment(key, salt=req.recipient_salt, name=name, phone=phone)
    return hmac.compare_digest(given, req.recipient_commitment)
