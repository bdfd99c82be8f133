"""audit_log_and_content against a log written by real uploads, then tampered with by raw SQL.

Each tampering is what someone with write access to the database file could do; each must
make the audit fail and name the problem, the earliest first.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from portal.app import build_runtime
from portal.config import Settings
from portal.custody import merkle
from portal.custody.audit import entries, worker
from portal.custody.audit.findings import SHOWN_PER_KIND
from portal.custody.audit.tree import RecomputedTree
from portal.custody.merkle import CompactRange, ProofError, leaf_hash, verify_inclusion
from portal.custody.note import generate_signer, verifier_from_signer
from portal.custody.offline import Report, canonical_json
from portal.custody.receipt import verify_receipt
from portal.flows.content_audit import audit_log_and_content
from portal.runtime import Runtime
from tests.support.custody import drop_append_only_guards

pytestmark = pytest.mark.both_backends

TUS = {"Tus-Resumable": "1.0.0"}
OCTET = "application/offset+octet-stream"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(255, -1, -1)) * 8


@dataclass
class Log:
    """A portal after one submission with three received files, each followed by its
    checkpoint. Tests read sequence numbers from the log: other features add events."""

    client: TestClient
    rt: Runtime
    submission: str
    auth: dict[str, str]

    def sql(self, statement: str, **params: Any) -> None:
        with self.rt.engine.begin() as conn:
            drop_append_only_guards(conn)  # the database refuses otherwise
            conn.execute(text(statement), params)

    def rows(self, statement: str, **params: Any) -> list[Any]:
        with self.rt.engine.connect() as conn:
            return list(conn.execute(text(statement), params))

    def event(self, seq: int) -> dict[str, Any]:
        [(data,)] = self.rows("SELECT event FROM log_entries WHERE seq = :s", s=seq)
        event: dict[str, Any] = json.loads(data)
        return event

    def seq_of(self, type: str, nth: int = 0) -> int:
        seqs: list[int] = [
            s for (s,) in self.rows("SELECT seq FROM log_entries WHERE type = :t", t=type)
        ]
        return sorted(seqs)[nth]

    def write_event(self, seq: int, event: dict[str, Any] | bytes, *, rehash: bool) -> None:
        data = event if isinstance(event, bytes) else canonical_json(event)
        if rehash:
            self.sql(
                "UPDATE log_entries SET event = :e, leaf_hash = :h WHERE seq = :s",
                e=data,
                h=leaf_hash(data),
                s=seq,
            )
        else:
            self.sql("UPDATE log_entries SET event = :e WHERE seq = :s", e=data, s=seq)

    def size(self) -> int:
        [(size,)] = self.rows("SELECT size FROM log_head WHERE id = 1")
        return int(size)

    def checkpoint_sizes(self) -> list[int]:
        return [s for (s,) in self.rows("SELECT size FROM log_checkpoints ORDER BY size")]

    def checkpoint_after(self, seq: int) -> int:
        """Size of the first checkpoint that covers entry `seq`."""
        return min(size for size in self.checkpoint_sizes() if size > seq)


def upload(client: TestClient, auth: dict[str, str], data: bytes, name: str) -> None:
    """A raw tus upload: creation, then the bytes in two PATCHes."""
    meta = base64.b64encode(name.encode()).decode()
    r = client.post(
        "/api/v1/uploads",
        headers={
            **TUS,
            **auth,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": f"filename {meta}",
        },
    )
    assert r.status_code == 201, r.text
    url = r.headers["Location"]
    half = len(data) // 2
    for start, chunk in ((0, data[:half]), (half, data[half:])):
        r = client.patch(
            url,
            content=chunk,
            headers={**TUS, **auth, "Upload-Offset": str(start), "Content-Type": OCTET},
        )
        assert r.status_code == 204, r.text


@pytest.fixture
def log(client: TestClient, witness: tuple[str, dict[str, str]], video: Path) -> Log:
    sub_id, auth = witness
    for data, name in ((video.read_bytes(), "balcony.mp4"), (JPEG, "a.jpg"), (PNG, "b.png")):
        upload(client, auth, data, name)
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    assert isinstance(rt, Runtime)
    rt.checkpoints.drain(30)  # the last files' checkpoint round, so the log is at rest
    return Log(client, rt, sub_id, auth)


def audit(log: Log, *, check_content: bool = True, **kw: Any) -> Report:
    with log.rt.sessions() as db:
        args: dict[str, Any] = {
            "verifier_key": log.rt.log_verifier,
            "origin": log.rt.settings.log_origin,
            "check_content": check_content,
            **kw,
        }
        return audit_log_and_content(db, log.rt.storage, **args)


def failures(report: Report) -> list[str]:
    return [message for passed, message in report.checks if not passed]


def assert_fails(report: Report, first: str, *also: str) -> None:
    """The report fails, its first failure contains `first`, and some failure each of `also`."""
    found = failures(report)
    assert not report.ok and found, report.text()
    assert first in found[0], report.text()
    for part in also:
        assert any(part in line for line in found), f"no failure names {part!r}:\n{report.text()}"


# --- the clean log ----------------------------------------------------------------------------


def test_a_log_written_by_real_uploads_verifies(log: Log) -> None:
    seen: list[tuple[str, int, int]] = []
    report = audit(log, progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert report.ok, report.text()
    n, sizes = log.size(), log.checkpoint_sizes()
    # One at start, then one as each receipt is given and one after its media work.
    assert len(sizes) >= 4 and sizes[0] == 0 and sizes[-1] == n - 1
    lines = report.text()
    assert f"entries: {n} entries, seq 0..{n - 1} without gaps" in lines
    assert f"tree: all {2 * n - n.bit_count()} stored nodes match" in lines
    assert f"checkpoints: {len(sizes)} (sizes 0..{n - 1})" in lines
    assert f"{len(sizes) - 2} consistency proofs" in lines  # none from the empty tree
    assert "content: 3 originals" in lines
    assert report.checkpoint_verified
    assert {phase for phase, _, _ in seen} == {"entries", "checkpoints", "content"}
    assert ("entries", n, n) in seen
    total = sum(size for (size,) in log.rows("SELECT size FROM evidence"))
    assert [(d, t) for p, d, t in seen if p == "content"][-1] == (total, total)


def test_an_empty_log_verifies_and_says_so(tmp_path: Path) -> None:
    rt = build_runtime(Settings(data_dir=tmp_path / "data"))
    try:
        with rt.sessions() as db:
            report = audit_log_and_content(
                db, rt.storage, verifier_key=rt.log_verifier, origin=rt.settings.log_origin
            )
        assert report.ok, report.text()
        assert "entries: the log is empty" in report.text()
        assert "no checkpoint has been signed" in report.text()
    finally:
        rt.engine.dispose()


def test_small_batches_cross_every_boundary(log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    for batch in (1, 2, 3, 4, 8):
        monkeypatch.setattr(entries, "BATCH", batch)
        report = audit(log, check_content=False)
        assert report.ok, f"BATCH={batch}\n{report.text()}"


@pytest.fixture
def tampered_json(log: Log) -> Log:
    seq = log.seq_of("upload.created")
    log.write_event(seq, json.dumps(log.event(seq), indent=1).encode(), rehash=True)
    log.sql("UPDATE log_entries SET type = 'x' WHERE seq = :s", s=log.seq_of("upload.created", 1))
    return log


def in_parent_only(*batch: Any) -> Any:
    raise AssertionError("the parent checked events that the worker should have")


def test_a_worker_process_checks_the_events_of_a_large_log(
    tampered_json: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same findings in the same order, whoever checks the JSON, in whatever batches."""
    log = tampered_json
    in_process = audit(log, check_content=False)
    assert not in_process.ok
    monkeypatch.setattr(entries, "BATCH", 4)
    assert audit(log, check_content=False).text() == in_process.text()
    monkeypatch.setattr(worker, "PARALLEL_FROM", 0)
    monkeypatch.setattr(worker, "usable_cpus", lambda: 2)
    monkeypatch.setattr(worker, "check_events", in_parent_only)
    assert audit(log, check_content=False).text() == in_process.text()


