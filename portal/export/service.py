"""Court exports of a case: may it go to court, what the bundle proves, and its custody event.

The order matters (flows/export.py runs it):

1. every item of the case must carry consent for `prosecution` (else 422 naming each item,
   and nothing is signed, written or logged);
2. a checkpoint is signed, and everything in the bundle is proven against that one checkpoint;
3. the bundle is written to a file (originals streamed and re-hashed as they go);
4. the `evidence.exported` event records the manifest's SHA-256 (the manifest lists the hash
   of every other member), the items and whether witness identity was included;
5. a checkpoint is signed after that event, and the export proof (the event, its inclusion
   proof, the checkpoint) is added to the bundle. Nothing but the event is stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.auth.permissions import Permission, allowed
from portal.cases.models import Case, CaseLink
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody import timestamp
from portal.custody.actors import Actor, staff_ids
from portal.custody.events import EventType
from portal.custody.models import Checkpoint, LogEntry
from portal.errors import Forbidden, Gone, Invalid, PortalError
from portal.evidence.models import Evidence
from portal.export.plan import CasePlan, CopyPlan, ItemPlan, LoggedEvent, Plan
from portal.export.proof import proof_document
from portal.export.verify import BUNDLE_FORMAT
from portal.keys import ContactCipher
from portal.redactions.models import Redaction, RedactionState
from portal.sealed import unseal
from portal.submissions.models import Consent, Submission

COURT_SCOPE = "prosecution"


class ConsentScopeMissing(Invalid):
    status, code = 422, "consent_scope"


class BundleIntegrityError(PortalError):
    """Stored bytes no longer match their hash; the caller records the integrity failure."""

    status, code = 500, "integrity_failure"

    def __init__(self, message: str, *, evidence_id: str, actual_sha256: str) -> None:
        super().__init__(message)
        self.evidence_id = evidence_id
        self.actual_sha256 = actual_sha256


def check_identity_allowed(role: str, include_witness_identity: bool) -> None:
    """Witness identity means decrypting contact details: only who may do that may ask."""
    if include_witness_identity and not allowed(role, Permission.WITNESS_CONTACT):
        raise Forbidden(
            f"the {role} role may not include witness identity in an export", code="forbidden"
        )


def check_witness_data_allowed(role: str, include_witness_data: bool) -> None:
    """Incident text and device metadata are sealed like contact details: the same rule."""
    if include_witness_data and not allowed(role, Permission.WITNESS_CONTACT):
        raise Forbidden(
            f"the {role} role may not include witness data in an export", code="forbidden"
        )


# --- step 1: may this case go to court? ------------------------------------------------------


def latest_consent(db: Session, *, submission_id: str) -> Consent | None:
    return db.scalars(
        select(Consent)
        .where(Consent.submission_id == submission_id)
        .order_by(Consent.given_at.desc())
    ).first()


def case_items(db: Session, *, case_id: str) -> list[Evidence]:
    return list(
        db.scalars(
            select(Evidence)
            .join(CaseLink, CaseLink.evidence_id == Evidence.id)
            .where(CaseLink.case_id == case_id)
            .order_by(Evidence.received_at, Evidence.id)
        )
    )


def exportable(db: Session, *, case_id: str, only: Collection[str] | None = None) -> list[Evidence]:
    """The case's items (those of them in `only`, when given), or an error naming every item
    that cannot go to court. The checks cover the items exported, not the rest of the case.

    Reads only: a refusal leaves no trace in the log.
    """
    items = case_items(db, case_id=case_id)
    if only is not None:
        items = [i for i in items if i.id in only]
    if not items:
        raise Invalid("the case has no evidence to export", code="empty_case")
    refused = []
    for item in items:
        consent = latest_consent(db, submission_id=item.submission_id)
        scopes = sorted(consent.scopes) if consent else []
        if consent is None or consent.withdrawn_at is not None:
            refused.append(f"{item.id} ({item.filename!r}): consent was withdrawn")
        elif COURT_SCOPE not in scopes:
            refused.append(
                f"{item.id} ({item.filename!r}): consent scopes {', '.join(scopes) or 'none'} "
                f"do not include {COURT_SCOPE}"
            )
    if refused:
        raise ConsentScopeMissing(
            f"{len(refused)} of {len(items)} items may not be used in court, so nothing was "
            "exported: " + "; ".join(refused)
        )
    purged = [f"{i.id} ({i.filename!r})" for i in items if i.disposition is not None]
    if purged:
        raise Gone(
            "the originals of these items were destroyed under their retention rule, so "
            "nothing was exported: " + "; ".join(purged),
            code="purged",
        )
    return items


# --- step 2: everything proven against one checkpoint ---------------------------------------


def safe_filename(name: str, fallback: str = "file") -> str:
    """A file name that is one harmless zip path segment (letters of any script kept)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c if (c.isalnum() or c in "._- ") else "_" for c in base).strip(" .")
    cleaned = cleaned[:120].strip(" .")
    return cleaned or fallback


