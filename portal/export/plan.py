"""What a court bundle holds, decided before a byte is written: the plan of an export."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

WITNESS_DATA_FIELDS = (
    "incident.place",
    "incident.description",
    "device.location",
    "device.make",
    "device.model",
    "device.raw_tags",
)
"""What the witness wrote of the incident and what the file's metadata names of place and
device: sealed at rest, in a bundle only when a supervisor asks (`include_witness_data`)."""

Progress = Callable[[int, int], None]
"""progress(bytes_done, bytes_total) while originals are copied into the bundle."""


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
class CopyPlan:
    """A rendered redacted copy of an item (portal.redactions), exported as a marked copy."""

    redaction_id: str
    path: str
    storage_key: str
    size: int
    sha256: str
    media_type: str
    source_sha256: str
    provenance_event: int
    """The `evidence.derived` event whose details hold the copy's provenance record."""


@dataclass(frozen=True)
class ItemPlan:
    evidence_id: str
    submission_id: str
    upload_id: str
    filename: str
    name_salt: str | None
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
    copies: list[CopyPlan] = field(default_factory=list)
    witness_data: dict[str, Any] | None = None
    """{"incident": {place, description}, "device": {location, make, model, raw_tags}},
    opened from their seal: only when the exporter asked for witness data."""


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
    timestamp: dict[str, Any] | None = None
    """The checkpoint's RFC 3161 token (portal.custody.tsa.document), if the TSA answered."""
    language: str = "en"
    """The custody report's language (`en` or `es`)."""
    include_witness_data: bool = False

    @property
    def withheld(self) -> list[str]:
        """The fields about the witness this bundle leaves out (the manifest, the PDF and
        the JSON-LD each say so). The originals are whole whatever this says."""
        return [*([] if self.include_witness_identity else ["witness.contact"]),
                *([] if self.include_witness_data else list(WITNESS_DATA_FIELDS))]  # fmt: skip

    def label(self, actor: str) -> str:
        return self.actors.get(actor, actor)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sha256: str
    size: int
    log_index: int
    items: list[str]