@pytest.mark.parametrize("failure", ["cannot start", "dies"])
def test_without_a_worker_the_events_are_checked_here(
    tampered_json: Log, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, failure: str
) -> None:
    log = tampered_json
    in_process = audit(log, check_content=False)
    monkeypatch.setattr(entries, "BATCH", 4)
    monkeypatch.setattr(worker, "PARALLEL_FROM", 0)
    monkeypatch.setattr(worker, "usable_cpus", lambda: 2)
    if failure == "cannot start":
        monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    else:
        monkeypatch.setattr(worker, "WORKER_CODE", "import sys; sys.stdin.read(9); sys.exit(3)")
    assert audit(log, check_content=False).text() == in_process.text()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 64, 100, 257])
def test_tree_recomputation_matches_the_append_path(size: int) -> None:
    rng = random.Random(size)
    leaves = [hashlib.sha256(i.to_bytes(2, "big")).digest() for i in range(size)]
    stored: dict[merkle.NodeId, bytes] = {}
    for i, leaf in enumerate(leaves):
        siblings = {k: stored[k] for k in merkle.siblings_needed_for_append(i)}
        stored.update({(lv, ix): h for lv, ix, h in merkle.nodes_for_append(i, leaf, siblings)})
    tree = RecomputedTree()
    computed: dict[merkle.NodeId, bytes] = {}
    start = 0
    while start < size:
        stop = min(size, start + rng.randint(1, 9))
        for level, first, hashes in tree.add(leaves[start:stop]):
            for index, digest in enumerate(hashes, first):
                assert (level, index) not in computed
                computed[(level, index)] = digest
        start = stop
    assert computed == stored


