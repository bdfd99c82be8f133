"""Keeping an item whose witness withdrew consent needs a reason, through every route
(issue 17: the check lived in the web pages only, so the API accepted and linked such an item
without one). The reason is in the action's custody event; a refusal changes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.api import staff_login
from tests.support.custody import log_size, of_type
from tests.support.retention import item, new_case, new_witness, send, withdraw

pytestmark = pytest.mark.both_backends


def test_the_api_asks_a_reason_to_accept_or_link_a_withdrawn_item(
    client: TestClient, clip: bytes
) -> None:
    sup = staff_login(client, "supervisor")
    witness = new_witness(client)
    ev = send(client, witness, clip)
    assert withdraw(client, witness).status_code == 200
    case = new_case(client, sup)
    before = log_size(client)
    accept = {"decision": "accept", "reason": "vehículo visible"}
    r = client.post(f"/api/v1/evidence/{ev}/triage", json=accept, headers=sup)
    assert r.status_code == 409 and r.json()["error"] == "consent_withdrawn", r.text
    r = client.post(f"/api/v1/cases/{case}/evidence", json={"evidence_id": ev}, headers=sup)
    assert r.status_code == 409 and r.json()["error"] == "consent_withdrawn", r.text
    assert log_size(client) == before and item(client, ev).status == "new"

    # Declining keeps nothing: no reason asked.
    decline = {"decision": "decline", "reason": "fuera de lugar"}
    assert (
        client.post(f"/api/v1/evidence/{ev}/triage", json=decline, headers=sup).status_code == 200
    )
    kept = {**accept, "withdrawn_reason": "orden del fiscal 12/2026"}
    r = client.post(f"/api/v1/evidence/{ev}/triage", json=kept, headers=sup)
    assert r.status_code == 200, r.text
    body = {"evidence_id": ev, "withdrawn_reason": "orden del fiscal 12/2026"}
    r = client.post(f"/api/v1/cases/{case}/evidence", json=body, headers=sup)
    assert r.status_code == 204, r.text
    (accepted,) = [
        e for e in of_type(client, "evidence.triaged", ev) if e["details"]["to"] == "accepted"
    ]
    assert accepted["details"]["consent_withdrawn_reason"] == "orden del fiscal 12/2026"
    (linked,) = of_type(client, "evidence.linked", ev)
    assert linked["details"]["consent_withdrawn_reason"] == "orden del fiscal 12/2026"
