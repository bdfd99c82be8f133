"""Spanish by default, English by switch or Accept-Language, and no witness-facing text
outside the catalogue."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from portal.config import Settings
from portal.submissions import consent as consent_docs
from portal.web import i18n
from tests.support.web import csrf_of, received, web_app

TEMPLATES = resources.files("portal.web").joinpath("templates")
WITNESS_JS = resources.files("portal.web").joinpath("static", "witness.js")


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url="https://testserver") as client:
        yield client


def templates() -> Iterator[tuple[str, str]]:
    def walk(node: object, prefix: str) -> Iterator[tuple[str, str]]:
        for child in node.iterdir():  # type: ignore[attr-defined]
            name = f"{prefix}{child.name}"
            if child.is_dir():
                yield from walk(child, name + "/")
            elif child.name.endswith(".html"):
                yield name, child.read_text(encoding="utf-8")

    yield from walk(TEMPLATES, "")


def test_every_entry_has_both_languages_and_every_used_key_exists() -> None:
    for key, entry in i18n.CATALOGUE.items():
        assert set(entry) == set(i18n.LANGUAGES), key
        assert all(entry[lang].strip() for lang in i18n.LANGUAGES), key
        # The same placeholders in both languages.
        assert set(re.findall(r"{(\w+)}", entry["es"])) == set(
            re.findall(r"{(\w+)}", entry["en"])
        ), key
    used = set()
    for name, text in templates():
        for key in re.findall(r"""\bt\(\s*["']([\w.\-]+)["']\s*[,)]""", text):
            used.add(key)
            assert key in i18n.CATALOGUE, f"{name}: {key}"
    assert len(used) > 100
    js = WITNESS_JS.read_text(encoding="utf-8")
    for key in re.findall(r"""\bt\(\s*"(\w+)"\s*[,)]""", js):
        assert f"js.{key}" in i18n.CATALOGUE, key


def test_accept_language_parsing() -> None:
    assert i18n.parse_accept_language("es-MX,es;q=0.9,en;q=0.8") == [
        ("es", 1.0),
        ("es", 0.9),
        ("en", 0.8),
    ]
    assert i18n.parse_accept_language("fr;q=0.2, en;q=0.7, de") == [
        ("de", 1.0),
        ("en", 0.7),
        ("fr", 0.2),
    ]
    assert i18n.parse_accept_language("en;q=0, es;q=bad") == []
    assert i18n.choose(None, None, "de, en-GB;q=0.5") == "en"
    assert i18n.choose(None, None, "de, fr") == "es"
    assert i18n.choose(None, None, None) == "es"
    assert i18n.choose(None, "en", "es") == "en"  # the remembered switch beats the browser
    assert i18n.choose("es", "en", "en") == "es"
    assert i18n.choose("xx", None, None) == "es"


def lang_of(html: str) -> str:
    found = re.search(r'<html lang="(\w+)">', html)
    assert found
    return found.group(1)


def test_spanish_by_default_english_by_switch_or_browser(web: TestClient) -> None:
    assert lang_of(web.get("/web/").text) == "es"
    r = web.get("/web/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert lang_of(r.text) == "en" and "Hand over a video or photo" in r.text
    assert "portal_lang" not in r.headers.get("set-cookie", "")  # nothing stored unasked

    r = web.get("/web/?lang=en")
    assert lang_of(r.text) == "en"
    assert "portal_lang=en" in r.headers["set-cookie"]
    # Remembered, whatever the browser says; the switch goes back.
    r = web.get("/web/status", headers={"Accept-Language": "es"})
    assert lang_of(r.text) == "en"
    assert 'href="/web/status?lang=es"' in r.text
    r = web.get("/web/?lang=es")
    assert lang_of(r.text) == "es"
    assert lang_of(web.get("/web/").text) == "es"
    # The consent is given in the language the witness read it in.
    assert "Usted decide entregar" in web.get("/web/").text


class VisibleText(HTMLParser):
    """Text a person sees or hears: text nodes (not scripts) and labelling attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code"):
            self.skip += 1
        for name, value in attrs:
            if name in ("aria-label", "placeholder", "title", "alt") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.parts.append(data.strip())


# Units, a time zone and punctuation are the same in both languages.
# A local time as the pages write it (month names come from the locale data, not the catalogue).
LOCAL_TIME = re.compile(r"\d{1,2} \w{3,5}\.? \d{4}, \d\d:\d\d \(UTC[+-]\d\d:\d\d\)")
NEUTRAL = re.compile(r"^(?:[\d\s.,:;\u00b7%()/\-\u2013\u2014\u2026+\u00d7#]|\bB\b|kB|MB|GB|UTC)*$")


def web_app_runtime_url(web: TestClient) -> str:
    return str(web.app.state.runtime.settings.public_url).rstrip("/") + "/web/status"  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["es", "en"])
def test_witness_pages_have_no_text_outside_the_catalogue(
    web: TestClient, video: Path, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    """Render every witness page with a catalogue of empty strings: what is left is data."""
    sub_id, token, _ = received(web, video)
    code = token  # a readable code is the witness token itself
    doc = consent_docs.current()
    status_url = web_app_runtime_url(web)
    data = {code, sub_id, "clip.mp4", doc.sha256, status_url, *doc.text.values()}
    data |= {s["text"][lg] for s in doc.scopes for lg in i18n.LANGUAGES}
    data |= {s["name"] for s in doc.scopes}
    monkeypatch.setattr(
        i18n, "CATALOGUE", {k: {lg: "" for lg in i18n.LANGUAGES} for k in i18n.CATALOGUE}
    )
    web.cookies.set("portal_lang", lang)
    csrf = csrf_of(web)
    pages = [
        web.get("/web/"),
        web.get("/web/status"),
        web.get("/web/receipt"),
        web.get(f"/web/upload/{sub_id}"),
        web.get("/web/no-such-page"),
        web.post("/web/receipt", data={"csrf": csrf, "code": code}),
        web.post("/web/receipt/print", data={"csrf": csrf, "code": code}),
        web.post("/web/status", data={"csrf": csrf, "code": code}),
        web.post("/web/status", data={"csrf": csrf, "code": "wrong"}),
        web.post("/web/status", data={"code": code}),  # CSRF refusal page
        web.post("/web/withdraw", data={"csrf": csrf, "code": code}),
        web.post(
            "/web/submissions",
            data={"csrf": csrf, "consent_version": "1", "contact_email": "not an address"},
        ),
        web.post(
            "/web/submissions",
            data={"csrf": csrf, "consent_version": "1", "scopes": ["investigation"]},
        ),
        web.post("/web/withdraw", data={"csrf": csrf, "code": code, "confirm": "yes"}),
    ]
    for r in pages:
        assert r.status_code < 500, r.text[:300]
        parser = VisibleText()
        parser.feed(r.text)
        leftover = []
        for part in parser.parts:
            for value in sorted(data, key=len, reverse=True):
                part = part.replace(value, "")
            part = LOCAL_TIME.sub("", part)
            if not NEUTRAL.match(part):
                leftover.append(part)
        assert leftover == [], f"{r.request.method} {r.request.url.path}: {leftover}"


@pytest.mark.parametrize(("lang", "words"), [("es", "tal cual"), ("en", "exactly as it is")])
def test_the_upload_page_says_an_original_carries_what_its_device_wrote(
    web: TestClient, video: Path, lang: str, words: str
) -> None:
    sub_id, _, _ = received(web, video)
    web.cookies.set("portal_lang", lang)
    page = web.get(f"/web/upload/{sub_id}").text
    assert 'id="metadata-hint"' in page and words in page and "GPS" in page