def test_a_wrong_key_or_origin_fails_every_checkpoint(log: Log) -> None:
    other = verifier_from_signer(generate_signer(log.rt.settings.log_origin))
    with log.rt.sessions() as db:
        report = audit_log_and_content(
            db, log.rt.storage, verifier_key=other, origin="x", check_content=False
        )
    assert_fails(report, "checkpoint at size 0: signature does not verify")
    assert "signed for origin 'portal.invalid/custody', not this log's 'x'" in report.text()
    assert not report.checkpoint_verified


# --- tampering with entries -------------------------------------------------------------------


def test_edited_event_with_its_leaf_hash_recomputed(log: Log) -> None:
    """Only the tree and the signed checkpoints can tell."""
    seq = log.seq_of("upload.completed")  # the first file's
    cp = log.checkpoint_after(seq)
    event = log.event(seq)
    event["details"]["sha256"] = "0" * 64
    log.write_event(seq, event, rehash=True)
    report = audit(log, check_content=False)
    assert_fails(
        report,
        f"entry {seq}: the tree's stored leaf (log_nodes level 0, index {seq}) differs",
        f"checkpoint at size {cp}: the root recomputed from entries 0..{cp - 1}",
        f"an entry before {cp} was changed, removed, reordered or inserted",
        f"its log entry {seq} is not the upload.completed event",
    )
    assert f"entries: {log.size()} entries" in report.text()  # each entry looks fine alone


def test_edited_event_bytes(log: Log) -> None:
    seq = log.seq_of("consent.given")
    event = log.event(seq)
    event["details"]["scopes"] = ["investigation"]
    log.write_event(seq, event, rehash=False)
    assert_fails(audit(log), f"entry {seq}: leaf hash does not match its event bytes")


@pytest.mark.parametrize(("type", "nth"), [("submission.created", 0), ("upload.completed", 1)])
def test_edited_event_and_every_stored_node_rewritten(log: Log, type: str, nth: int) -> None:
    """A consistent forgery of entries and nodes: only the signatures are left to catch it,
    and the last checkpoint that still matches tells where to look."""
    seq = log.seq_of(type, nth)
    cp = log.checkpoint_after(seq)
    previous = max(size for size in log.checkpoint_sizes() if size <= seq)
    event = log.event(seq)
    event["actor"] = "witness:someone-else"
    log.write_event(seq, event, rehash=True)
    leaves = [bytes(h) for (h,) in log.rows("SELECT leaf_hash FROM log_entries ORDER BY seq")]
    log.sql("DELETE FROM log_nodes")
    nodes: dict[merkle.NodeId, bytes] = {}
    for i, leaf in enumerate(leaves):
        siblings = {k: nodes[k] for k in merkle.siblings_needed_for_append(i)}
        nodes.update({(lv, ix): h for lv, ix, h in merkle.nodes_for_append(i, leaf, siblings)})
    for (level, index), digest in nodes.items():
        log.sql("INSERT INTO log_nodes VALUES (:l, :i, :h)", l=level, i=index, h=digest)
    report = audit(log)
    assert_fails(
        report,
        f"checkpoint at size {cp}: the root recomputed from entries 0..{cp - 1}",
        f"an entry before {cp} was changed",
        "consistency proof from the stored tree nodes fails",
    )
    where = f"the checkpoint at size {previous} still matches, so it is one of entries "
    assert (f"{where}{previous}..{cp - 1}" in report.text()) == (previous > 0), report.text()
    assert f"tree: all {len(nodes)} stored nodes match" in report.text()


def test_deleted_event(log: Log) -> None:
    seq, n = log.seq_of("evidence.received"), log.size()
    log.sql("DELETE FROM log_entries WHERE seq = :s", s=seq)
    assert_fails(
        audit(log),
        f"entry {seq} is missing (entry {seq + 1} follows entry {seq - 1})",
        f"log_head.size is {n} but the log holds {n - 1} entries",
        f"checkpoint at size {log.checkpoint_after(seq)}",
    )


