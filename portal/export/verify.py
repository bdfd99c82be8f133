"""Offline verification of a court export bundle, for a judge's expert without the portal.

Built like the receipt verifier (`portal.custody.receipt`): the standard library,
`cryptography`, and the custody log's own `merkle`, `note` and `offline` modules, nothing
else. Bad data never raises: every finding is a line of the report, so the expert sees all
that holds and all that does not.

What is checked:

* the checkpoint is a signed note by the log key (given, or else the one the bundle names,
  with a warning), for the origin the bundle names;
* every custody event is canonical JSON, names its own leaf index, and its inclusion proof
  leads to the checkpoint's root;
* every original's bytes in the zip have the SHA-256 and size the manifest lists, and those
  equal the ones in the item's `upload.completed` event, which the log proves;
* each item's name, with its salt, opens the name commitment in its `upload.completed` event
  (a name erased at the witness's withdrawal is reported as not verified);
* each item's events are about that item (its id, or its submission), and each case event
  about the case;
* each redacted copy (portal.export.redacted) is under `redacted/`, has the bytes listed, and
  its provenance event, proven by the log, names this copy and the original beside it;
* the custody report and the JSON-LD have the hashes the manifest lists, and the zip holds
  nothing the manifest does not list;
* the export proof (`portal.export.proof`): the log's `evidence.exported` event records the
  manifest's SHA-256, so every other manifest field is as the portal exported it. Without it
  those fields are reported as not verified, never as OK.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from portal.custody.merkle import ProofError, leaf_hash, verify_inclusion
from portal.custody.note import Checkpoint
from portal.custody.offline import (
    Report,
    canonical_json,
    check_checkpoint,
    check_name,
    decode_proof,
    natural,
)
from portal.custody.tsa import report_timestamp
from portal.export.derivatives import named
from portal.export.members import Members, check_member
from portal.export.proof import EXPORT_PROOF, MANIFEST, check_export_proof
from portal.export.redacted import check_copies

BUNDLE_FORMAT = "portal-bundle/3"
MAX_MANIFEST = 256 << 20
MAX_PROOF = 1 << 20


@dataclass
class _Event:
    index: int
    obj: dict[str, Any] | None
    proven: bool

    @property
    def label(self) -> str:
        kind = self.obj.get("type") if self.obj else None
        at = self.obj.get("at") if self.obj else None
        return f"event {self.index}" + (f" ({kind} at {at})" if kind else "")


def _new_index(
    report: Report, i: int, entry: Mapping[str, Any], seen: Mapping[int, _Event]
) -> int | None:
    """The leaf index the entry names, unless it is invalid or was listed before."""
    index = natural(entry.get("leaf_index"))
    if index is None:
        report.check(False, f"events[{i}]: leaf index {entry.get('leaf_index')!r} is invalid")
        return None
    if index in seen:
        report.check(False, f"event {index}: listed twice")
        return None
    return index


def _event_bytes(report: Report, ev: _Event, text: object) -> bytes | None:
    """The event's text as bytes, once it is known to be a JSON object (then kept in `ev`)."""
    if not isinstance(text, str):
        report.check(False, f"{ev.label}: event text missing")
        return None
    try:
        data = text.encode("utf-8")
        obj = json.loads(text)
    except (UnicodeEncodeError, ValueError) as e:
        report.check(False, f"{ev.label}: not valid JSON: {e}")
        return None
    if not isinstance(obj, dict):
        report.check(False, f"{ev.label}: not a JSON object")
        return None
    ev.obj = obj
    return data


def _check_event(
    report: Report, ev: _Event, entry: Mapping[str, Any], cp: Checkpoint | None
) -> bool:
    """Whether the event is canonical, names its own index and is proven against `cp`."""
    data = _event_bytes(report, ev, entry.get("event"))
    if data is None or ev.obj is None:
        return False
    obj, index = ev.obj, ev.index
    ok = True
    if canonical_json(obj) != data:
        ok = report.check(False, f"{ev.label}: NOT canonical JSON, so not what the log hashed")
    if obj.get("seq") != index or isinstance(obj.get("seq"), bool):
        ok = report.check(False, f"{ev.label}: names seq {obj.get('seq')!r}, not {index}")
    proof = decode_proof(
        report,
        ev.label,
        entry.get("inclusion_proof"),
        missing="inclusion proof missing or not strings",
    )
    if proof is None or cp is None:
        return False
    try:
        verify_inclusion(leaf_hash(data), index, cp.size, proof, cp.root)
    except ProofError as e:
        return report.check(False, f"{ev.label}: inclusion proof FAILED: {e}")
    return ok


