"""A form the schema refuses comes back as a page in the page's language (issue 17: "422
pages show pydantic's validation detail in English inside Spanish pages"): each field's
problem in words, its name kept, nothing changed; the JSON API keeps its own message."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from portal.auth.service import add_user
from portal.cases import service as cases
from portal.config import Settings
from portal.db import transaction
from tests.support.api import PASSWORD, runtime, staff_login
from tests.support.web import csrf_of, web_app

HTTPS = "https://testserver"
# pydantic's own English, which no page may show.
PYDANTIC = ("String should", "Input should", "Field required", "should have at")


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url=HTTPS) as client:
        yield client


def signed_in(web: TestClient, lang: str) -> TestClient:
    rt = runtime(web)
    with transaction(rt.sessions) as db:
        add_user(db, name="sara", role="supervisor", password=PASSWORD, now=rt.clock())
    other = TestClient(web.app, base_url=HTTPS, headers={"Accept-Language": lang})
    csrf = csrf_of(other, "/web/staff/login")
    r = other.post(
        "/web/staff/login",
        data={"csrf": csrf, "username": "sara", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return other


def refused(client: TestClient, path: str, form_page: str, **data: str) -> str:
    csrf = csrf_of(client, form_page)
    r = client.post(path, data={"csrf": csrf, **data}, follow_redirects=False)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("text/html")
    text = html.unescape(r.text)
    assert not [p for p in PYDANTIC if p in text], text
    return text


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "es",
            [
                "title: demasiado largo (máximo 600)",  # the form's own limit
                "title: demasiado largo (máximo 300)",  # the API schema's limit
                "title: demasiado corto (mínimo 1)",
                "offense: no es una de las opciones permitidas",
            ],
        ),
        (
            "en",
            [
                "title: too long (at most 600)",
                "title: too long (at most 300)",
                "title: too short (at least 1)",
                "offense: is not one of the allowed choices",
            ],
        ),
    ],
)
def test_staff_form_errors_in_the_page_language(
    web: TestClient, lang: str, words: list[str]
) -> None:
    sara = signed_in(web, lang)
    forms = [
        {"title": "x" * 700},
        {"title": "x" * 400},
        {"title": "   "},
        {"title": "Av. Juárez", "offense": "bogus"},
    ]
    for form, expected in zip(forms, words, strict=True):
        text = refused(sara, "/web/staff/cases", "/web/staff/cases", **form)
        assert expected in text, (form, text)
        assert f'lang="{lang}"' in text
    with runtime(web).sessions() as db:
        assert cases.list_cases(db) == []  # nothing was created


@pytest.mark.parametrize(
    ("lang", "words"),
    [("es", "code: demasiado largo (máximo 300)"), ("en", "code: too long (at most 300)")],
)
def test_witness_form_errors_in_the_page_language(web: TestClient, lang: str, words: str) -> None:
    web.headers["Accept-Language"] = lang
    for path in ("/web/receipt/print", "/web/receipt/pdf"):
        text = refused(web, path, "/web/receipt", code="A" * 400)
        assert words in text, text
    text = refused(web, "/web/receipt/print", "/web/receipt")
    assert {"es": "code: falta este dato", "en": "code: this is required"}[lang] in text


def test_the_json_api_keeps_its_error_and_message(web: TestClient) -> None:
    headers = staff_login(web, "supervisor")
    r = web.post("/api/v1/cases", json={"title": ""}, headers=headers)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid" and "String should have at least 1" in body["message"]