def test_swapped_events(log: Log) -> None:
    a, b = log.seq_of("upload.created"), log.seq_of("upload.completed")  # the first file's
    rows = {
        s: (e, h, t, sub)
        for s, e, h, t, sub in log.rows(
            "SELECT seq, event, leaf_hash, type, subject FROM log_entries WHERE seq IN (:a, :b)",
            a=a,
            b=b,
        )
    }
    for seq, other in ((a, b), (b, a)):
        e, h, t, sub = rows[other]
        log.sql(
            "UPDATE log_entries SET event = :e, leaf_hash = :h, type = :t, subject = :sub "
            "WHERE seq = :s",
            e=e,
            h=h,
            t=t,
            sub=sub,
            s=seq,
        )
    assert_fails(
        audit(log),
        f"entry {a}: its event says seq {b}",
        f"entry {b}: its event says seq {a}",
        f"entry {a}: the tree's stored leaf",
        f"checkpoint at size {log.checkpoint_after(b)}",
    )


def test_truncated_tail(log: Log) -> None:
    last = log.checkpoint_sizes()[-1]
    cut = last - 2
    log.sql("DELETE FROM log_entries WHERE seq >= :c", c=cut)
    log.sql("UPDATE log_head SET size = :c WHERE id = 1", c=cut)
    assert_fails(
        audit(log),
        "log_nodes holds",
        f"checkpoint at size {last} is beyond the end of the log ({cut} entries): "
        "the log was truncated",
        f"they cover entries up to {last}, so the tree had at least {last + 1} entries: "
        "entries were removed",
    )


def test_truncated_tail_and_its_checkpoint_deleted(log: Log) -> None:
    """Leaves and checkpoints gone too: the inner nodes over the cut still tell. The cut takes
    the last file's `upload.completed`, which its evidence row still names."""
    completed = log.seq_of("upload.completed", 2)
    cut = completed if completed % 2 == 1 else completed - 1  # odd: (1, cut // 2) is left
    log.sql("DELETE FROM log_entries WHERE seq >= :c", c=cut)
    log.sql('DELETE FROM log_nodes WHERE level = 0 AND "index" >= :c', c=cut)
    log.sql("DELETE FROM log_checkpoints WHERE size > :c", c=cut)
    log.sql("UPDATE log_head SET size = :c WHERE id = 1", c=cut)
    assert_fails(audit(log), "log_nodes holds", "so the tree had at least", "is not in the log")


def test_deleted_checkpoint_is_missed_by_the_entry_that_recorded_it(log: Log) -> None:
    size = log.checkpoint_sizes()[-2]
    log.sql("DELETE FROM log_checkpoints WHERE size = :s", s=size)
    assert_fails(
        audit(log),
        f"entry {size}: records signing a checkpoint at size {size}, "
        "but no such checkpoint is stored",
    )


def test_event_inserted_in_the_middle(log: Log) -> None:
    """Shift entries k.. up by one and insert a well-formed forged event at k."""
    k, n = log.seq_of("upload.created", 1), log.size()
    log.sql("UPDATE log_entries SET seq = -(seq + 1) WHERE seq >= :k", k=k)
    log.sql("UPDATE log_entries SET seq = -seq WHERE seq < 0")
    forged = log.event(k + 1)  # the second file's upload.created, under another name
    forged["seq"] = k
    forged["details"]["name_commitment"] = "0" * 64
    data = canonical_json(forged)
    log.sql(
        "INSERT INTO log_entries (seq, at, type, subject, event, leaf_hash) "
        "SELECT :k, at, type, subject, :e, :h FROM log_entries WHERE seq = :k + 1",
        k=k,
        e=data,
        h=leaf_hash(data),
    )
    log.sql("UPDATE log_head SET size = :n WHERE id = 1", n=n + 1)
    assert_fails(
        audit(log),
        f"entry {k}: the tree's stored leaf (log_nodes level 0, index {k}) differs",
        f"entry {k + 1}: its event says seq {k}",
        f"checkpoint at size {log.checkpoint_after(k)}",
    )


def test_event_appended_outside_the_log(log: Log) -> None:
    """A forged event with a correct leaf hash and head: the tree never saw it."""
    copied, n = log.seq_of("upload.completed"), log.size()
    data = canonical_json(dict(log.event(copied), seq=n))
    log.sql(
        "INSERT INTO log_entries (seq, at, type, subject, event, leaf_hash) "
        "SELECT :n, at, type, subject, :e, :h FROM log_entries WHERE seq = :c",
        n=n,
        c=copied,
        e=data,
        h=leaf_hash(data),
    )
    log.sql("UPDATE log_head SET size = :n WHERE id = 1", n=n + 1)
    assert_fails(
        audit(log),
        f"entry {n}: the tree's stored leaf (log_nodes level 0, index {n}) is missing: "
        "the entry was not appended by the log",
    )


