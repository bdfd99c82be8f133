"""Investigators' access to evidence: every look is logged, Range playback, verified download,
the queue, triage, cases, the custody timeline and witness contact details."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from portal.auth.permissions import MATRIX
from portal.clock import utcnow
from portal.config import Settings
from portal.db import transaction
from portal.evidence.models import Derivative, Evidence
from tests.support.api import CONTACT, set_clock, staff_login
from tests.support.custody import events, log_size, of_type
from tests.support.evidence import Item, png, received
from tests.support.routes import api_routes, guard_of

pytestmark = pytest.mark.both_backends

# --- reading the custody log -------------------------------------------------------------------


def names(event: dict[str, Any], item_id: str) -> bool:
    return bool(event["subject"] == item_id or item_id in json.dumps(event["details"]))


# --- evidence made by real uploads -------------------------------------------------------------


@pytest.fixture
def item(client: TestClient, video: Path) -> Item:
    return received(client, video.read_bytes(), contact=CONTACT)


@pytest.fixture
def investigator(client: TestClient) -> dict[str, str]:
    return staff_login(client, "investigator")


@pytest.fixture
def supervisor(client: TestClient) -> dict[str, str]:
    return staff_login(client, "supervisor")


# --- (a) every route that shows evidence leaves an event ---------------------------------------


def shows_evidence(method: str, path: str) -> bool:
    return method == "GET" and (
        path.startswith("/api/v1/evidence") or path == "/api/v1/cases/{case_id}/evidence"
    )


def test_every_route_that_shows_evidence_logs_the_look(client: TestClient, item: Item) -> None:
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    with transaction(rt.sessions) as db:
        row = db.get(Evidence, item.id)
        assert row is not None
        if row.thumbnail_key is None:  # derivation may not have made one: give it one
            row.thumbnail_key = f"derived/{item.sha256}/poster.jpg"
            rt.storage.put(row.thumbnail_key, b"\xff\xd8\xff\xe0 test poster \xff\xd9")
        # An H.264 video needs no review copy: give it one, so its route is walked too.
        copy = f"derived/{item.sha256}/proxy.mp4"
        rt.storage.put(copy, b"test review copy")
        db.add(
            Derivative(
                key=copy,
                source_sha256=item.sha256,
                kind="proxy",
                media_type="video/mp4",
                size=16,
                sha256=hashlib.sha256(b"test review copy").hexdigest(),
                created_at=rt.clock(),
            )
        )
    headers = {role: staff_login(client, role) for role in MATRIX}
    case = client.post("/api/v1/cases", json={"title": "Walk"}, headers=headers["investigator"])
    case_id = case.json()["id"]
    r = client.post(
        f"/api/v1/cases/{case_id}/evidence",
        json={"evidence_id": item.id},
        headers=headers["investigator"],
    )
    assert r.status_code == 204, r.text
    ids = {"evidence_id": item.id, "case_id": case_id}

    walked = []
    for endpoint in api_routes(client.app):  # type: ignore[arg-type]
        if not shows_evidence(endpoint.method, endpoint.path):
            continue
        guard = guard_of(endpoint)
        assert guard is not None and guard.kind == "staff", endpoint.path
        roles = [role for role in MATRIX if guard.admits(role)]
        assert roles, f"no role may call {endpoint.path}"
        url = endpoint.path.format(**ids)
        for role in roles:
            before = log_size(client)
            r = client.get(url, headers=headers[role])
            assert r.status_code < 300, f"{url} as {role}: {r.status_code} {r.text[:200]}"
            assert r.content, f"{url} as {role} returned nothing"
            new = [e for e in events(client, before) if e["type"] != "log.checkpoint_signed"]
            about = [e for e in new if names(e, item.id)]
            assert about, f"{url} as {role} showed evidence without a custody event: {new}"
            assert all(e["actor"].startswith("staff:") for e in about), about
        walked.append(endpoint.path)
    # The walk found the routes it is about (not a vacuous pass).
    assert {
        "/api/v1/evidence",
        "/api/v1/evidence/{evidence_id}",
        "/api/v1/evidence/{evidence_id}/thumbnail",
        "/api/v1/evidence/{evidence_id}/proxy",
        "/api/v1/evidence/{evidence_id}/content",
        "/api/v1/evidence/{evidence_id}/custody",
        "/api/v1/evidence/{evidence_id}/contact",
        "/api/v1/cases/{case_id}/evidence",
    } <= set(walked), walked


# --- (b) Range playback and download -----------------------------------------------------------


def content_url(item: Item) -> str:
    return f"/api/v1/evidence/{item.id}/content"


def test_range_requests(client: TestClient, item: Item, investigator: dict[str, str]) -> None:
    data, size = item.data, len(item.data)
    assert size > 2000
    whole: tuple[int, int] | None = None
    # (Range header, status, [start, end) sent; None for 200 whole or 416)
    cases: list[tuple[str, int, tuple[int, int] | None]] = [
        ("bytes=0-0", 206, (0, 1)),
        ("bytes=0-", 206, (0, size)),
        ("bytes=-500", 206, (size - 500, size)),
        (f"bytes=-{size + 10}", 206, (0, size)),
        ("bytes=-0", 416, None),
        ("bytes=100-50", 200, whole),
        (f"bytes={size}-", 416, None),
        (f"bytes={size + 5}-{size + 10}", 416, None),
        (f"bytes={size - 1}-", 206, (size - 1, size)),
        (f"bytes=5-{size + 100}", 206, (5, size)),
        ("bytes=1000-1999", 206, (1000, 2000)),
        ("bytes=0-1,4-5", 200, whole),
        ("items=0-5", 200, whole),
        ("bytes=abc", 200, whole),
        ("bytes=-", 200, whole),
    ]
    for header, status, span in cases:
        r = client.get(content_url(item), headers={**investigator, "Range": header})
        where = f"Range: {header}"
        assert r.status_code == status, f"{where}: {r.status_code} {r.text[:200]}"
        if status == 416:
            assert r.headers["Content-Range"] == f"bytes */{size}", where
            assert r.json()["error"] == "range_not_satisfiable", where
            continue
        assert r.headers["Accept-Ranges"] == "bytes", where
        if status == 206:
            assert span is not None
            start, end = span
            assert r.headers["Content-Range"] == f"bytes {start}-{end - 1}/{size}", where
            assert r.headers["Content-Length"] == str(end - start), where
            assert r.content == data[start:end], where
        else:
            assert "Content-Range" not in r.headers, where
            assert r.headers["Content-Length"] == str(size), where
            assert r.content == data, where
        assert r.headers["Content-Type"] == "video/mp4", where
    r = client.get(content_url(item), headers=investigator)  # no Range at all
    assert r.status_code == 200 and r.content == data
    assert r.headers["Accept-Ranges"] == "bytes"


def test_a_playback_is_one_opened_and_one_streamed_event(
    client: TestClient, item: Item, investigator: dict[str, str], settings: Settings
) -> None:
    url = content_url(item)
    r = client.get(url, headers={**investigator, "Range": "bytes=0-99"})
    assert r.status_code == 206
    playback = r.headers["X-Playback"]
    r = client.get(
        url, params={"playback": playback}, headers={**investigator, "Range": "bytes=50-199"}
    )
    assert r.status_code == 206 and r.headers["X-Playback"] == playback
    r = client.get(url, headers={**investigator, "Range": "bytes=1000-1099"})  # no playback id
    assert r.status_code == 206 and r.headers["X-Playback"] == playback
    r = client.get(url, params={"playback": playback}, headers=investigator)  # whole, 200
    assert r.status_code == 200 and r.headers["X-Playback"] == playback

    opened = of_type(client, "evidence.stream_opened", item.id)
    assert len(opened) == 1, opened
    assert opened[0]["details"]["playback"] == playback
    assert opened[0]["actor"].startswith("staff:") and opened[0]["actor"].endswith(":investigator")
    assert of_type(client, "evidence.streamed") == []  # still playing

    rt = client.app.state.runtime  # type: ignore[attr-defined]
    assert rt.close_idle_playbacks() == 0  # not idle yet
    later = utcnow() + settings.playback_idle + timedelta(seconds=1)
    set_clock(client, lambda: later)
    rt.close_idle_playbacks()
    streamed = of_type(client, "evidence.streamed", item.id)
    assert len(streamed) == 1, streamed
    details = streamed[0]["details"]
    assert details["playback"] == playback
    assert details["ranges"] == [[0, len(item.data)]]
    assert details["bytes"] == 100 + 150 + 100 + len(item.data)
    assert streamed[0]["actor"] == opened[0]["actor"]
    assert rt.close_idle_playbacks() == 0
    assert len(of_type(client, "evidence.streamed", item.id)) == 1

    # Watching again later is a new playback.
    r = client.get(
        url, params={"playback": playback}, headers={**investigator, "Range": "bytes=0-9"}
    )
    assert r.headers["X-Playback"] != playback
    assert len(of_type(client, "evidence.stream_opened", item.id)) == 2


def test_streamed_event_lists_the_merged_ranges(
    client: TestClient, item: Item, investigator: dict[str, str], settings: Settings
) -> None:
    url = content_url(item)
    pid = None
    for header in ("bytes=0-99", "bytes=50-199", "bytes=1000-1099", "bytes=200-299"):
        params: dict[str, str] = {"playback": pid} if pid else {}
        r = client.get(url, params=params, headers={**investigator, "Range": header})
        assert r.status_code == 206
        pid = pid or r.headers["X-Playback"]
        assert r.headers["X-Playback"] == pid
    assert len(of_type(client, "evidence.stream_opened", item.id)) == 1
    later = utcnow() + settings.playback_idle + timedelta(seconds=1)
    set_clock(client, lambda: later)
    client.app.state.runtime.close_idle_playbacks()  # type: ignore[attr-defined]
    (streamed,) = of_type(client, "evidence.streamed", item.id)
    assert streamed["details"]["ranges"] == [[0, 300], [1000, 1100]]
    assert streamed["details"]["bytes"] == 100 + 150 + 100 + 100


def test_another_users_playback_id_is_not_joined(
    client: TestClient, item: Item, investigator: dict[str, str], supervisor: dict[str, str]
) -> None:
    url = content_url(item)
    mine = client.get(url, headers={**investigator, "Range": "bytes=0-9"}).headers["X-Playback"]
    r = client.get(url, params={"playback": mine}, headers={**supervisor, "Range": "bytes=0-9"})
    assert r.status_code == 206 and r.headers["X-Playback"] != mine
    assert len(of_type(client, "evidence.stream_opened", item.id)) == 2


def test_download_sends_the_whole_original(
    client: TestClient, item: Item, investigator: dict[str, str]
) -> None:
    before = log_size(client)
    r = client.get(content_url(item), params={"download": 1}, headers=investigator)
    assert r.status_code == 200
    assert r.content == item.data
    assert hashlib.sha256(r.content).hexdigest() == item.sha256
    assert r.headers["Content-Length"] == str(len(item.data))
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert "Content-Range" not in r.headers
    new = events(client, before)
    downloaded = [e for e in new if e["type"] == "evidence.downloaded"]
    assert len(downloaded) == 1, new
    assert downloaded[0]["subject"] == item.id
    assert downloaded[0]["details"] == {"sha256": item.sha256, "size": len(item.data)}
    # A download is not a playback.
    assert not [e for e in new if e["type"].startswith("evidence.stream")]


@pytest.mark.local_only
def test_a_corrupted_original_is_never_delivered_whole(
    client: TestClient, item: Item, investigator: dict[str, str], settings: Settings
) -> None:
    stored = settings.data_dir / "storage" / "sha256" / item.sha256
    assert stored.read_bytes() == item.data
    os.chmod(stored, 0o644)
    damaged = bytearray(item.data)
    damaged[len(damaged) // 2] ^= 0xFF
    stored.write_bytes(bytes(damaged))
    try:
        r = client.get(content_url(item), params={"download": 1}, headers=investigator)
    except Exception:
        return  # the server broke the stream: the client got no successful response
    assert not (r.status_code == 200 and len(r.content) == len(damaged)), (
        "the damaged original was delivered whole as a success"
    )
    assert r.content != bytes(damaged)


# --- (c) the queue -----------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class Queue:
    a: Item  # video, January
    b: Item  # larger video, February
    c: Item  # PNG, March


@pytest.fixture
def queue(client: TestClient, video: Path) -> Iterator[Queue]:
    data = video.read_bytes()
    made = []
    for when, payload, name in (
        ("2024-01-10T12:00:00", data, "a-balcony.mp4"),
        ("2024-02-10T12:00:00", data + b"\0" * 4096, "b-street.mp4"),
        ("2024-03-10T12:00:00", png(), "c-photo.png"),
    ):
        moment = at(when)
        set_clock(client, lambda moment=moment: moment)  # type: ignore[misc]
        made.append(received(client, payload, name=name))
    set_clock(client, utcnow)
    yield Queue(*made)


def listed(client: TestClient, headers: dict[str, str], **params: Any) -> tuple[list[str], int]:
    r = client.get("/api/v1/evidence", params=params, headers=headers)
    assert r.status_code == 200, f"{params}: {r.text}"
    body = r.json()
    return [i["id"] for i in body["items"]], body["total"]


def test_queue_filters(client: TestClient, queue: Queue, investigator: dict[str, str]) -> None:
    a, b, c = queue.a.id, queue.b.id, queue.c.id

    def ids(**params: Any) -> set[str]:
        return set(listed(client, investigator, **params)[0])

    assert ids() == {a, b, c}
    assert ids(media_type="video") == {a, b}
    assert ids(media_type="video/mp4") == {a, b}
    assert ids(media_type="image") == {c}
    assert ids(media_type="image/png") == {c}
    assert ids(media_type="video/webm") == set()
    assert ids(media_type="vid") == set()  # a prefix of a type is not a type
    assert ids(received_from="2024-02-01T00:00:00Z") == {b, c}
    assert ids(received_to="2024-02-01T00:00:00Z") == {a}
    assert ids(received_from="2024-02-01T00:00:00Z", received_to="2024-03-01T00:00:00Z") == {b}
    assert ids(received_from="2024-02-10T12:00:00Z") == {b, c}  # from is inclusive
    assert ids(received_to="2024-02-10T12:00:00Z") == {a}  # to is exclusive

    r = client.post(
        f"/api/v1/evidence/{a}/triage",
        json={"decision": "accept", "reason": "clear footage"},
        headers=investigator,
    )
    assert r.status_code == 200
    r = client.post(
        f"/api/v1/evidence/{b}/triage",
        json={"decision": "decline", "reason": "duplicate"},
        headers=investigator,
    )
    assert r.status_code == 200
    assert ids(status="new") == {c}
    assert ids(status="accepted") == {a}
    assert ids(status="declined") == {b}
    assert ids(status="accepted", media_type="image") == set()

    case = client.post("/api/v1/cases", json={"title": "Q"}, headers=investigator).json()["id"]
    for e in (a, c):
        r = client.post(
            f"/api/v1/cases/{case}/evidence", json={"evidence_id": e}, headers=investigator
        )
        assert r.status_code == 204
    assert ids(case=case) == {a, c}
    assert ids(case=case, media_type="video") == {a}
    assert ids(case="no-such-case") == set()

    for bad in ({"status": "lost"}, {"received_from": "yesterday"}, {"media_type": "x" * 101}):
        r = client.get("/api/v1/evidence", params=bad, headers=investigator)
        assert r.status_code == 422, bad


def test_queue_time_filters_honour_utc_offsets(
    client: TestClient, queue: Queue, investigator: dict[str, str]
) -> None:
    """The same instants written with another UTC offset select the same items."""
    a, b, c = queue.a.id, queue.b.id, queue.c.id  # received at 12:00 UTC in Jan, Feb, Mar

    def ids(**params: Any) -> set[str]:
        return set(listed(client, investigator, **params)[0])

    assert ids(received_to="2024-02-10T11:30:00Z") == {a}
    assert ids(received_to="2024-02-10T12:30:00+01:00") == {a}  # 11:30 UTC
    assert ids(received_from="2024-02-10T12:30:00Z") == {c}
    assert ids(received_from="2024-02-10T11:30:00-01:00") == {c}  # 12:30 UTC
    assert ids(
        received_from="2024-02-10T07:00:00-05:00", received_to="2024-02-10T13:00:01+01:00"
    ) == {b}  # 12:00 UTC to 12:00:01 UTC


def test_queue_sorting_and_pages(
    client: TestClient, queue: Queue, investigator: dict[str, str]
) -> None:
    a, b, c = queue.a.id, queue.b.id, queue.c.id
    assert listed(client, investigator)[0] == [c, b, a]  # newest first by default
    assert listed(client, investigator, sort="received_at")[0] == [a, b, c]
    assert listed(client, investigator, sort="-received_at")[0] == [c, b, a]
    assert listed(client, investigator, sort="size")[0] == [c, a, b]
    assert listed(client, investigator, sort="-size")[0] == [b, a, c]
    assert listed(client, investigator, sort="filename")[0] == [a, b, c]
    for bad in ("id", "-filename", "received_at;drop", ""):
        r = client.get("/api/v1/evidence", params={"sort": bad}, headers=investigator)
        assert r.status_code == 422, bad
        assert r.json()["error"] in ("bad_sort", "invalid")

    before = log_size(client)
    page1, total = listed(client, investigator, sort="received_at", per_page=2, page=1)
    assert (page1, total) == ([a, b], 3)
    page2, total = listed(client, investigator, sort="received_at", per_page=2, page=2)
    assert (page2, total) == ([c], 3)
    page3, total = listed(client, investigator, sort="received_at", per_page=2, page=3)
    assert (page3, total) == ([], 3)
    body = client.get("/api/v1/evidence", params={"per_page": 2}, headers=investigator).json()
    assert (body["page"], body["per_page"], body["total"], len(body["items"])) == (1, 2, 3, 2)
    # Each listing names exactly the items it showed.
    lists = [e for e in events(client, before) if e["type"] == "evidence.listed"]
    assert [e["details"]["items"] for e in lists] == [[a, b], [c], [], [c, b]]
    assert all(e["subject"] == "queue" for e in lists)
    for bad_page in ({"page": 0}, {"per_page": 0}, {"per_page": 201}):
        r = client.get("/api/v1/evidence", params=bad_page, headers=investigator)
        assert r.status_code == 422, bad_page


# --- triage ------------------------------------------------------------------------------------


def detail(client: TestClient, item_id: str, headers: dict[str, str]) -> dict[str, Any]:
    r = client.get(f"/api/v1/evidence/{item_id}", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_triage_records_from_to_and_reason(
    client: TestClient, item: Item, investigator: dict[str, str]
) -> None:
    url = f"/api/v1/evidence/{item.id}/triage"
    r = client.post(url, json={"decision": "accept", "reason": "clear view"}, headers=investigator)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    r = client.post(url, json={"decision": "decline", "reason": "wrong date"}, headers=investigator)
    assert r.json()["status"] == "declined"
    triaged = of_type(client, "evidence.triaged", item.id)
    assert [e["details"] for e in triaged] == [
        {"from": "new", "to": "accepted", "reason": "clear view"},
        {"from": "accepted", "to": "declined", "reason": "wrong date"},
    ]
    me = client.get("/api/v1/auth/me", headers=investigator).json()
    assert all(e["actor"] == f"staff:{me['id']}:investigator" for e in triaged)
    body = detail(client, item.id, investigator)
    assert (body["status"], body["triage_reason"], body["triaged_by"]) == (
        "declined",
        "wrong date",
        me["id"],
    )


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "accept", "reason": "ok"},
        {"decision": "accept", "reason": ""},
        {"decision": "accept"},
        {"decision": "maybe", "reason": "not sure yet"},
        {"decision": "accept", "reason": "fine", "status": "accepted"},
        {"decision": "accept", "reason": "x" * 2001},
    ],
)
def test_bad_triage_changes_nothing(
    client: TestClient, item: Item, investigator: dict[str, str], body: dict[str, Any]
) -> None:
    before = log_size(client)
    r = client.post(f"/api/v1/evidence/{item.id}/triage", json=body, headers=investigator)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid"
    assert [e for e in events(client, before) if e["type"] == "evidence.triaged"] == []
    got = detail(client, item.id, investigator)
    assert (got["status"], got["triage_reason"], got["triaged_at"]) == ("new", None, None)


def test_triage_of_an_unknown_item_is_404(client: TestClient, investigator: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/evidence/nope/triage",
        json={"decision": "accept", "reason": "fine"},
        headers=investigator,
    )
    assert r.status_code == 404


# --- cases -------------------------------------------------------------------------------------


def test_cases_link_and_unlink(
    client: TestClient, item: Item, investigator: dict[str, str]
) -> None:
    r = client.post(
        "/api/v1/cases", json={"title": "Balcony", "reference": "2024/17"}, headers=investigator
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["title"], case["reference"], case["status"], case["evidence_count"]) == (
        "Balcony",
        "2024/17",
        "open",
        0,
    )
    assert of_type(client, "case.created", case["id"])
    cid = case["id"]
    link = f"/api/v1/cases/{cid}/evidence"

    r = client.post(link, json={"evidence_id": item.id}, headers=investigator)
    assert r.status_code == 204, r.text
    (linked,) = of_type(client, "evidence.linked", item.id)
    assert linked["details"] == {"case": cid}
    cases = client.get("/api/v1/cases", headers=investigator).json()
    assert [(c["id"], c["evidence_count"]) for c in cases] == [(cid, 1)]
    r = client.get(link, headers=investigator)
    assert [e["id"] for e in r.json()] == [item.id]
    assert detail(client, item.id, investigator)["cases"] == [cid]

    before = log_size(client)
    r = client.post(link, json={"evidence_id": item.id}, headers=investigator)
    assert r.status_code == 409 and r.json()["error"] == "already_linked"
    assert [e for e in events(client, before) if e["type"] == "evidence.linked"] == []

    r = client.delete(f"{link}/{item.id}", headers=investigator)
    assert r.status_code == 204, r.text
    (unlinked,) = of_type(client, "evidence.unlinked", item.id)
    assert unlinked["details"] == {"case": cid}
    assert detail(client, item.id, investigator)["cases"] == []
    assert client.get("/api/v1/cases", headers=investigator).json()[0]["evidence_count"] == 0

    before = log_size(client)
    r = client.delete(f"{link}/{item.id}", headers=investigator)
    assert r.status_code == 404
    r = client.delete(f"/api/v1/cases/no-such-case/evidence/{item.id}", headers=investigator)
    assert r.status_code == 404
    r = client.post(
        "/api/v1/cases/no-such-case/evidence", json={"evidence_id": item.id}, headers=investigator
    )
    assert r.status_code == 404
    r = client.post(link, json={"evidence_id": "no-such-item"}, headers=investigator)
    assert r.status_code == 404
    assert client.get("/api/v1/cases/no-such-case/evidence", headers=investigator).status_code == (
        404
    )
    assert [e for e in events(client, before) if e["type"] != "log.checkpoint_signed"] == []

    for bad in ({"title": ""}, {}, {"title": "x", "owner": "me"}):
        assert client.post("/api/v1/cases", json=bad, headers=investigator).status_code == 422


# --- custody timeline --------------------------------------------------------------------------


def test_timeline_lists_the_items_own_events_with_log_indices(
    client: TestClient, video: Path, investigator: dict[str, str]
) -> None:
    data = video.read_bytes()
    first = received(client, data, name="one.mp4")
    second = received(
        client,
        data + b"\0" * 100,
        name="two.mp4",
        submission=(first.submission_id, first.witness),
    )
    r = client.get(f"/api/v1/evidence/{first.id}/custody", headers=investigator)
    assert r.status_code == 200, r.text
    timeline = r.json()
    log = {e["seq"]: e for e in events(client)}
    for entry in timeline:
        original = log[entry["index"]]
        assert {k: entry[k] for k in ("at", "type", "actor", "subject", "details")} == {
            k: original[k] for k in ("at", "type", "actor", "subject", "details")
        }
    types = [e["type"] for e in timeline]
    completed = [e for e in timeline if e["type"] == "upload.completed"]
    assert len(completed) == 1 and completed[0]["details"]["upload"] == first.upload_id
    assert completed[0]["index"] == detail(client, first.id, investigator)["log_index"]
    received_events = [e for e in timeline if e["type"] == "evidence.received"]
    assert [e["subject"] for e in received_events] == [first.id]
    assert received_events[0]["index"] > completed[0]["index"]
    assert "consent.given" in types and "submission.created" in types
    # Nothing of the other file of the same submission.
    assert all(e["details"].get("upload") != second.upload_id for e in timeline)
    assert all(e["subject"] != second.id for e in timeline)
    assert [e["index"] for e in timeline] == sorted(e["index"] for e in timeline)
    # Reading the timeline is itself on the record.
    assert of_type(client, "evidence.timeline_viewed", first.id)


# --- witness contact details -------------------------------------------------------------------


def test_contact_details_are_for_supervisors_and_logged(
    client: TestClient, item: Item, investigator: dict[str, str], supervisor: dict[str, str]
) -> None:
    url = f"/api/v1/evidence/{item.id}/contact"
    before = log_size(client)
    r = client.get(url, headers=supervisor)
    assert r.status_code == 200, r.text
    assert r.json() == CONTACT
    viewed = [e for e in events(client, before) if e["type"] == "witness.contact_viewed"]
    assert len(viewed) == 1
    assert viewed[0]["subject"] == item.submission_id
    assert viewed[0]["details"] == {"evidence": item.id}
    assert viewed[0]["actor"].endswith(":supervisor")

    before = log_size(client)
    r = client.get(url, headers=investigator)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert [e for e in events(client, before) if e["type"] == "witness.contact_viewed"] == []

    every_role = {role: staff_login(client, role) for role in ("auditor", "admin")}
    every_role |= {"investigator": investigator, "supervisor": supervisor}
    for role, headers in every_role.items():
        r = client.get(f"/api/v1/evidence/{item.id}", headers=headers)
        for value in CONTACT.values():
            assert value not in r.text, f"the detail shows {value!r} to {role}"
        if r.status_code == 200:
            assert r.json()["has_contact"] is True
    # Nor does the custody log ever hold them.
    everything = json.dumps(events(client))
    assert not [v for v in CONTACT.values() if v in everything]


def test_contact_of_a_witness_who_left_none_is_404(
    client: TestClient, video: Path, supervisor: dict[str, str]
) -> None:
    plain = received(client, video.read_bytes())
    r = client.get(f"/api/v1/evidence/{plain.id}/contact", headers=supervisor)
    assert r.status_code == 404
    assert of_type(client, "witness.contact_viewed") == []
    assert detail(client, plain.id, supervisor)["has_contact"] is False
