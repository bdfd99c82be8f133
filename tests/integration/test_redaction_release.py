"""A public release of a redacted copy: only for items whose witness consented to a public
appeal, only of a rendered copy (never the original), and only when a second person, a
supervisor, confirms the request; the release is logged with both."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.api import CONSENT, new_submission, staff_login
from tests.support.custody import of_type
from tests.support.redaction import probed, rendered, video_with_sound
from tests.support.retention import Witness, send

pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return video_with_sound(tmp_path_factory.mktemp("clip") / "clip.mp4").read_bytes()


def _witness(client: TestClient, *scopes: str) -> Witness:
    consent = {**CONSENT, "scopes": [*CONSENT["scopes"], *scopes]}
    sub_id, token = new_submission(client, consent=consent)
    return Witness(sub_id, {"Authorization": f"Bearer {token}"})


def test_a_release_needs_public_appeal_consent_and_a_second_supervisor(
    client: TestClient, clip: bytes
) -> None:
    ines = staff_login(client, "investigator", name="ines")
    sara = staff_login(client, "supervisor", name="sara")
    tomas = staff_login(client, "supervisor", name="tomas")

    private = probed(client, send(client, _witness(client), clip))
    copy = rendered(client, private, ines, sara)
    r = client.post(f"/api/v1/redactions/{copy['id']}/release", headers=ines)
    assert r.status_code == 409 and r.json()["error"] == "no_public_appeal", r.text

    item = probed(client, send(client, _witness(client, "public_appeal"), clip, name="appeal.mp4"))
    copy = rendered(client, item, ines, sara)
    r = client.post(f"/api/v1/redactions/{copy['id']}/release", headers=sara)
    assert r.status_code == 202, r.text
    request = r.json()
    assert request["kind"] == "release" and request["target"] == copy["id"]
    assert of_type(client, "redaction.released", item) == []  # asked, not done

    r = client.post(f"/api/v1/changes/{request['id']}/confirm", headers=sara)
    assert r.status_code == 409 and r.json()["error"] == "own_request"
    r = client.post(f"/api/v1/changes/{request['id']}/confirm", headers=ines)
    assert r.status_code == 403
    r = client.post(f"/api/v1/changes/{request['id']}/confirm", headers=tomas)
    assert r.status_code == 200, r.text

    (released,) = of_type(client, "redaction.released", item)
    assert released["details"]["output_sha256"] == copy["output_sha256"]
    assert released["details"]["change_request"]["id"] == request["id"]
    assert released["actor"].split(":")[1] != request["requested_by"]
    after = client.get(f"/api/v1/redactions/{copy['id']}", headers=ines).json()
    assert after["released_at"] is not None
    r = client.post(f"/api/v1/redactions/{copy['id']}/release", headers=sara)
    assert r.status_code == 409 and r.json()["error"] == "already_released"


def test_only_a_rendered_copy_can_be_released(client: TestClient, clip: bytes) -> None:
    ines = staff_login(client, "investigator", name="ines")
    item = probed(client, send(client, _witness(client, "public_appeal"), clip))
    body = {
        "purpose": "public_appeal",
        "operations": [{"type": "frame_blur", "start": 0, "end": 1}],
    }
    made = client.post(f"/api/v1/evidence/{item}/redactions", json=body, headers=ines).json()
    r = client.post(f"/api/v1/redactions/{made['id']}/release", headers=ines)
    assert r.status_code == 409 and r.json()["error"] == "not_rendered", r.text
    assert client.get("/api/v1/changes", headers=staff_login(client, "supervisor")).json() == []