def test_non_canonical_event_and_wrong_type(log: Log) -> None:
    seq = log.seq_of("upload.created")
    log.write_event(seq, json.dumps(log.event(seq), indent=1).encode(), rehash=True)
    other = log.seq_of("upload.created", 1)
    log.sql("UPDATE log_entries SET type = 'upload.completed' WHERE seq = :s", s=other)
    assert_fails(
        audit(log, check_content=False),
        f"entry {seq}: event bytes are not canonical JSON",
        f"entry {other}: its event says type 'upload.created', the row says 'upload.completed'",
    )


def test_event_that_is_not_json(log: Log) -> None:
    seq = log.seq_of("submission.created")
    log.write_event(seq, b"\xff not json", rehash=True)
    assert_fails(audit(log, check_content=False), f"entry {seq}: event is not UTF-8 JSON")


def test_repeated_failures_are_counted_not_listed(log: Log) -> None:
    log.sql("UPDATE log_entries SET subject = 'x'")
    report = audit(log, check_content=False)
    assert not report.ok
    listed = [f for f in failures(report) if "its event says subject" in f]
    assert len(listed) == SHOWN_PER_KIND
    more = log.size() - SHOWN_PER_KIND
    assert f"{more} more events whose subject differs from their row" in report.text()
    assert failures(report)[0].startswith("entry 0: its event says subject 'log'")


# --- evidence originals -----------------------------------------------------------------------


def original(log: Log, name: str) -> Path:
    [(key,)] = log.rows("SELECT storage_key FROM evidence WHERE filename = :n", n=name)
    return log.rt.settings.data_dir / "storage" / Path(*key.split("/"))


@pytest.mark.local_only
def test_flipped_byte_in_a_stored_original(log: Log) -> None:
    path = original(log, "balcony.mp4")
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with path.open("r+b") as f:
        f.seek(100_000)
        byte = f.read(1)
        f.seek(100_000)
        f.write(bytes([byte[0] ^ 0x01]))
    report = audit(log)
    [(evidence_id,)] = log.rows("SELECT id FROM evidence WHERE filename = 'balcony.mp4'")
    assert_fails(report, f"evidence {evidence_id}: original sha256/")
    assert "has SHA-256" in failures(report)[0]
    assert len(failures(report)) == 1, report.text()
    assert audit(log, check_content=False).ok


@pytest.mark.local_only
def test_missing_original(log: Log) -> None:
    original(log, "a.jpg").unlink()
    assert_fails(audit(log), "is missing from storage")
    assert audit(log, check_content=False).ok


# --- receipts ---------------------------------------------------------------------------------


def tampered_root(log: Log, size: int) -> bytes:
    """The root at `size` of the tree rebuilt from the entries as they now are."""
    cr = CompactRange()
    for (event,) in log.rows("SELECT event FROM log_entries WHERE seq < :n ORDER BY seq", n=size):
        cr.append(leaf_hash(bytes(event)))
    return cr.root()


@pytest.fixture
def receipt(log: Log) -> dict[str, Any]:
    r = log.client.get(f"/api/v1/submissions/{log.submission}/receipt", headers=log.auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert verify_receipt(body, log.rt.log_verifier).ok
    return body


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_a_receipt_outlives_tampering(log: Log, receipt: dict[str, Any], tamper: str) -> None:
    """The rebuilt tree no longer holds the receipt's events; its signed checkpoint does."""
    seq = log.seq_of("consent.given")
    if tamper == "edit":
        event = log.event(seq)
        event["details"]["language"] = "en"
        log.write_event(seq, event, rehash=True)
    else:
        log.sql("DELETE FROM log_entries WHERE seq = :s", s=seq)
    assert not audit(log).ok

    lines = receipt["checkpoint"].split("\n")
    size, root = int(lines[1]), base64.b64decode(lines[2])
    rebuilt = tampered_root(log, size)
    assert rebuilt != root
    for file in receipt["files"]:
        proof = [base64.b64decode(h) for h in file["inclusion_proof"]]
        leaf = leaf_hash(file["event"].encode())
        with pytest.raises(ProofError):
            verify_inclusion(leaf, file["leaf_index"], size, proof, rebuilt)
        verify_inclusion(leaf, file["leaf_index"], size, proof, root)
    report = verify_receipt(receipt, log.rt.log_verifier)
    assert report.ok and report.checkpoint_verified, report.text()