def _actor_labels(db: Session, actors: set[str]) -> dict[str, str]:
    names: dict[str, str] = {
        user_id: name
        for user_id, name in db.execute(
            select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(staff_ids(actors)))
        )
    }
    return {a: _label(Actor.parse(a), names) for a in actors}


def _label(actor: Actor, names: dict[str, str]) -> str:
    if actor.kind == "staff":
        role = f", {actor.role}" if actor.role else ""
        return f"{names.get(actor.id, 'unknown staff account')} (staff {actor.id}{role})"
    if actor.kind == "witness":
        return f"the witness of submission {actor.id}"
    if actor.kind == "system":
        return "the portal (automatic)"
    if actor.kind == "cli":
        return "a server operator (portal command line)"
    return str(actor)


def _belongs(event: dict[str, Any], item: Evidence) -> bool:
    """As the timeline: events about the item, its submission's consent, and its own upload."""
    if event["subject"] == item.id:
        return True
    if event["subject"] != item.submission_id:
        return False
    details = event.get("details") or {}
    other_upload = details.get("upload") != item.upload_id
    return not (str(event["type"]).startswith("upload.") and other_upload)


def _witness_contact(db: Session, *, submission_id: str, cipher: ContactCipher) -> dict[str, Any]:
    """The witness's decrypted contact details, leaving out those not given."""
    sub = db.get(Submission, submission_id)
    contact: dict[str, Any] = {}
    if sub is not None and sub.contact_encrypted is not None:
        contact = json.loads(cipher.decrypt(sub.contact_encrypted))
    return {k: v for k, v in contact.items() if v is not None}


def _copies(db: Session, item: Evidence, parsed: dict[int, dict[str, Any]]) -> list[CopyPlan]:
    """The item's rendered redacted copies whose provenance event the checkpoint covers (one
    rendered later goes in the next export)."""
    made: dict[str, int] = {}
    for seq, ev in parsed.items():
        record = (ev.get("details") or {}).get("redaction")
        if ev["type"] == "evidence.derived" and ev["subject"] == item.id and record:
            made[str(record.get("redaction"))] = seq
    rows = db.scalars(
        select(Redaction)
        .where(Redaction.evidence_id == item.id, Redaction.state == RedactionState.RENDERED)
        .order_by(Redaction.requested_at)
    )
    return [
        CopyPlan(
            redaction_id=r.id,
            path=f"redacted/{item.sha256}/redaction-{r.id}.mp4",
            storage_key=r.output_key,
            size=r.output_size or 0,
            sha256=r.output_sha256 or "",
            media_type="video/mp4",
            source_sha256=r.source_sha256,
            provenance_event=made[r.id],
        )
        for r in rows
        if r.id in made and r.output_key is not None
    ]


def _item_plan(
    db: Session,
    item: Evidence,
    *,
    events: list[int],
    copies: list[CopyPlan],
    include_witness_identity: bool,
    cipher: ContactCipher,
    include_witness_data: bool = False,
) -> ItemPlan:
    consent = latest_consent(db, submission_id=item.submission_id)
    assert consent is not None  # exportable() checked
    witness = None
    if include_witness_identity:
        witness = _witness_contact(db, submission_id=item.submission_id, cipher=cipher)
    data = None
    if include_witness_data:
        sub = db.get(Submission, item.submission_id)
        assert sub is not None
        data = {
            "incident": unseal(cipher, sub.incident_encrypted),
            "device": unseal(cipher, item.device_sealed),
        }
    return ItemPlan(
        evidence_id=item.id,
        submission_id=item.submission_id,
        upload_id=item.upload_id,
        filename=item.filename,
        name_salt=item.name_salt,
        path=f"originals/{item.sha256}/{safe_filename(item.filename)}",
        size=item.size,
        sha256=item.sha256,
        media_type=item.media_type,
        received_at=custody.rfc3339(as_utc(item.received_at)),
        storage_key=item.storage_key,
        log_index=item.log_index,
        consent={
            "version": consent.version,
            "sha256": consent.sha256,
            "scopes": sorted(consent.scopes),
            "language": consent.language,
            "given_at": custody.rfc3339(as_utc(consent.given_at)),
        },
        events=events,
        witness=witness,
        copies=copies,
        witness_data=data,
    )