def _events(report: Report, raw: object, cp: Checkpoint | None) -> dict[int, _Event]:
    out: dict[int, _Event] = {}
    if not isinstance(raw, list):
        report.check(False, "manifest: events missing or not a list")
        return out
    proven = 0
    for i, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            report.check(False, f"events[{i}]: not an object")
            continue
        index = _new_index(report, i, entry, out)
        if index is None:
            continue
        ev = out[index] = _Event(index, None, False)
        ev.proven = _check_event(report, ev, entry, cp)
        proven += ev.proven
    if out and proven == len(out) and report.checkpoint_verified:
        report.check(
            True,
            f"events: all {len(out)} custody events are canonical and proven in the log by "
            "inclusion proofs against the checkpoint",
        )
    elif out and proven == len(out):
        report.not_verified("events", "proven only against a checkpoint that did not verify")
    return out


def _check_upload(
    report: Report, label: str, entry: Mapping[str, Any], upload: _Event | None, index: int | None
) -> None:
    """The log binds the bytes: the item's upload.completed event names their hash and size."""
    sha, size, submission = entry.get("sha256"), entry.get("size"), entry.get("submission")
    if upload is None or upload.obj is None:
        report.check(False, f"{label}: its upload.completed event {index!r} is not in the bundle")
        return
    details = upload.obj.get("details")
    details = details if isinstance(details, Mapping) else {}
    binds = (
        upload.obj.get("type") == "upload.completed"
        and upload.obj.get("subject") == submission
        and details.get("sha256") == sha
        and details.get("size") == size
        and type(details.get("size")) is type(size)
    )
    report.check(
        binds and upload.proven,
        f"{label}: SHA-256 and size equal those of its upload.completed {upload.label}"
        + ("" if upload.proven else ", but that event is NOT proven")
        if binds
        else f"{label}: {upload.label} is not the upload.completed event of a file with "
        f"SHA-256 {sha} and size {size} in submission {submission}",
    )


def _check_history(
    report: Report,
    label: str,
    entry: Mapping[str, Any],
    events: Mapping[int, _Event],
    index: int | None,
) -> None:
    """The item's events are in the bundle, about the item or its submission, and hold its
    own upload.completed event."""
    item_id, sha, submission = (
        entry.get("evidence_id"),
        entry.get("sha256"),
        entry.get("submission"),
    )
    listed = entry.get("events")
    if not isinstance(listed, list):
        report.check(False, f"{label}: its list of events is missing")
        listed = []
    wrong = []
    for n in listed:
        ev = events.get(n) if isinstance(n, int) else None
        if ev is None:
            wrong.append(f"{n!r} is not in the bundle")
        elif ev.obj is not None and ev.obj.get("subject") not in (item_id, submission):
            wrong.append(f"{ev.label} is about {ev.obj.get('subject')!r}")
        elif ev.obj is not None and ev.obj.get("type") == "evidence.received":
            d = ev.obj.get("details")
            if not isinstance(d, Mapping) or d.get("sha256") != sha:
                wrong.append(f"{ev.label} names another SHA-256")
    if index is not None and index not in listed:
        wrong.append(f"its upload.completed event {index} is not in its own history")
    report.check(
        not wrong,
        f"{label}: {len(listed)} custody events, each about this item or its submission"
        if not wrong
        else f"{label}: custody history is inconsistent: " + "; ".join(wrong),
    )


def _check_derivatives(
    report: Report, label: str, entry: Mapping[str, Any], events: Mapping[int, _Event]
) -> None:
    """The copies listed as made from this original are exactly those its proven events
    record, and none is in the bundle as evidence (bundles from before the list say nothing)."""
    if "derivatives" not in entry:
        return
    listed = entry.get("events")
    mine = [(n, events[n].obj) for n in (listed if isinstance(listed, list) else []) if n in events]
    expected = named(mine, str(entry.get("sha256")))
    ok = entry["derivatives"] == expected
    report.check(
        ok,
        f"{label}: {len(expected)} derived copies (review copy, poster) named as copies of "
        "this original, each proven by its evidence.derived event; only the original is "
        "in the bundle"
        if ok
        else f"{label}: its list of derived copies does not match its proven events",
    )


def _check_item(
    report: Report,
    i: int,
    entry: object,
    events: Mapping[int, _Event],
    members: Members,
) -> None:
    if not isinstance(entry, Mapping):
        report.check(False, f"files[{i}]: not an object")
        return
    name, item_id = entry.get("name"), entry.get("evidence_id")
    label = f"file {name!r} (item {item_id})" if isinstance(name, str) else f"files[{i}]"
    index = natural(entry.get("leaf_index"))
    upload = events.get(index) if index is not None else None
    _check_upload(report, label, entry, upload, index)
    proven = upload is not None and upload.proven and upload.obj is not None
    check_name(report, label, entry, upload.obj if proven and upload is not None else None)
    _check_history(report, label, entry, events, index)
    _check_derivatives(report, label, entry, events)
    check_member(report, members, label, entry.get("path"), entry.get("sha256"), entry.get("size"))
    check_copies(report, label, entry, events, members)


