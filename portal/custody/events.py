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
