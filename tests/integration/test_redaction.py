"""Redaction with provenance, on SQLite + local and PostgreSQL (procrastinate) + S3.

One investigator defines what to hide, another member of staff approves, a job renders the
copy in the limited child; the copy names its original, hides what it should and nothing
else, and the original stays byte for byte as received."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from portal.db import transaction
from portal.evidence.models import Disposition, Evidence
from portal.redactions.models import Redaction
from tests.support.api import runtime, staff_login
from tests.support.custody import events, log_size, of_type
from tests.support.redaction import frame_at, loudness, mean_difference, probed, video_with_sound
from tests.support.retention import new_witness, send, withdraw

pytestmark = pytest.mark.both_backends

BOX = {"type": "box", "x": 20, "y": 20, "w": 120, "h": 100, "start": 0, "end": 2, "style": "blur"}
MUTE = {"type": "mute", "start": 0.5, "end": 1.5}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return video_with_sound(tmp_path_factory.mktemp("clip") / "clip.mp4").read_bytes()


def _define(client: TestClient, auth: dict[str, str], item: str, *ops: dict[str, Any]) -> Any:
    body = {"purpose": "public_appeal", "operations": list(ops)}
    return client.post(f"/api/v1/evidence/{item}/redactions", json=body, headers=auth)


def _redaction_events(client: TestClient, item: str) -> list[str]:
    """The redaction steps logged about `item` (other work, such as its jobs, may log too)."""
    return [e["type"] for e in events(client) if e["subject"] == item and "redaction" in e["type"]]


def _count(client: TestClient) -> int:
    with runtime(client).sessions() as db:
        return db.query(Redaction).count()


def test_a_blurred_box_copy_verifies_against_its_original(client: TestClient, clip: bytes) -> None:
    item = probed(client, send(client, new_witness(client), clip))
    source = hashlib.sha256(clip).hexdigest()
    ines = staff_login(client, "investigator", name="ines")
    sara = staff_login(client, "supervisor", name="sara")

    r = _define(client, ines, item, BOX, MUTE)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["state"] == "requested" and made["source_sha256"] == source
    preview = client.get(f"/api/v1/redactions/{made['id']}/preview?at=0.4", headers=sara)
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
    pixel = Image.open(io.BytesIO(preview.content)).convert("RGB").getpixel((20, 60))
    assert pixel == (255, 0, 0)

    r = client.post(f"/api/v1/redactions/{made['id']}/approve", headers=sara)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "rendered", done
    record = done["provenance"]
    assert record["source_sha256"] == source
    assert record["operations"] == [BOX, MUTE]
    assert (
        record["requested_by"].startswith("staff:")
        and record["approved_by"] != (record["requested_by"])
    )
    assert record["tool"]["settings"]["video"]["codec"] == "libx264" and record["tool"]["pyav"]

    copy = client.get(f"/api/v1/redactions/{made['id']}/content", headers=ines)
    assert copy.status_code == 200 and copy.headers["x-original-sha256"] == source
    assert hashlib.sha256(copy.content).hexdigest() == record["output"]["sha256"]
    before, after = frame_at(clip, 0.4), frame_at(copy.content, 0.4)
    assert mean_difference(before, after, (20, 20, 140, 120)) > 25  # the box is hidden
    assert mean_difference(before, after, (160, 130, 320, 240)) < 15  # the rest is as it was
    assert loudness(clip, 0.7, 1.3) > 0.03 and loudness(copy.content, 0.7, 1.3) < 0.001
    assert loudness(copy.content, 1.6, 1.9) > 0.03

    original = client.get(f"/api/v1/evidence/{item}/content?download=1", headers=ines)
    assert original.content == clip  # byte for byte
    (derived,) = [
        e for e in of_type(client, "evidence.derived", item) if "redaction" in e["details"]
    ]
    assert derived["details"]["redaction"] == record  # the signed log holds the provenance
    types = [e["type"] for e in of_type(client, "redaction.requested", item)]
    types += [e["type"] for e in of_type(client, "redaction.approved", item)]
    assert types == ["redaction.requested", "redaction.approved"]
    # Each look is logged: the preview, the record (read while waiting for the render), the copy.
    seen = [e["details"]["what"] for e in of_type(client, "redaction.viewed", item)]
    assert seen[0] == "preview" and seen[-1] == "copy", seen
    assert set(seen[1:-1]) <= {"record"}, seen


@pytest.mark.parametrize(
    ("op", "field"),
    [
        ({**BOX, "x": 250}, "operations[0].x+w"),
        ({**BOX, "y": 200}, "operations[0].y+h"),
        ({**MUTE, "end": 9}, "operations[0].end"),
    ],
)
def test_operations_outside_the_video_are_refused_naming_the_field(
    client: TestClient, clip: bytes, op: dict[str, Any], field: str
) -> None:
    item = probed(client, send(client, new_witness(client), clip))
    ines = staff_login(client, "investigator", name="ines")
    size = log_size(client)
    r = _define(client, ines, item, op)
    assert r.status_code == 422 and r.json()["error"] == "out_of_range", r.text
    assert r.json()["message"].startswith(field)
    assert log_size(client) == size and _count(client) == 0


@pytest.mark.parametrize(
    "op",
    [
        {**MUTE, "end": 0.5},  # ends before it starts
        {**BOX, "w": -3},
        {"type": "smudge", "start": 0, "end": 1},
    ],
)
def test_malformed_operations_are_refused(client: TestClient, clip: bytes, op: Any) -> None:
    item = probed(client, send(client, new_witness(client), clip))
    ines = staff_login(client, "investigator", name="ines")
    size = log_size(client)
    r = _define(client, ines, item, op)
    assert r.status_code == 422 and set(r.json()) == {"error", "message"}, r.text
    assert log_size(client) == size and _count(client) == 0


def test_approval_takes_a_second_person_and_preview_stays_inside(
    client: TestClient, clip: bytes
) -> None:
    item = probed(client, send(client, new_witness(client), clip))
    ines = staff_login(client, "investigator", name="ines")
    made = _define(client, ines, item, BOX).json()
    size = log_size(client)
    r = client.post(f"/api/v1/redactions/{made['id']}/approve", headers=ines)
    assert r.status_code == 409 and r.json()["error"] == "same_person"
    r = client.get(f"/api/v1/redactions/{made['id']}/preview?at=5", headers=ines)
    assert r.status_code == 422 and r.json()["error"] == "out_of_range"
    r = client.get(f"/api/v1/redactions/{made['id']}/content", headers=ines)
    assert r.status_code == 404
    assert log_size(client) == size
    assert client.get(f"/api/v1/redactions/{made['id']}").status_code == 401


def test_items_being_destroyed_or_withdrawn_are_not_redacted(
    client: TestClient, clip: bytes
) -> None:
    ines = staff_login(client, "investigator", name="ines")
    witness = new_witness(client)
    item = probed(client, send(client, witness, clip))
    assert withdraw(client, witness).status_code == 200
    r = _define(client, ines, item, BOX)
    assert r.status_code == 409 and r.json()["error"] == "consent_withdrawn", r.text
    assert _redaction_events(client, item) == []

    doomed = probed(client, send(client, new_witness(client), clip, name="other.mp4"))
    pending = _define(client, ines, doomed, BOX).json()
    with transaction(runtime(client).sessions) as db:
        row = db.get(Evidence, doomed)
        assert row is not None
        row.disposition = Disposition.PURGING
    sara = staff_login(client, "supervisor", name="sara")
    r = _define(client, ines, doomed, BOX)
    assert r.status_code == 409 and r.json()["error"] == "being_destroyed", r.text
    r = client.post(f"/api/v1/redactions/{pending['id']}/approve", headers=sara)
    assert r.status_code == 409 and r.json()["error"] == "being_destroyed", r.text
    assert _redaction_events(client, doomed) == ["redaction.requested"]
    assert _count(client) == 1