def _check_case_events(
    report: Report, manifest: Mapping[str, Any], events: Mapping[int, _Event]
) -> None:
    case = manifest.get("case")
    case_id = case.get("id") if isinstance(case, Mapping) else None
    case_events = manifest.get("case_events", [])
    bad = [
        str(n)
        for n in (case_events if isinstance(case_events, list) else [None])
        if not isinstance(n, int)
        or n not in events
        or (events[n].obj or {}).get("subject") != case_id
    ]
    report.check(
        not bad,
        f"case {case_id}: {len(case_events)} case events, each about the case"
        if not bad
        else f"case {case_id}: case events not in the bundle or not about the case: "
        + ", ".join(bad),
    )


def _check_documents(report: Report, docs: object, members: Members) -> None:
    for i, doc in enumerate(docs if isinstance(docs, list) else []):
        if not isinstance(doc, Mapping):
            report.check(False, f"documents[{i}]: not an object")
            continue
        label = f"document {doc.get('path')!r}"
        sha, size = doc.get("sha256"), doc.get("size")
        check_member(report, members, label, doc.get("path"), sha, size)
    if docs is not None and not isinstance(docs, list):
        report.check(False, f"{MANIFEST}: documents is not a list")


def _check_manifest(
    report: Report,
    manifest: Mapping[str, Any],
    members: Members,
    verifier_key: str | None,
    tsa_roots: Sequence[x509.Certificate] | None,
) -> None:
    fmt = manifest.get("format")
    report.check(
        fmt == BUNDLE_FORMAT,
        f"bundle format {fmt!r}" + ("" if fmt == BUNDLE_FORMAT else f", not {BUNDLE_FORMAT!r}"),
    )
    cp = check_checkpoint(report, manifest, verifier_key, kind="bundle")
    note_text = manifest.get("checkpoint")
    report_timestamp(
        report,
        manifest.get("timestamp"),
        note_text if isinstance(note_text, str) and cp is not None else None,
        tsa_roots,
    )
    events = _events(report, manifest.get("events"), cp)

    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        report.check(False, f"{MANIFEST}: lists no files")
        files = []
    for i, entry in enumerate(files):
        _check_item(report, i, entry, events, members)

    _check_case_events(report, manifest, events)
    _check_documents(report, manifest.get("documents"), members)

    unlisted = sorted(set(members.infos) - members.listed - {EXPORT_PROOF})
    report.check(
        not unlisted,
        f"zip: holds exactly the members the manifest lists, and {EXPORT_PROOF}"
        if not unlisted
        else "zip: holds members the manifest does not list: " + ", ".join(unlisted),
    )


def _open_bundle(report: Report, path: Path) -> tuple[zipfile.ZipFile, str, int] | None:
    """The open zip, with the SHA-256 and size of the whole bundle file."""
    try:
        with path.open("rb") as f:
            bundle_sha = hashlib.file_digest(f, "sha256").hexdigest()
            bundle_size = f.tell()
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        report.check(False, f"bundle {path.name}: not a readable zip file: {e}")
        return None
    return zf, bundle_sha, bundle_size


def _read_manifest(report: Report, members: Members) -> tuple[dict[str, Any], bytes] | None:
    raw = members.read(MANIFEST, MAX_MANIFEST)
    if isinstance(raw, str):
        report.check(False, f"{MANIFEST} {raw}")
        return None
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        report.check(False, f"{MANIFEST}: not readable JSON: {e}")
        return None
    if not isinstance(manifest, dict):
        report.check(False, f"{MANIFEST}: not a JSON object")
        return None
    return manifest, raw


def verify_bundle(
    path: Path | str,
    verifier_key: str | None = None,
    tsa_roots: Sequence[x509.Certificate] | None = None,
) -> Report:
    """Check an export bundle offline; `verifier_key` is the log's public key from a trusted
    source (without it the key named in the bundle is used, and the report says so);
    `tsa_roots` the TSA certificates trusted for the checkpoint's timestamp."""
    report = Report()
    path = Path(path)
    opened = _open_bundle(report, path)
    if opened is None:
        return report
    zf, bundle_sha, bundle_size = opened
    with zf:
        members = Members(zf)
        for dupe in sorted(members.dupes):
            report.check(False, f"zip: {dupe} appears more than once")
        read = _read_manifest(report, members)
        if read is None:
            return report
        manifest, raw = read
        _check_manifest(report, manifest, members, verifier_key, tsa_roots)
        proof = members.read(EXPORT_PROOF, MAX_PROOF)
        check_export_proof(report, proof, manifest, raw, verifier_key)
    report.warnings.append(
        "the custody report (PDF) and the JSON-LD are summaries made at export time: they are "
        "checked against the manifest, not against the log; the originals and the events are "
        "what the log proves"
    )
    # The proof of the export is inside the zip, so the log records the manifest's hash, which
    # covers every member, and cannot record the hash of the zip file itself.
    report.warnings.append(
        f"bundle file SHA-256 {bundle_sha} ({bundle_size} bytes), computed here: the log "
        f"records the SHA-256 of {MANIFEST}, not of the zip file"
    )
    return report


__all__ = ["BUNDLE_FORMAT", "MANIFEST", "verify_bundle"]
