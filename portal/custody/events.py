"""Every custody event type, named `noun.verb`. Later features add theirs here."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    CONSENT_GIVEN = "consent.given"
    """A witness accepted a consent version and scopes (fires with submission.created)."""
    SUBMISSION_CREATED = "submission.created"
    """A witness opened a submission; its token was issued."""
    UPLOAD_CREATED = "upload.created"
    """A tus upload was created for a submission."""
    UPLOAD_COMPLETED = "upload.completed"
    """The last byte arrived; details carry the file's SHA-256 and size."""
    UPLOAD_TERMINATED = "upload.terminated"
    """An unfinished upload was cancelled by the witness or refused (media type)."""
    EVIDENCE_RECEIVED = "evidence.received"
    """The original reached its write-once, content-addressed home."""
    LOG_CHECKPOINT_SIGNED = "log.checkpoint_signed"
    """A checkpoint of the log was signed."""
    LOG_ITEM_RECOVERED = "log.item_recovered"
    """`custody recover` rebuilt a submission's or an item's row, lost with a restore, from
    the logged events named in details (kind, from_entries)."""
    STAFF_CREATED = "staff.created"
    """A staff account was created (by the CLI, an admin, or a supervisor)."""
    STAFF_ROLE_CHANGED = "staff.role_changed"
    """A staff account's role changed (details: name, from, to; `from` is null when a pending
    account was confirmed). Granting supervisor or admin needs a confirmed change request."""
    STAFF_DISABLED = "staff.disabled"
    """A staff account was disabled and its sessions ended."""
    STAFF_LOGIN = "staff.login"
    """A staff member logged in; a session was opened."""
    STAFF_LOGIN_FAILED = "staff.login_failed"
    """A login was refused (unknown account, bad password, locked, disabled)."""
    STAFF_LOGOUT = "staff.logout"
    """A staff session was ended by its owner."""
    STAFF_SESSIONS_ENDED = "staff.sessions_ended"
    """Sessions of a staff member were ended by them or by an admin (details: the sessions'
    public ids); they stop working on every instance at their next request."""
    STAFF_SECOND_FACTOR_ENROLLED = "staff.second_factor_enrolled"
    """A staff member's TOTP second factor came into force (its first code matched)."""
    STAFF_SECOND_FACTOR_FAILED = "staff.second_factor_failed"
    """A right password came with a wrong, replayed or missing second-factor code (or a
    wrong first code at enrolment); counted toward the account's login throttling."""
    STAFF_PASSKEY_REMOVED = "staff.passkey_removed"
    """Passkeys were removed: one by its owner, or all of an account's by a reset a second
    admin confirmed (details name the change request)."""
    STAFF_SECOND_FACTOR_RESET = "staff.second_factor_reset"
    """An account's second factor and recovery codes were removed, confirmed by a second
    admin (details name the change request); its sessions were ended."""
    STAFF_IDENTITY_LINKED = "staff.identity_linked"
    """A staff account was bound to its identity at an OpenID provider (details: issuer,
    subject) at its first single sign-on; sign-ins through it log `staff.login` with
    `method: oidc`, refusals `staff.login_failed` with the reason."""
    EVIDENCE_LISTED = "evidence.listed"
    """A staff member listed the queue or a case; details name every item shown."""
    EVIDENCE_VIEWED = "evidence.viewed"
    """A staff member opened an item's detail and metadata."""
    EVIDENCE_THUMBNAIL_VIEWED = "evidence.thumbnail_viewed"
    """A staff member fetched an item's poster thumbnail."""
    EVIDENCE_PROXY_VIEWED = "evidence.proxy_viewed"
    """A playback of an item's review copy (playback proxy) began: logged before its first
    byte is sent; details name the copy and its original."""
    EVIDENCE_STREAM_OPENED = "evidence.stream_opened"
    """A playback of an original began (by staff, or by a share's recipient, whose actor is
    `share:<id>`): logged before its first byte is sent."""
    EVIDENCE_STREAMED = "evidence.streamed"
    """A playback (of the original or its review copy) ended; details name the bytes played
    and fold every byte range it served."""
    EVIDENCE_DOWNLOADED = "evidence.downloaded"
    """The whole original was sent as a download (checked against its SHA-256 as it went)."""
    EVIDENCE_TRIAGED = "evidence.triaged"
    """An item was accepted or declined, with a reason."""
    EVIDENCE_LINKED = "evidence.linked"
    """An item was linked to a case."""
    EVIDENCE_UNLINKED = "evidence.unlinked"
    """An item was unlinked from a case."""
    EVIDENCE_DERIVED = "evidence.derived"
    """The system read an original to extract metadata and make a thumbnail."""
    EVIDENCE_TIMELINE_VIEWED = "evidence.timeline_viewed"
    """Someone read an item's custody timeline."""
    CASE_CREATED = "case.created"
    """A case was opened."""
    WITNESS_CONTACT_VIEWED = "witness.contact_viewed"
    """A staff member decrypted a witness's contact details."""
    WITNESS_INCIDENT_VIEWED = "witness.incident_viewed"
    """A staff member decrypted what the witness said of the incident (place, description)
    and what the file's metadata says of place and device (GPS, make, model, tags)."""
    WITNESS_DATA_SEALED = "witness.data_sealed"
    """Incident text and device metadata stored in the clear by an older version were sealed
    under the contact key (details: how many submissions and items)."""
    EVIDENCE_INTEGRITY_FAILED = "evidence.integrity_failed"
    """Stored bytes were found not to match their recorded SHA-256."""
    CONSENT_WITHDRAWN = "consent.withdrawn"
    """A witness withdrew consent for their submission."""
    SUBMISSION_NAMES_ERASED = "submission.names_erased"
    """At a withdrawal, the file names and the salts of their commitments were erased from the
    database (details count the rows); the log's commitments stay and can no longer be opened."""
    POLICY_CHANGED = "policy.changed"
    """A supervisor changed a retention category's rule; details hold old and new."""
    RETENTION_CHANGED = "retention.changed"
    """An item's retention category or retain-until date changed; old, new and why."""
    RETENTION_OVERRIDDEN = "retention.overridden"
    """A supervisor set or removed an item's retention override."""
    HOLD_PLACED = "hold.placed"
    """A legal hold was placed on an item."""
    HOLD_RELEASED = "hold.released"
    """A legal hold was released."""
    DISPOSITION_APPROVED = "disposition.approved"
    """A supervisor approved destroying a due item."""
    EVIDENCE_PURGE_STARTED = "evidence.purge_started"
    """Destruction of an item is about to begin: committed before any byte is deleted, it
    names the decision taken from the log (category, retain-until and the `retention.changed`
    that set it, the approval events, approvals required)."""
    EVIDENCE_PURGE_HALTED = "evidence.purge_halted"
    """An item marked for destruction was put back under its rules instead: the decision read
    from the log did not hold (a database edit), or storage refused the delete; details say
    why."""
    EVIDENCE_PURGED = "evidence.purged"
    """An original and its derivatives were destroyed; a tombstone remains."""
    WITNESS_DETAILS_ERASED = "witness.details_erased"
    """A withdrawn submission's last file was destroyed, and its contact details with it."""
    CASE_CLOSED = "case.closed"
    """A case was closed (its evidence's retention follows the offense class)."""
    CASE_REOPENED = "case.reopened"
    """A closed case was reopened."""
    EVIDENCE_EXPORTED = "evidence.exported"
    """Items were exported in a court bundle; details list them, the SHA-256 of its manifest
    (which names every other member's hash), and whether witness identity was included."""
    LOG_VERIFIED = "log.verified"
    """The whole log was audited (and, with content, every original re-read and re-hashed)."""
    STORAGE_ORPHAN_REMOVED = "storage.orphan_removed"
    """`portal storage reconcile --repair` is removing an object or partial that no database
    row claims (key, kind, size, SHA-256 for originals). Committed just before the delete, so a
    crash leaves the intent on record and the next run finds the object again."""
    STORAGE_ORPHAN_KEPT = "storage.orphan_kept"
    """The delete announced by a `storage.orphan_removed` (`removal`, its seq) did not happen:
    Object Lock or a legal hold refused it, or storage failed; the object is still there."""
    CHANGE_REQUESTED = "change.requested"
    """Someone asked to weaken a rule that protects evidence (lower a category's approvals or
    shorten its keep, downgrade a case's offence, grant the supervisor or admin role); nothing
    changes until a second person confirms. Details: kind, target, old, new."""
    CHANGE_CONFIRMED = "change.confirmed"
    """A second, different person confirmed a change request; the change took effect in the
    same transaction."""
    CHANGE_WITHDRAWN = "change.withdrawn"
    """The author withdrew their pending change request."""
    CHANGE_EXPIRED = "change.expired"
    """A change request stayed unconfirmed past CHANGE_REQUEST_TTL and lapsed unapplied."""
    REQUEST_CREATED = "request.created"
    """An investigator or supervisor created an evidence request (public, or a one-time link
    for one person); details: kind, case, and for a public one its code. Never a recipient's
    name or phone."""
    REQUEST_PUBLISHED = "request.published"
    """A request's text went public; details carry the SHA-256 of exactly what is shown."""
    REQUEST_EDITED = "request.edited"
    """A request's published text changed; details: the SHA-256 before and after."""
    REQUEST_CLOSED = "request.closed"
    """A request stopped taking new submissions (uploads already started may finish)."""
    REQUEST_REVOKED = "request.revoked"
    """A request was withdrawn (e.g. a one-time link given to the wrong person)."""
    REQUEST_ANSWERED = "request.answered"
    """A witness opened a submission through a request; the submission is bound to it."""
    RETENTION_DUE_LISTED = "retention.due_listed"
    """A staff member listed the items due for destruction; details name every item shown."""
    RETENTION_FORECAST_LISTED = "retention.forecast_listed"
    """A staff member listed the items coming due; details give the days and every item."""
    LOG_ENTRIES_READ = "log.entries_read"
    """An auditor read a range of raw log entries; details give the range returned."""
    LOG_ACCESS_REPORT_READ = "log.access_report_read"
    """An auditor took an access report (of a staff member or an item over a period); details
    name whom or what, the period, the number of lines and the form (page, CSV, PDF)."""
    BACKUP_TAKEN = "backup.taken"
    """`portal backup` copied the database, every original and the keys out of the portal;
    details: the manifest's SHA-256, how many files, the log size the copy holds."""
    KEY_CONTACT_ROTATED = "key.contact_rotated"
    """Every witness's contact details were re-encrypted under a new contact key (details: the
    new key's id, how many records this run re-encrypted and how many already used it)."""
    KEY_CONTACT_RETIRED = "key.contact_retired"
    """The old contact keys were removed from the key file, after every record was checked to
    open with the new key alone (details: the kept key's id, how many keys were removed)."""
    KEY_LOG_ROTATED = "key.log_rotated"
    """The log signing key is being replaced (details: the old and the new verifier key). The
    checkpoint signed in the same transaction covers this event and carries both keys'
    signatures: the transition through which verifiers move to the new key."""
    REDACTION_REQUESTED = "redaction.requested"
    """Staff defined a redaction of an item's video (details: the redaction's id, the
    original's SHA-256, its purpose and every operation with its parameters)."""
    REDACTION_APPROVED = "redaction.approved"
    """A second member of staff approved a redaction; its copy is rendered by a job and
    logged as `evidence.derived` with the whole provenance record."""
    REDACTION_VIEWED = "redaction.viewed"
    """A redaction's record, preview still or rendered copy was shown, or an item's
    redactions were listed (details: which)."""
    REDACTION_RELEASED = "redaction.released"
    """A rendered redacted copy was released to the public, after two people agreed (only for
    items whose witness consented to `public_appeal`)."""
    SHARE_CREATED = "share.created"
    """A supervisor shared a case or chosen items with a named outsider (details: recipient,
    items, case, expiry, download, watermark, witness identity); a one-time code was issued."""
    SHARE_REVOKED = "share.revoked"
    """A supervisor ended a share; its link and any open session stop at their next request."""
    SHARE_SIGNED_IN = "share.signed_in"
    """A share's recipient spent the one-time code and opened a session."""
    SHARE_SIGN_IN_FAILED = "share.sign_in_failed"
    """A wrong, spent or throttled code was offered for a share; counted toward its wait."""
    SHARE_LISTED = "share.listed"
    """A share's recipient listed the shared items; details name every item shown."""
    SHARE_DOWNLOADED = "share.downloaded"
    """A share's recipient was sent the whole original (checked against its SHA-256)."""
