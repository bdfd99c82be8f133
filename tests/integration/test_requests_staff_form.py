"""Staff make and end evidence requests in the web pages (issue 19: requests were API-only):
a public request with its address and poster, a one-time link shown once, refusals that store
nothing, closing with a ticked box."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from portal.auth.service import add_user
from portal.config import Settings
from portal.db import transaction
from portal.requests.models import EvidenceRequest
from tests.support.api import PASSWORD, runtime
from tests.support.custody import events
from tests.support.web import csrf_of, web_app

HTTPS = "https://testserver"


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url=HTTPS) as client:
        yield client


@pytest.fixture
def ivan(web: TestClient) -> TestClient:
    rt = runtime(web)
    with transaction(rt.sessions) as db:
        add_user(db, name="ivan", role="investigator", password=PASSWORD, now=rt.clock())
    browser = TestClient(web.app, base_url=HTTPS)
    r = browser.post(
        "/web/staff/login",
        data={
            "csrf": csrf_of(browser, "/web/staff/login"),
            "username": "ivan",
            "password": PASSWORD,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return browser


def local(web: TestClient, delta: timedelta) -> str:
    """A `datetime-local` value `delta` from now, in the portal's zone."""
    rt = runtime(web)
    at = (rt.clock() + delta).astimezone(ZoneInfo(rt.settings.time_zone))
    return at.strftime("%Y-%m-%dT%H:%M")


def form(web: TestClient, case_id: str, **extra: str) -> dict[str, object]:
    return {
        "case_id": case_id,
        "title_es": "¿Grabó Av. Juárez y 16 de Septiembre?",
        "title_en": "Did you film Av. Juárez at 16 de Septiembre?",
        "description_es": "El 30 de octubre entre las 21:00 y las 21:30.",
        "description_en": "On 30 October between 21:00 and 21:30.",
        "place": "Av. Juárez y 16 de Septiembre",
        "window_start": local(web, -timedelta(days=2)),
        "window_end": local(web, -timedelta(days=2) + timedelta(minutes=30)),
        "expires_at": local(web, timedelta(days=30)),
        "media_kinds": ["video", "photo"],
        **extra,
    }


def post(browser: TestClient, path: str, data: dict[str, object]) -> object:
    csrf = csrf_of(browser, "/web/staff/requests/new")
    return browser.post(path, data={"csrf": csrf, **data}, follow_redirects=False)


def case(browser: TestClient) -> str:
    r = post(browser, "/web/staff/cases", {"title": "Homicidio en Av. Juárez"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    return str(r.headers["location"]).rsplit("/", 1)[1]  # type: ignore[attr-defined]


def stored(web: TestClient) -> int:
    with runtime(web).sessions() as db:
        return int(db.scalar(select(func.count()).select_from(EvidenceRequest)) or 0)


def test_a_public_request_made_in_the_page(web: TestClient, ivan: TestClient) -> None:
    case_id = case(ivan)
    page = ivan.get("/web/staff/requests/new").text
    assert "Nueva petición" in page and "Homicidio en Av. Juárez" in page
    r = post(ivan, "/web/staff/requests", form(web, case_id))
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    made = r.text  # type: ignore[attr-defined]
    (code,) = re.findall(r"<code>([0-9A-Z]{5}-[0-9A-Z]{5})</code>", made)
    assert f"/r/{code}" in made and "poster.pdf" in made
    listing = ivan.get("/web/staff/requests").text
    assert code in listing and "pública" in listing and "abierta" in listing
    assert "Homicidio en Av. Juárez" in listing
    with runtime(web).sessions() as db:
        (req,) = db.scalars(select(EvidenceRequest))
        # The window typed as local wall-clock time is stored as that instant.
        assert req.window_end is not None and req.window_start is not None
        assert req.window_end - req.window_start == timedelta(minutes=30)
        assert sorted(req.media_kinds) == ["photo", "video"]
    public = web.get(f"/web/r/{code}").text
    assert "¿Grabó Av. Juárez" in public and "Homicidio" not in public

    # Ending takes a ticked box; without it nothing changes.
    r = post(ivan, f"/web/staff/requests/{req.id}/end", {"how": "close"})
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert web.get(f"/web/r/{code}").status_code == 200
    r = post(ivan, f"/web/staff/requests/{req.id}/end", {"how": "close", "confirm": "yes"})
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert web.get(f"/web/r/{code}").status_code == 410
    assert "cerrada" in ivan.get("/web/staff/requests").text
    assert [e["type"] for e in events(web) if e["subject"] == req.id][-1] == "request.closed"


def test_a_one_time_link_is_shown_once_and_names_nobody(web: TestClient, ivan: TestClient) -> None:
    case_id = case(ivan)
    extra = {"recipient_name": "Rosa Testigo", "recipient_phone": "+52 656 123 4567"}
    r = post(ivan, "/web/staff/requests", form(web, case_id, **extra))
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    made = r.text  # type: ignore[attr-defined]
    assert "no se vuelve a mostrar" in made
    (link,) = set(re.findall(r"https://testserver/r/([0-9A-Z-]+)", made))
    listing = ivan.get("/web/staff/requests").text
    assert "una persona" in listing and link not in listing
    assert "Rosa" not in listing and "Rosa Testigo" not in str(events(web))
    assert web.get(f"/web/r/{link}").status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"window_end": "WINDOW_BEFORE"}, "window"),
        ({"expires_at": "PAST"}, "expires_at"),
        ({"title_es": ""}, "title_es"),
        ({"expires_at": "not-a-date"}, "expires_at"),
        ({"case_id": "no-such-case"}, "case"),
        # The default deployment allows no webhook and has no SMTP server.
        ({"notify_url": "http://169.254.169.254/latest/meta-data/"}, "notify_url"),
        ({"notify_email": "ivan@example.org"}, "notify_email"),
    ],
)
def test_bad_requests_store_nothing(
    web: TestClient, ivan: TestClient, change: dict[str, str], field: str
) -> None:
    case_id = case(ivan)
    data = form(web, case_id)
    for k, v in change.items():
        data[k] = {
            "WINDOW_BEFORE": local(web, -timedelta(days=3)),
            "PAST": local(web, -timedelta(hours=1)),
        }.get(v, v)
    before = len(events(web))
    r = post(ivan, "/web/staff/requests", data)
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert "<html" in r.text and field in r.text  # type: ignore[attr-defined]
    assert stored(web) == 0
    assert len(events(web)) == before


def test_the_author_asks_for_notifications_in_the_page(web: TestClient, ivan: TestClient) -> None:
    rt = runtime(web)
    hooks = "https://hooks.example.org/portal/"
    rt.settings = rt.settings.model_copy(
        update={
            "notify_webhook_allowed": [hooks],
            "notify_webhook_secret": "whsec_" + "A" * 44,
            "smtp_host": "127.0.0.1",
        }
    )
    page = ivan.get("/web/staff/requests/new").text
    assert "Avisarme de cada archivo" in page and 'name="notify_url"' in page
    extra = {"notify_url": hooks + "case-1", "notify_email": "ivan@example.org"}
    r = post(ivan, "/web/staff/requests", form(web, case(ivan), **extra))
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    with rt.sessions() as db:
        (req,) = db.scalars(select(EvidenceRequest))
        assert (req.notify_url, req.notify_email) == (hooks + "case-1", "ivan@example.org")
