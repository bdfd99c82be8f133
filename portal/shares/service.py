"""Shares: create, sign in with the one-time code, resolve a recipient's session, revoke,
and the custody events of what the recipient opens.

The link names an unguessable share id; the code, shown once to the supervisor, goes to the
recipient by another channel and is spent on its first use. Only hashes of code and session
are stored. A revoked or expired share stops at the next request, whatever the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import throttle
from portal.auth.models import StaffUser
from portal.cases.models import Case, CaseLink
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.events import EventType
from portal.errors import Forbidden, Gone, Invalid, NotFound, Unauthorized
from portal.evidence import playbacks
from portal.evidence.models import Derivative, Evidence
from portal.ids import new_id
from portal.shares.models import Share
from portal.submissions.models import Consent

COURT_SCOPE = "prosecution"
MAX_DAYS = 90
SESSION_PREFIX = "shr_"
# No 0/O, 1/I/L: read out over the phone.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10  # ~49 bits; with the wait after failures, out of reach of guessing


class ShareEnded(Gone):
    code = "share_ended"


class BadShareCode(Unauthorized):
    code = "bad_share_code"


class ScopeMissing(Invalid):
    status, code = 422, "consent_scope"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def actor_of(share: Share) -> str:
    return f"share:{share.id}"


def _chosen(db: Session, *, case_id: str, evidence_ids: Sequence[str]) -> list[Evidence]:
    """The case's items, or those of them chosen; a share always names its case, so the
    recipient's court bundle is the case's export."""
    if db.get(Case, case_id) is None:
        raise NotFound(f"no case {case_id}")
    query = select(Evidence).join(CaseLink, CaseLink.evidence_id == Evidence.id)
    query = query.where(CaseLink.case_id == case_id)
    if evidence_ids:
        query = query.where(Evidence.id.in_(evidence_ids))
    items = list(db.scalars(query.order_by(Evidence.received_at, Evidence.id)))
    missing = set(evidence_ids) - {i.id for i in items}
    if missing:
        raise Invalid(f"not in the case: {', '.join(sorted(missing))}", code="bad_items")
    if not items:
        raise Invalid("the case has no evidence to share", code="empty_share")
    return items


def _check_scopes(db: Session, items: list[Evidence]) -> None:
    """Every item needs live consent for court use; the refusal names each one."""
    refused = []
    for item in items:
        consent = db.scalars(
            select(Consent)
            .where(Consent.submission_id == item.submission_id)
            .order_by(Consent.given_at.desc())
        ).first()
        if consent is None or consent.withdrawn_at is not None:
            refused.append(f"{item.id}: consent was withdrawn")
        elif COURT_SCOPE not in consent.scopes:
            refused.append(f"{item.id}: consent does not include {COURT_SCOPE}")
        elif item.disposition is not None:
            refused.append(f"{item.id}: the original was destroyed")
    if refused:
        raise ScopeMissing("nothing was shared: " + "; ".join(refused))


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def create(
    db: Session,
    *,
    user: StaffUser,
    recipient: str,
    case_id: str,
    evidence_ids: Sequence[str],
    days: int,
    can_download: bool,
    watermark: bool,
    include_identity: bool,
    now: datetime,
) -> tuple[Share, str]:
    """The share and its one-time code (returned once, stored only hashed)."""
    recipient = " ".join(recipient.split())
    if not recipient or len(recipient) > 200:
        raise Invalid("name the recipient (at most 200 characters)", code="bad_recipient")
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"a share lasts 1 to {MAX_DAYS} days", code="bad_expiry")
    items = _chosen(db, case_id=case_id, evidence_ids=evidence_ids)
    _check_scopes(db, items)
    code = new_code()
    share = Share(
        id=new_id(),
        case_id=case_id,
        evidence_ids=[i.id for i in items],
        recipient=recipient,
        can_download=can_download,
        watermark=watermark,
        include_identity=include_identity,
        created_by=user.id,
        created_at=now,
        expires_at=now + timedelta(days=days),
        code_hash=_hash(code),
        failed_codes=0,
    )
    db.add(share)
    custody.append(
        db,
        type=EventType.SHARE_CREATED,
        actor=user.actor,
        subject=share.id,
        details={
            "recipient": recipient,
            "case": case_id,
            "items": share.evidence_ids,
            "expires_at": share.expires_at.isoformat(),
            "download": can_download,
            "watermark": watermark,
            "witness_identity": include_identity,
        },
        at=now,
    )
    return share, code


def list_shares(db: Session) -> list[Share]:
    return list(db.scalars(select(Share).order_by(Share.created_at.desc())))


def ended(share: Share, now: datetime) -> str | None:
    """Why the share no longer works ("revoked", "expired"), or None."""
    if share.revoked_at is not None:
        return "revoked"
    if as_utc(share.expires_at) <= now:
        return "expired"
    return None


def _open(db: Session, *, share_id: str, now: datetime) -> Share | None:
    share = db.get(Share, share_id) if len(share_id) <= 64 else None
    if share is not None and (why := ended(share, now)) is not None:
        raise ShareEnded(f"this share was {why}", code=f"share_{why}")
    return share


def check_open(db: Session, *, share_id: str, now: datetime) -> None:
    """ShareEnded for a revoked or expired share; nothing said about an unknown one."""
    _open(db, share_id=share_id, now=now)


def revoke(db: Session, *, user: StaffUser, share_id: str, now: datetime) -> Share:
    share = db.get(Share, share_id)
    if share is None:
        raise NotFound(f"no share {share_id}")
    if share.revoked_at is None:
        share.revoked_at = now
        share.session_hash = None
        custody.append(
            db,
            type=EventType.SHARE_REVOKED,
            actor=user.actor,
            subject=share.id,
            details={"recipient": share.recipient},
            at=now,
        )
    return share


def sign_in(
    db: Session, *, share_id: str, code: str, limits: throttle.Limits, now: datetime
) -> str | None:
    """A session token for the right, unspent code; None (failure committed by the caller)
    for anything else: one answer whether the share is unknown, the code wrong or spent, or
    the try inside the share's wait."""
    share = _open(db, share_id=share_id, now=now)
    typed = _hash("".join(code.split()).upper())
    if share is None:
        return None
    waiting = throttle.waiting(share.locked_until, now)
    right = share.code_hash is not None and hmac.compare_digest(share.code_hash, typed)
    if waiting or not right:
        if not waiting:  # inside the wait nothing counts, so a stranger cannot stretch it
            throttle.count_failure(
                db,
                share,
                counter=Share.failed_codes,
                until=Share.locked_until,
                limits=limits,
                now=now,
            )
        custody.append(
            db,
            type=EventType.SHARE_SIGN_IN_FAILED,
            actor="anonymous",
            subject=share.id,
            details={"reason": "throttled" if waiting else "bad_code"},
            at=now,
        )
        return None
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    share.code_hash = None
    share.session_hash = _hash(token)
    share.failed_codes = 0
    custody.append(
        db,
        type=EventType.SHARE_SIGNED_IN,
        actor=actor_of(share),
        subject=share.id,
        details={},
        at=now,
    )
    return token


