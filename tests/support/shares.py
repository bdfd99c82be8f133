"""A case with one received item, a supervisor signed in to the pages, and a share made."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.support.api import PASSWORD, staff_login
from tests.support.web import csrf_of, received


def supervisor_pages(client: TestClient, name: str = "sofia") -> dict[str, str]:
    """A supervisor's API headers; the client also holds the supervisor's page session."""
    auth = staff_login(client, "supervisor", name=name)
    csrf = csrf_of(client, "/web/staff/login")
    r = client.post(
        "/web/staff/login",
        data={"username": name, "password": PASSWORD, "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return auth


INVESTIGATION_ONLY = {"version": "1", "scopes": ["investigation"], "language": "es"}


def case_with_item(
    client: TestClient, auth: dict[str, str], video: Path, **extra: Any
) -> tuple[str, str]:
    """(case id, evidence id) of a received video linked to a new case."""
    r = client.post("/api/v1/cases", json={"title": "Homicidio en Av. Juárez"}, headers=auth)
    assert r.status_code == 201, r.text
    case_id = str(r.json()["id"])
    return case_id, add_item(client, auth, case_id, video, **extra)


def add_item(
    client: TestClient, auth: dict[str, str], case_id: str, video: Path, **extra: Any
) -> str:
    """The evidence id of a received video linked to the case."""
    _, _, item = received(client, video, **extra)
    r = client.post(f"/api/v1/cases/{case_id}/evidence", json={"evidence_id": item}, headers=auth)
    assert r.status_code == 204, r.text
    return item


def make_share(client: TestClient, case_id: str, **form: str) -> tuple[str, str]:
    """(share id, one-time code) as the create page shows them."""
    data = {"case_id": case_id, "recipient": "Lic. Marta Ruiz", "days": "7", **form}
    data["csrf"] = csrf_of(client, "/web/staff/shares")
    r = client.post("/web/staff/shares", data=data)
    assert r.status_code == 200, r.text
    link = re.search(r'id="share-link" href="[^"]*/web/share/([0-9a-f]+)"', r.text)
    code = re.search(r'id="share-code">([A-Z0-9]+)<', r.text)
    assert link and code, r.text
    return link.group(1), code.group(1)


def sign_in(client: TestClient, share_id: str, code: str) -> Any:
    csrf = csrf_of(client, f"/web/share/{share_id}")
    return client.post(
        f"/web/share/{share_id}", data={"code": code, "csrf": csrf}, follow_redirects=False
    )
