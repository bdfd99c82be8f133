"""The shares API: a supervisor opens, lists and revokes shares by JSON; bad input gets
`{error, message}` and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from portal.config import Settings
from portal.custody.models import LogEntry
from portal.shares.models import Share
from tests.support.api import runtime, staff_login
from tests.support.shares import INVESTIGATION_ONLY, case_with_item, sign_in
from tests.support.web import web_app

pytestmark = pytest.mark.both_backends


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url="https://testserver") as client:
        yield client


def _count(web: TestClient) -> tuple[int, int]:
    """Shares and log entries, but those that land at any moment on their own: the media
    jobs' and the background signing rounds' (portal.custody.batch)."""
    with runtime(web).sessions() as db:
        shares = db.scalar(select(func.count()).select_from(Share)) or 0
        entries = select(func.count()).select_from(LogEntry)
        background = LogEntry.type.in_(["evidence.derived", "log.checkpoint_signed"])
        return shares, db.scalar(entries.where(~background)) or 0


def test_a_supervisor_shares_lists_and_revokes(web: TestClient, video: Path) -> None:
    auth = staff_login(web, "supervisor", name="sofia")
    case_id, item = case_with_item(web, auth, video)
    body = {"case_id": case_id, "recipient": "Lic. Marta Ruiz", "days": 7, "can_download": True}
    r = web.post("/api/v1/shares", json=body, headers=auth)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["evidence_ids"] == [item] and made["state"] == "open"
    assert made["link"].endswith(f"/web/share/{made['id']}") and len(made["code"]) == 10
    listed = web.get("/api/v1/shares", headers=auth).json()
    assert [s["id"] for s in listed] == [made["id"]] and "code" not in listed[0]
    assert sign_in(web, made["id"], made["code"]).status_code == 303
    assert web.get(f"/web/share/{made['id']}/items").status_code == 200
    revoked = web.post(f"/api/v1/shares/{made['id']}/revoke", headers=auth)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert web.get(f"/web/share/{made['id']}/items").status_code == 410


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"recipient": "   "}, 422, "bad_recipient"),
        ({"days": 0}, 422, None),
        ({"days": 91}, 422, None),
        ({"evidence_ids": ["not-an-item"]}, 422, "bad_items"),
        ({"case_id": "nope"}, 404, None),
        ({"surprise": 1}, 422, None),
        ({"consent": "investigation"}, 422, "consent_scope"),
    ],
)
def test_bad_shares_are_refused_and_change_nothing(
    web: TestClient, video: Path, change: dict[str, Any], status: int, error: str | None
) -> None:
    auth = staff_login(web, "supervisor", name="sofia")
    change = dict(change)  # the parameter is shared by both backends' runs: never edit it
    scoped = change.pop("consent", None)
    extra = {"consent": INVESTIGATION_ONLY} if scoped else {}
    case_id, _ = case_with_item(web, auth, video, **extra)
    before = _count(web)
    body = {"case_id": case_id, "recipient": "Lic. Marta Ruiz", "days": 7, **change}
    r = web.post("/api/v1/shares", json=body, headers=auth)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error", "message"} and (error is None or r.json()["error"] == error)
    assert _count(web) == before


def test_only_supervisors_share_and_unknown_shares_are_404(web: TestClient) -> None:
    auth = staff_login(web, "supervisor", name="sofia")
    ivan = staff_login(web, "investigator", name="ivan")
    before = _count(web)
    body = {"case_id": "x", "recipient": "X", "days": 7}
    assert web.post("/api/v1/shares", json=body, headers=ivan).status_code == 403
    assert web.get("/api/v1/shares").status_code == 401
    r = web.post("/api/v1/shares/" + "0" * 32 + "/revoke", headers=auth)
    assert r.status_code == 404 and set(r.json()) == {"error", "message"}
    assert _count(web) == before
