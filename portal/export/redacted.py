"""Redacted copies in a court bundle: marked as copies, never taken for originals.

A copy sits under `redacted/`, apart from `originals/`, and its manifest entry names the
custody event that records its provenance. The offline verifier (portal.export.verify) checks
that this event is one the log proves, that it is the `evidence.derived` event of this copy
(same SHA-256 and size), and that the provenance's source SHA-256 is the original listed
beside it in the bundle, whose own bytes the verifier checks against the log. Like the rest
of the verifier: the standard library and the log's own modules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from portal.custody.offline import Report, natural
from portal.export.members import Members, check_member

MARKING = "REDACTED COPY: not the original; made from the original named by source_sha256"


class _Event(Protocol):
    index: int
    obj: dict[str, Any] | None
    proven: bool


def manifest_entry(copy: Any) -> dict[str, Any]:
    """A copy's entry in its item's `redacted_copies` (portal.export.plan.CopyPlan)."""
    return {
        "marking": MARKING,
        "redaction": copy.redaction_id,
        "path": copy.path,
        "sha256": copy.sha256,
        "size": copy.size,
        "media_type": copy.media_type,
        "source_sha256": copy.source_sha256,
        "provenance_event": copy.provenance_event,
    }


def check_copies(
    report: Report,
    label: str,
    entry: Mapping[str, Any],
    events: Mapping[int, _Event],
    members: Members,
) -> None:
    copies = entry.get("redacted_copies", [])
    if not isinstance(copies, list):
        report.check(False, f"{label}: redacted_copies is not a list")
        return
    for n, copy in enumerate(copies):
        if not isinstance(copy, Mapping):
            report.check(False, f"{label}: redacted_copies[{n}] is not an object")
            continue
        name = f"{label}, redacted copy {copy.get('path')!r}"
        path = copy.get("path")
        if not (isinstance(path, str) and path.startswith("redacted/")):
            report.check(False, f"{name}: not under redacted/, where copies are kept apart")
        check_member(report, members, name, path, copy.get("sha256"), copy.get("size"))
        _check_provenance(report, name, entry, copy, events)


def _check_provenance(
    report: Report,
    name: str,
    entry: Mapping[str, Any],
    copy: Mapping[str, Any],
    events: Mapping[int, _Event],
) -> None:
    index = natural(copy.get("provenance_event"))
    event = events.get(index) if index is not None else None
    listed = entry.get("events")
    if event is None or event.obj is None or not isinstance(listed, list) or index not in listed:
        report.check(False, f"{name}: its provenance event {index!r} is not in the item's history")
        return
    details = event.obj.get("details")
    record = details.get("redaction") if isinstance(details, Mapping) else None
    output = record.get("output") if isinstance(record, Mapping) else None
    binds = (
        event.obj.get("type") == "evidence.derived"
        and event.obj.get("subject") == entry.get("evidence_id")
        and isinstance(record, Mapping)
        and isinstance(output, Mapping)
        and output.get("sha256") == copy.get("sha256")
        and output.get("size") == copy.get("size")
    )
    if not binds:
        report.check(False, f"{name}: event {index} is not the provenance of this copy")
        return
    assert isinstance(record, Mapping)
    source = record.get("source_sha256")
    same = source == entry.get("sha256") == copy.get("source_sha256")
    report.check(
        same and event.proven,
        f"{name}: made from the original {source} beside it, as its provenance in the "
        f"proven event {index} records (operations, tool, who asked and approved)"
        + ("" if event.proven else ", but that event is NOT proven")
        if same
        else f"{name}: its provenance names the source {source}, not this original "
        f"{entry.get('sha256')}",
    )
