"""The retention suites' steps: a settable clock, witnesses who send files, and the staff's
triage, cases, holds and approvals through the API.

Time is moved by replacing the runtime's clock with a `Clock`: the local storage backend judges
its retention locks by that same clock, so a run "years later" really may delete.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from portal.config import Settings
from portal.custody import service as custody
from portal.evidence.models import Evidence
from portal.retention.models import Tombstone
from tests.support.api import CONTACT, INCIDENT, new_submission, runtime
from tests.support.uploads import upload


class Clock:
    """A settable clock to hand to the runtime (`rt.clock`)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Witness:
    id: str
    auth: dict[str, str]


def new_witness(client: TestClient, *, contact: bool = True) -> Witness:
    extra: dict[str, Any] = {"contact": CONTACT, "incident": INCIDENT} if contact else {}
    sub_id, token = new_submission(client, **extra)
    return Witness(sub_id, {"Authorization": f"Bearer {token}"})


def send(client: TestClient, witness: Witness, data: bytes, name: str = "clip.mp4") -> str:
    """Upload `data` as `witness`; return the new evidence item's id."""
    url = upload(client, witness.auth, data, name=name)
    upload_id = url.rsplit("/", 1)[1]
    status = client.get(f"/api/v1/submissions/{witness.id}", headers=witness.auth).json()
    done = next(u for u in status["uploads"] if u["id"] == upload_id)
    assert done["status"] == "completed", status
    sha = hashlib.sha256(data).hexdigest()
    return str(next(f["id"] for f in status["files"] if f["sha256"] == sha and f["name"] == name))


def item(client: TestClient, evidence_id: str) -> Evidence:
    with runtime(client).sessions() as db:
        found = db.get(Evidence, evidence_id)
        assert found is not None
        return found


def until_of(client: TestClient, evidence_id: str) -> datetime | None:
    it = item(client, evidence_id)
    return it.retain_until.replace(tzinfo=UTC) if it.retain_until else None


def tombstone(client: TestClient, evidence_id: str) -> Tombstone | None:
    with runtime(client).sessions() as db:
        return db.get(Tombstone, evidence_id)


def events(
    client: TestClient, type: str | None = None, subject: str | None = None
) -> list[dict[str, Any]]:
    runtime(client).checkpoints.drain(30)  # the log at rest: no signing round still pending
    with runtime(client).sessions() as db:
        entries = custody.entries(db, start=0, end=custody.tree_size(db))
        parsed = [json.loads(e.event) for e in entries]
    return [
        e
        for e in parsed
        if (type is None or e["type"] == type) and (subject is None or e["subject"] == subject)
    ]


def original(settings: Settings, sha256: str) -> Path:
    return settings.data_dir / "storage" / "sha256" / sha256


def triage(client: TestClient, auth: dict[str, str], evidence_id: str, decision: str) -> None:
    r = client.post(
        f"/api/v1/evidence/{evidence_id}/triage",
        # A reason to keep a withdrawn item, used only when the witness withdrew (the flow
        # ignores it otherwise): the model keeps what staff accept or link, as before.
        json={
            "decision": decision,
            "reason": f"{decision}ed on review",
            "withdrawn_reason": "needed for the case",
        },
        headers=auth,
    )
    assert r.status_code == 200, r.text


def new_case(client: TestClient, auth: dict[str, str], offense: str = "felony") -> str:
    r = client.post(
        "/api/v1/cases", json={"title": "Calle Mayor", "offense": offense}, headers=auth
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def link(client: TestClient, auth: dict[str, str], case_id: str, evidence_id: str) -> None:
    r = client.post(
        f"/api/v1/cases/{case_id}/evidence",
        json={"evidence_id": evidence_id, "withdrawn_reason": "needed for the case"},
        headers=auth,
    )
    assert r.status_code == 204, r.text


def unlink(client: TestClient, auth: dict[str, str], case_id: str, evidence_id: str) -> None:
    r = client.delete(f"/api/v1/cases/{case_id}/evidence/{evidence_id}", headers=auth)
    assert r.status_code == 204, r.text


def close(
    client: TestClient,
    auth: dict[str, str],
    case_id: str,
    offense: str | None = None,
    confirmer: dict[str, str] | None = None,
) -> str | None:
    """Close a case; a downgrade's request is confirmed by `confirmer` when one is given.

    Returns the downgrade request's id, if the closure made one."""
    body = {"offense": offense} if offense else {}
    r = client.post(f"/api/v1/cases/{case_id}/close", json=body, headers=auth)
    assert r.status_code == 200, r.text
    request_id: str | None = r.json().get("offense_request")
    if request_id is not None and confirmer is not None:
        confirm_change(client, confirmer, request_id)
    return request_id


def hold(client: TestClient, auth: dict[str, str], evidence_id: str) -> str:
    r = client.post(
        f"/api/v1/evidence/{evidence_id}/holds",
        json={"reason": "court order 12/2031", "case_reference": "JUZ-12"},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def release(client: TestClient, auth: dict[str, str], hold_id: str) -> Any:
    return client.post(
        f"/api/v1/holds/{hold_id}/release", json={"reason": "order lifted"}, headers=auth
    )


def withdraw(client: TestClient, witness: Witness) -> Any:
    return client.post(f"/api/v1/submissions/{witness.id}/withdrawal", headers=witness.auth)


def approve(client: TestClient, auth: dict[str, str], evidence_id: str) -> Any:
    return client.post(f"/api/v1/retention/due/{evidence_id}/approval", headers=auth)


def put_policy(
    client: TestClient,
    auth: dict[str, str],
    category: str,
    body: dict[str, Any],
    confirmer: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Set a category's rule; a weakening change is a request that `confirmer` confirms.

    Returns the policy as it stands after."""
    r = client.put(f"/api/v1/retention/policies/{category}", json=body, headers=auth)
    if r.status_code == 202:
        assert confirmer is not None, f"{category} change needs a second supervisor"
        confirmed = client.post(f"/api/v1/changes/{r.json()['id']}/confirm", headers=confirmer)
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["state"] == "confirmed"
    else:
        assert r.status_code == 200, r.text
    found = client.get("/api/v1/retention/policies", headers=auth).json()
    return dict(next(p for p in found if p["category"] == category))


def confirm_change(client: TestClient, auth: dict[str, str], request_id: str) -> None:
    r = client.post(f"/api/v1/changes/{request_id}/confirm", headers=auth)
    assert r.status_code == 200, r.text


T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
"""Where the retention suites' clocks start."""


def varied(clip: bytes, tag: object) -> bytes:
    """A distinct file from one clip: MP4 sniffing and probing read the head; trailing bytes
    only change the SHA-256."""
    return clip + f"-{tag}".encode()
