"""Court exports of a case: consent check, one fresh checkpoint, the bundle, one custody event.

The order matters and is the point of this module:

1. every item of the case must carry consent for `prosecution` (else 422 naming each item,
   and nothing is signed, written or logged);
2. a checkpoint is signed, and everything in the bundle is proven against that one checkpoint;
3. the bundle is written to a file (originals streamed and re-hashed as they go);
4. only then is its SHA-256 known, and the `evidence.exported` event records it, with the
   items and whether witness identity was included. Nothing but that event is stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import StaffUser
from portal.clock import as_utc
from portal.custody import service as custody
from portal.custody.actors import Actor, staff_ids
from portal.custody.events import EventType
from portal.custody.models import Checkpoint, LogEntry
from portal.db import transaction
from portal.errors import Gone, Invalid
from portal.evidence.models import Case, CaseLink, Evidence
from portal.evidence.service import get_case
from portal.export.verify import BUNDLE_FORMAT
from portal.runtime import Runtime
from portal.submissions.models import Consent, Submission

COURT_SCOPE = "prosecution"

Progress = Callable[[int, int], None]
"""progress(bytes_done, bytes_total) while originals are copied into the bundle."""


class ConsentScopeMissing(Invalid):
    status, code = 422, "consent_scope"


# --- what goes into a bundle -------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedEvent:
    index: int
    text: str
    """The canonical JSON exactly as the log hashed it."""
    proof: list[bytes]

    @cached_property
    def obj(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.text)
        return parsed


@dataclass(frozen=True)
class ItemPlan:
    evidence_id: str
    submission_id: str
    upload_id: str
    filename: str
    path: str
    size: int
    sha256: str
    media_type: str
    received_at: str
    storage_key: str
    log_index: int
    consent: dict[str, Any]
    events: list[int]
    witness: dict[str, Any] | None = None
    """Decrypted contact details: only when the exporter asked for witness identity."""


@dataclass(frozen=True)
class CasePlan:
    id: str
    title: str
    reference: str | None
    offense: str
    status: str
    created_at: str


@dataclass(frozen=True)
class Plan:
    case: CasePlan
    items: list[ItemPlan]
    events: dict[int, LoggedEvent]
    case_events: list[int]
    checkpoint_note: str
    checkpoint_size: int
    checkpoint_root: bytes
    origin: str
    public_key: str
    exported_at: str
    exported_by: str
    include_witness_identity: bool
    actors: dict[str, str] = field(default_factory=dict)
    """Every actor string in the events, with a name a reader understands."""

    def label(self, actor: str) -> str:
        return self.actors.get(actor, actor)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sha256: str
    size: int
    log_index: int
    items: list[str]


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


def exportable(db: Session, *, case_id: str) -> tuple[Case, list[Evidence]]:
    """The case and its items, or an error naming every item that cannot go to court.

    Reads only: a refusal leaves no trace in the log.
    """
    case = get_case(db, case_id=case_id)
    items = case_items(db, case_id=case_id)
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
    return case, items


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
    cipher: Fernet,
    now: datetime,
) -> Plan:
    size = checkpoint.size
    subjects = [case.id, *{i.id for i in items}, *{i.submission_id for i in items}]
    entries: list[LogEntry] = [
        e for e in custody.events_about(db, subjects=subjects) if e.seq < size
    ]
    parsed = {e.seq: json.loads(e.event) for e in entries}
    case_events = [e.seq for e in entries if e.subject == case.id]

    planned = []
    for item in items:
        consent = latest_consent(db, submission_id=item.submission_id)
        assert consent is not None  # exportable() checked
        witness = None
        if include_witness_identity:
            sub = db.get(Submission, item.submission_id)
            contact: dict[str, Any] = {}
            if sub is not None and sub.contact_encrypted is not None:
                contact = json.loads(cipher.decrypt(sub.contact_encrypted))
            witness = {k: v for k, v in contact.items() if v is not None}
        own = [e.seq for e in entries if _belongs(parsed[e.seq], item)]
        planned.append(
            ItemPlan(
                evidence_id=item.id,
                submission_id=item.submission_id,
                upload_id=item.upload_id,
                filename=item.filename,
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
                events=own,
                witness=witness,
            )
        )
    used = sorted({i for it in planned for i in it.events} | set(case_events))
    text = {e.seq: e.event.decode("utf-8") for e in entries}
    events = {
        i: LoggedEvent(index=i, text=text[i], proof=custody.inclusion(db, index=i, size=size))
        for i in used
    }
    actors = {str(parsed[i].get("actor")) for i in used} | {actor}
    return Plan(
        case=CasePlan(
            id=case.id,
            title=case.title,
            reference=case.reference,
            offense=case.offense,
            status=case.status,
            created_at=custody.rfc3339(as_utc(case.created_at)),
        ),
        items=planned,
        events=events,
        case_events=case_events,
        checkpoint_note=checkpoint.note,
        checkpoint_size=size,
        checkpoint_root=checkpoint.root,
        origin=origin,
        public_key=public_key,
        exported_at=custody.rfc3339(now),
        exported_by=actor,
        include_witness_identity=include_witness_identity,
        actors=_actor_labels(db, actors),
    )


# --- step 4: the one event -------------------------------------------------------------------


def record(
    db: Session, *, plan: Plan, bundle_sha256: str, bundle_size: int, now: datetime
) -> LogEntry:
    """Log the export, after checking again that consent still allows it (a withdrawal may
    have landed while the bundle was written: then nothing is logged and the bundle dropped)."""
    exportable(db, case_id=plan.case.id)
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
            "bundle_sha256": bundle_sha256,
            "bundle_size": bundle_size,
            "checkpoint_size": plan.checkpoint_size,
            "events": len(plan.events),
            "include_witness_identity": plan.include_witness_identity,
        },
        at=now,
    )


# --- all of it -----------------------------------------------------------------------------


def _sha256_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256")
        return digest.hexdigest(), f.tell()


def export_case(
    rt: Runtime,
    *,
    case_id: str,
    actor: str,
    include_witness_identity: bool,
    dest: Path,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the case's court bundle to `dest` and log it; `dest` appears only once logged."""
    from portal.export.bundle import write_bundle

    with rt.sessions() as db:
        exportable(db, case_id=case_id)
    checkpoint = rt.sign_checkpoint()
    with rt.sessions() as db:
        case, items = exportable(db, case_id=case_id)
        the_plan = plan(
            db,
            case=case,
            items=items,
            checkpoint=checkpoint,
            origin=rt.settings.log_origin,
            public_key=rt.log_verifier,
            actor=actor,
            include_witness_identity=include_witness_identity,
            cipher=rt.contact_cipher,
            now=rt.clock(),
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".export-", suffix=".partial", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as out:
            write_bundle(rt, the_plan, out, progress=progress)
            out.flush()
            os.fsync(out.fileno())
        sha, size = _sha256_file(tmp)
        with transaction(rt.sessions) as db:
            entry = record(db, plan=the_plan, bundle_sha256=sha, bundle_size=size, now=rt.clock())
            log_index = entry.seq
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return ExportResult(
        path=dest,
        sha256=sha,
        size=size,
        log_index=log_index,
        items=[i.evidence_id for i in the_plan.items],
    )
