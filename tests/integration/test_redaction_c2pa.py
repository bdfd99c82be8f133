"""A redacted copy carries its provenance as a C2PA manifest too, when the portal has a C2PA
signer: a standard C2PA reader finds it intact, naming the original by hash."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import c2pa
import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from tests.support.api import staff_login
from tests.support.redaction import c2pa_signer, probed, rendered, video_with_sound
from tests.support.retention import new_witness, send


@pytest.fixture
def signing(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    chain, key = c2pa_signer(tmp_path)
    signed = settings.model_copy(update={"c2pa_cert_chain": chain, "c2pa_private_key": key})
    with TestClient(create_app(signed)) as c:
        yield c


def test_the_copy_carries_a_c2pa_manifest_of_its_provenance(
    signing: TestClient, tmp_path: Path
) -> None:
    clip = video_with_sound(tmp_path / "clip.mp4").read_bytes()
    client = signing
    item = probed(client, send(client, new_witness(client), clip))
    made = rendered(
        client,
        item,
        staff_login(client, "investigator", name="ines"),
        staff_login(client, "supervisor", name="sara"),
    )
    record = made["provenance"]
    copy = client.get(
        f"/api/v1/redactions/{made['id']}/content",
        headers=staff_login(client, "investigator", name="ana"),
    ).content
    assert hashlib.sha256(copy).hexdigest() == record["output"]["sha256"]  # signed bytes

    found = json.loads(c2pa.Reader("video/mp4", io.BytesIO(copy)).json())
    assert found["active_manifest"] == record["c2pa"]["manifest"]
    codes = [s["code"] for s in found.get("validation_status") or []]
    assert codes == ["signingCredential.untrusted"]  # intact; only our CA is unknown to it
    manifest = found["manifests"][found["active_manifest"]]
    (claim,) = [
        a["data"] for a in manifest["assertions"] if a["label"] == record["c2pa"]["assertion"]
    ]
    assert claim["source_sha256"] == hashlib.sha256(clip).hexdigest() == record["source_sha256"]
    assert claim["operations"] == record["operations"]
    assert manifest["ingredients"][0]["relationship"] == "parentOf"