def _case_plan(case: Case) -> CasePlan:
    return CasePlan(
        id=case.id,
        title=case.title,
        reference=case.reference,
        offense=case.offense,
        status=case.status,
        created_at=custody.rfc3339(as_utc(case.created_at)),
    )


def _proven_events(
    db: Session, entries: list[LogEntry], used: list[int], size: int
) -> dict[int, LoggedEvent]:
    """The events the bundle holds, each with its inclusion proof at the checkpoint size."""
    text = {e.seq: e.event.decode("utf-8") for e in entries}
    return {
        i: LoggedEvent(index=i, text=text[i], proof=custody.inclusion(db, index=i, size=size))
        for i in used
    }


def plan(
    db: Session,
    *,
    case: Case,
    items: Sequence[Evidence],
    checkpoint: Checkpoint,
    origin: str,
    public_key: str,
    actor: str,
    include_witness_identity: bool,
    cipher: ContactCipher,
    now: datetime,
    include_witness_data: bool = False,
) -> Plan:
    size = checkpoint.size
    subjects = [case.id, *{i.id for i in items}, *{i.submission_id for i in items}]
    entries: list[LogEntry] = [
        e for e in custody.events_about(db, subjects=subjects) if e.seq < size
    ]
    parsed = {e.seq: json.loads(e.event) for e in entries}
    case_events = [e.seq for e in entries if e.subject == case.id]

    planned = [
        _item_plan(
            db,
            item,
            events=[e.seq for e in entries if _belongs(parsed[e.seq], item)],
            copies=_copies(db, item, parsed),
            include_witness_identity=include_witness_identity,
            cipher=cipher,
            include_witness_data=include_witness_data,
        )
        for item in items
    ]
    used = sorted({i for it in planned for i in it.events} | set(case_events))
    actors = {str(parsed[i].get("actor")) for i in used} | {actor}
    return Plan(
        case=_case_plan(case),
        items=planned,
        events=_proven_events(db, entries, used, size),
        case_events=case_events,
        checkpoint_note=checkpoint.note,
        checkpoint_size=size,
        checkpoint_root=checkpoint.root,
        origin=origin,
        public_key=public_key,
        exported_at=custody.rfc3339(now),
        exported_by=actor,
        include_witness_identity=include_witness_identity,
        include_witness_data=include_witness_data,
        actors=_actor_labels(db, actors),
        timestamp=timestamp.of(db, checkpoint=checkpoint),
    )


# --- step 4: the one event -------------------------------------------------------------------


def record(db: Session, *, plan: Plan, manifest: bytes, now: datetime) -> LogEntry:
    """Log the export, after checking again that consent still allows it (a withdrawal may
    have landed while the bundle was written: then nothing is logged and the bundle dropped).
    The check covers the items in the bundle, whatever else the case holds by now."""
    exportable(db, case_id=plan.case.id, only={i.evidence_id for i in plan.items})
    return custody.append(
        db,
        type=EventType.EVIDENCE_EXPORTED,
        actor=plan.exported_by,
        subject=plan.case.id,
        details={
            "case": plan.case.id,
            "format": BUNDLE_FORMAT,
            "items": [
                {"evidence": i.evidence_id, "sha256": i.sha256, "size": i.size} for i in plan.items
            ],
            "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
            "manifest_size": len(manifest),
            "checkpoint_size": plan.checkpoint_size,
            "events": len(plan.events),
            "include_witness_identity": plan.include_witness_identity,
            "include_witness_data": plan.include_witness_data,
        },
        at=now,
    )


def export_proof(db: Session, *, index: int, checkpoint: Checkpoint) -> bytes:
    """The bundle's export proof: the export event `index`, proven against `checkpoint`
    (signed after it), so the manifest is bound to the log by a signature."""
    proof = custody.inclusion(db, index=index, size=checkpoint.size)
    return proof_document(
        checkpoint=checkpoint.note,
        leaf_index=index,
        event=custody.entry(db, seq=index).event.decode("utf-8"),
        proof=[base64.b64encode(h).decode() for h in proof],
    )
