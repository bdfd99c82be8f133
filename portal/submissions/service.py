"""Consent and submissions, as plain functions over a session."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import sealed
from portal.auth.witness import token_hash
from portal.custody import service as custody
from portal.custody.actors import Actor
from portal.custody.events import EventType
from portal.errors import Conflict, Invalid, NotFound, Unauthorized
from portal.evidence.models import Evidence
from portal.ids import new_id
from portal.keys import ContactCipher
from portal.sealed import seal
from portal.submissions import consent as consent_docs
from portal.submissions.models import Consent, Submission, SubmissionState
from portal.submissions.schemas import SubmissionCreate
from portal.uploads.models import Upload


def check_consent(payload: SubmissionCreate) -> consent_docs.ConsentDocument:
    doc = consent_docs.current()
    given = payload.consent
    if given.version != doc.version:
        known = given.version in consent_docs.documents()
        raise Invalid(
            f"consent version {given.version!r} is {'outdated' if known else 'unknown'}; "
            f"the current version is {doc.version!r}",
            code="consent_version",
        )
    unknown = set(given.scopes) - doc.scope_names
    if unknown:
        raise Invalid(f"unknown consent scopes: {sorted(unknown)}", code="consent_scope")
    missing = doc.required_scopes - set(given.scopes)
    if missing:
        raise Invalid(f"required consent scopes missing: {sorted(missing)}", code="consent_scope")
    return doc


def _sealed_contact(payload: SubmissionCreate, cipher: ContactCipher) -> bytes | None:
    if payload.contact and payload.contact.model_dump(exclude_none=True):
        return cipher.encrypt(json.dumps(payload.contact.model_dump(mode="json")).encode())
    return None


def create(
    db: Session, *, payload: SubmissionCreate, token: str, cipher: ContactCipher, now: datetime,
    request_id: str | None = None,
) -> Submission:  # fmt: skip
    """Record consent, then the submission, each with its custody event, in one transaction
    (`request_id`: the evidence request it answers, checked by flows/requests.py)."""
    doc = check_consent(payload)
    contact = _sealed_contact(payload, cipher)
    incident = payload.incident
    sub = Submission(
        id=new_id(),
        created_at=now,
        token_hash=token_hash(token),
        status="open",
        language=payload.consent.language,
        request_id=request_id,
        incident_occurred_at=incident.occurred_at if incident else None,
        # Place and description are sealed like contact details (portal.sealed).
        incident_encrypted=seal(cipher, sealed.incident(incident.place, incident.description))
        if incident
        else None,
        contact_encrypted=contact,
    )
    scopes = sorted(set(payload.consent.scopes))
    record = Consent(
        id=new_id(),
        submission_id=sub.id,
        version=doc.version,
        sha256=doc.sha256,
        scopes=scopes,
        language=payload.consent.language,
        given_at=now,
    )
    db.add(sub)
    db.flush()
    db.add(record)
    actor = Actor.witness(sub.id)
    custody.append(
        db,
        type=EventType.CONSENT_GIVEN,
        actor=actor,
        subject=sub.id,
        details={
            "version": doc.version,
            "sha256": doc.sha256,
            "scopes": scopes,
            "language": record.language,
        },
        at=now,
    )
    custody.append(
        db,
        type=EventType.SUBMISSION_CREATED,
        actor=actor,
        subject=sub.id,
        # Only what is not identifying: whether contact was given, never the contact itself.
        details={"with_contact": contact is not None, "request": request_id},
        at=now,
    )
    return sub


def withdraw_consent(db: Session, *, submission: Submission, now: datetime) -> None:
    """Mark the consent withdrawn, with its custody event; what that means for the files
    (retention, unfinished uploads) is the withdrawal flow's to settle."""
    if submission.status == SubmissionState.WITHDRAWN:
        raise Conflict("consent was already withdrawn", code="already_withdrawn")
    consent = db.scalars(
        select(Consent)
        .where(Consent.submission_id == submission.id)
        .order_by(Consent.given_at.desc())
    ).first()
    assert consent is not None
    consent.withdrawn_at = now
    sub = db.get(Submission, submission.id)
    assert sub is not None
    sub.status = SubmissionState.WITHDRAWN
    custody.append(
        db,
        type=EventType.CONSENT_WITHDRAWN,
        actor=Actor.witness(sub.id),
        subject=sub.id,
        details={"version": consent.version},
        at=now,
    )


def authenticate(db: Session, *, token: str) -> Submission:
    sub = db.scalar(select(Submission).where(Submission.token_hash == token_hash(token)))
    if sub is None:
        raise Unauthorized("the witness token is not valid")
    return sub


def authenticate_id(db: Session, *, submission_id: str) -> Submission:
    sub = db.get(Submission, submission_id)
    if sub is None:
        raise NotFound("no such submission")
    return sub


def ensure_own(*, witness: Submission, submission_id: str) -> None:
    """A witness token opens its own submission only; any other id is simply not found."""
    if witness.id != submission_id:
        raise NotFound("no such submission")


def consent_of(db: Session, *, submission_id: str) -> Consent:
    return db.scalars(
        select(Consent).where(Consent.submission_id == submission_id).order_by(Consent.given_at)
    ).one()


def files_of(db: Session, *, submission_id: str) -> list[Evidence]:
    return list(
        db.scalars(
            select(Evidence)
            .where(Evidence.submission_id == submission_id)
            .order_by(Evidence.received_at, Evidence.id)
        )
    )


def uploads_of(db: Session, *, submission_id: str) -> list[Upload]:
    return list(
        db.scalars(
            select(Upload).where(Upload.submission_id == submission_id).order_by(Upload.created_at)
        )
    )


def latest_consents(db: Session, *, submission_ids: set[str]) -> dict[str, Consent]:
    """Each submission's latest consent (scopes given, when withdrawn), for staff lists."""
    latest: dict[str, Consent] = {}
    if submission_ids:
        for c in db.scalars(
            select(Consent)
            .where(Consent.submission_id.in_(submission_ids))
            .order_by(Consent.given_at)
        ):
            latest[c.submission_id] = c
    return latest