def resolve(db: Session, *, share_id: str, token: str | None, now: datetime) -> Share:
    """The live share this session opens; ShareEnded once revoked or expired, Unauthorized
    without its session."""
    share = _open(db, share_id=share_id, now=now)
    if (
        share is None
        or not token
        or share.session_hash is None
        or not hmac.compare_digest(share.session_hash, _hash(token))
    ):
        raise BadShareCode("sign in with the code you were given")
    return share


def item_of(db: Session, *, share: Share, evidence_id: str) -> Evidence:
    if evidence_id not in share.evidence_ids:
        raise NotFound("no such item in this share")
    item = db.get(Evidence, evidence_id)
    if item is None or item.disposition is not None:
        raise NotFound("no such item in this share")
    return item


def listed(db: Session, *, share: Share, now: datetime) -> list[Evidence]:
    """The shared items, logged as shown to the recipient."""
    items = [i for i in map(lambda e: db.get(Evidence, e), share.evidence_ids) if i is not None]
    custody.append(
        db,
        type=EventType.SHARE_LISTED,
        actor=actor_of(share),
        subject=share.id,
        details={"items": [i.id for i in items]},
        at=now,
    )
    return items


def record_stream(
    db: Session,
    *,
    share: Share,
    item: Evidence,
    span: tuple[int, int],
    idle: timedelta,
    now: datetime,
) -> str:
    """Attach the recipient's range request to a playback, as staff streaming does: one event
    when it opens, one folding its ranges when it goes idle, each naming the share."""
    return playbacks.attach(
        db,
        viewer=share.id,
        actor=actor_of(share),
        item=item,
        span=span,
        playback_id=None,
        idle=idle,
        now=now,
    )


def review_copy(db: Session, *, share: Share, item: Evidence, now: datetime) -> Derivative:
    """The item's review copy (H.264, what browsers play) for the recipient, logged."""
    copy = playbacks.review_copy_of(db, item)
    if copy is None:
        raise NotFound("this item has no review copy")
    custody.append(
        db,
        type=EventType.EVIDENCE_PROXY_VIEWED,
        actor=actor_of(share),
        subject=item.id,
        details={"key": copy.key, "sha256": copy.sha256, "source_sha256": item.sha256},
        at=now,
    )
    return copy


def with_review_copies(db: Session, items: list[Evidence]) -> list[tuple[Evidence, bool]]:
    """Each item and whether it has a review copy to play in its place."""
    return [(i, playbacks.review_copy_of(db, i) is not None) for i in items]


def ensure_download(share: Share) -> None:
    if not share.can_download:
        raise Forbidden("this share is for viewing only", code="view_only")


def record_download(db: Session, *, share: Share, item: Evidence, now: datetime) -> None:
    ensure_download(share)
    custody.append(
        db,
        type=EventType.SHARE_DOWNLOADED,
        actor=actor_of(share),
        subject=item.id,
        details={"share": share.id, "sha256": item.sha256, "size": item.size},
        at=now,
    )
