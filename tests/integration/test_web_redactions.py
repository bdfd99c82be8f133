"""Redactions on the staff item page (issue 18: they existed only in the API): an investigator
defines one as rows of a form, previews it, a second person approves it with a ticked box,
the copy plays beside its label and provenance, and a public release is asked only where the
witness consented to one. Every refused form is said in the page's language and changes
nothing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from portal.auth.service import add_user
from portal.changes.models import ChangeRequest
from portal.config import Settings
from portal.db import transaction
from portal.redactions.models import Redaction
from tests.support.api import CONSENT, PASSWORD, new_submission, runtime
from tests.support.custody import log_size, of_type
from tests.support.redaction import probed, video_with_sound
from tests.support.retention import Witness, send, withdraw
from tests.support.web import csrf_of, web_app

pytestmark = pytest.mark.both_backends
HTTPS = "https://testserver"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return video_with_sound(tmp_path_factory.mktemp("clip") / "clip.mp4").read_bytes()


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url=HTTPS) as client:
        yield client


def logged_in(web: TestClient, name: str, role: str) -> TestClient:
    rt = runtime(web)
    with transaction(rt.sessions) as db:
        add_user(db, name=name, role=role, password=PASSWORD, now=rt.clock())
    browser = TestClient(web.app, base_url=HTTPS)
    data = {"csrf": csrf_of(browser, "/web/staff/login"), "username": name, "password": PASSWORD}
    r = browser.post("/web/staff/login", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    return browser


def received(web: TestClient, clip: bytes, *scopes: str) -> tuple[Witness, str]:
    consent = {**CONSENT, "scopes": [*CONSENT["scopes"], *scopes]}
    sub_id, token = new_submission(web, consent=consent)
    witness = Witness(sub_id, {"Authorization": f"Bearer {token}"})
    return witness, probed(web, send(web, witness, clip))


def rows(*ops: dict[str, Any]) -> dict[str, list[str]]:
    """Form rows (four, as the page offers), the unused ones left empty."""
    fields = ("kind", "x", "y", "w", "h", "start", "end")
    padded = [*ops, *[{}] * (4 - len(ops))]
    return {f"op_{f}": [str(op.get(f, "")) for op in padded] for f in fields}


BOX = {"kind": "box_blur", "x": 20, "y": 20, "w": 120, "h": 100, "start": 0, "end": 2}
MUTE = {"kind": "mute", "start": "0,5", "end": 1.5}  # a decimal comma, as Spanish speakers type


def define(browser: TestClient, item: str, form: dict[str, Any], lang: str = "en") -> Any:
    data = {"csrf": csrf_of(browser, "/web/staff/login"), **form}
    return browser.post(
        f"/web/staff/evidence/{item}/redactions?lang={lang}", data=data, follow_redirects=False
    )


def post(browser: TestClient, path: str, item: str, **data: str) -> Any:
    data["csrf"] = csrf_of(browser, "/web/staff/login")
    return browser.post(path, data=data, follow_redirects=False)


def count(web: TestClient) -> int:
    with runtime(web).sessions() as db:
        return db.query(Redaction).count()


def the_redaction(web: TestClient) -> Redaction:
    with runtime(web).sessions() as db:
        (row,) = db.query(Redaction).all()
        db.expunge(row)
        return row


def test_define_preview_approve_play_and_ask_release(web: TestClient, clip: bytes) -> None:
    ivan, sara = logged_in(web, "ivan", "investigator"), logged_in(web, "sara", "supervisor")
    _, item = received(web, clip, "public_appeal")
    source = hashlib.sha256(clip).hexdigest()
    page = ivan.get(f"/web/staff/evidence/{item}?lang=en").text
    assert 'id="redaction-form"' in page and "No redactions yet." in page

    r = define(ivan, item, {"purpose": "public_appeal", **rows(BOX, MUTE)})
    assert r.status_code == 303, r.text
    row = the_redaction(web)
    assert row.state == "requested" and [op["type"] for op in row.operations] == ["box", "mute"]
    assert row.operations[0]["style"] == "blur" and row.operations[1]["start"] == 0.5
    page = ivan.get(f"/web/staff/evidence/{item}").text
    assert "awaiting approval" in page and "blurred box at x 20, y 20, 120 x 100 pixels" in page
    assert "another member of staff approves it" in page and "approve-form" not in page

    page = sara.get(f"/web/staff/evidence/{item}?lang=en&preview={row.id}&at=0.4").text
    assert f'src="/web/staff/redactions/{row.id}/preview?at=0.4"' in page
    png = sara.get(f"/web/staff/redactions/{row.id}/preview?at=0.4")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert [e["details"]["what"] for e in of_type(web, "redaction.viewed", item)] == ["preview"]

    r = post(sara, f"/web/staff/redactions/{row.id}/approve", item, confirm="yes")
    assert r.status_code == 303, r.text
    row = the_redaction(web)
    assert row.state == "rendered" and row.approved_by is not None
    page = sara.get(f"/web/staff/evidence/{item}").text
    assert "REDACTED COPY — not the original" in page and source in page
    assert row.output_sha256 is not None and row.output_sha256 in page
    (derived,) = [e for e in of_type(web, "evidence.derived", item) if "redaction" in e["details"]]
    assert f"Show log entry {derived['seq']} as recorded" in page
    assert f'src="/web/staff/redactions/{row.id}/content"' in page
    assert 'class="confirm-form release-form"' in page

    copy = sara.get(f"/web/staff/redactions/{row.id}/content")
    assert copy.status_code == 200 and copy.headers["x-original-sha256"] == source
    assert hashlib.sha256(copy.content).hexdigest() == row.output_sha256
    assert [e["details"]["what"] for e in of_type(web, "redaction.viewed", item)][-1] == "copy"

    size = log_size(web)
    r = post(ivan, f"/web/staff/redactions/{row.id}/release", item)  # no tick
    assert r.status_code == 422 and log_size(web) == size
    with runtime(web).sessions() as db:
        assert db.query(ChangeRequest).count() == 0
    r = post(ivan, f"/web/staff/redactions/{row.id}/release", item, confirm="yes")
    assert r.status_code == 303, r.text
    with runtime(web).sessions() as db:
        (asked,) = db.query(ChangeRequest).filter_by(kind="release", target=row.id).all()
    assert asked.state == "pending"
    page = ivan.get(f"/web/staff/evidence/{item}?lang=en").text
    assert "Release asked; awaiting a supervisor" in page
    assert 'class="confirm-form release-form"' not in page


def test_the_section_speaks_spanish(web: TestClient, clip: bytes) -> None:
    ivan = logged_in(web, "ivan", "investigator")
    _, item = received(web, clip)
    assert define(ivan, item, {"purpose": "disclosure", **rows(BOX)}, lang="es").status_code == 303
    page = ivan.get(f"/web/staff/evidence/{item}?lang=es").text
    for words in ("Copias redactadas", "espera aprobación", "recuadro difuminado", "Finalidad"):
        assert words in page
    assert "Redactions" not in page and "awaiting approval" not in page


BAD = [
    ({"purpose": "", **rows(BOX)}, "elija una finalidad"),
    ({"purpose": "gossip", **rows(BOX)}, "elija una finalidad"),
    ({"purpose": "disclosure", **rows()}, "al menos una fila"),
    ({"purpose": "disclosure", **rows({**BOX, "kind": "smudge"})}, "fila 1: tipo desconocido"),
    ({"purpose": "disclosure", **rows({**BOX, "x": "abc"})}, "«x» debe ser un número entero"),
    ({"purpose": "disclosure", **rows({**BOX, "x": "2.5"})}, "«x» debe ser un número entero"),
    ({"purpose": "disclosure", **rows({**MUTE, "start": "-1"})}, "«inicio (s)» debe ser"),
    ({"purpose": "disclosure", **rows({**MUTE, "end": "nan"})}, "«fin (s)» debe ser"),
    ({"purpose": "disclosure", **rows(BOX, {**MUTE, "end": 0.2})}, "fila 2: el fin debe ser"),
    ({"purpose": "disclosure", **rows({**BOX, "w": 1})}, "al menos 2 x 2 píxeles"),
    ({"purpose": "disclosure", **rows({**BOX, "x": 250})}, "ancho de la imagen (320)"),
    ({"purpose": "disclosure", **rows({**BOX, "y": 200})}, "alto de la imagen (240)"),
    ({"purpose": "disclosure", **rows({**MUTE, "end": 9})}, "posterior al final del video"),
    ({"purpose": "disclosure", **{**rows(BOX), "op_end": ["2"]}}, "filas llegaron incompletas"),
]


@pytest.mark.parametrize(("form", "said"), BAD)
def test_a_bad_form_is_said_in_spanish_and_changes_nothing(
    web: TestClient, clip: bytes, form: dict[str, Any], said: str
) -> None:
    ivan = logged_in(web, "ivan", "investigator")
    _, item = received(web, clip)
    size = log_size(web)
    r = define(ivan, item, form, lang="es")
    assert r.status_code == 422, r.text
    assert "Algunos datos no son válidos" in r.text and said in r.text, r.text
    assert count(web) == 0 and log_size(web) == size


def test_bad_forms_are_said_in_english_too(web: TestClient, clip: bytes) -> None:
    ivan = logged_in(web, "ivan", "investigator")
    _, item = received(web, clip)
    size = log_size(web)
    r = define(ivan, item, {"purpose": "disclosure", **rows({**BOX, "x": 250})})
    assert r.status_code == 422 and "beyond the picture&#39;s width (320)" in r.text, r.text
    assert count(web) == 0 and log_size(web) == size


def test_approval_needs_another_person_and_a_tick(web: TestClient, clip: bytes) -> None:
    ivan, sara = logged_in(web, "ivan", "investigator"), logged_in(web, "sara", "supervisor")
    _, item = received(web, clip)
    assert define(ivan, item, {"purpose": "disclosure", **rows(BOX)}).status_code == 303
    rid = the_redaction(web).id
    size = log_size(web)
    r = post(ivan, f"/web/staff/redactions/{rid}/approve?lang=es", item, confirm="yes")
    assert r.status_code == 409 and "Otra persona del personal debe aprobar" in r.text
    r = post(sara, f"/web/staff/redactions/{rid}/approve", item)
    assert r.status_code == 422 and "Marque la casilla para confirmar" in r.text
    assert the_redaction(web).state == "requested" and log_size(web) == size
    page = sara.get(f"/web/staff/evidence/{item}").text
    assert "approve-form" in page and "confirm-form release-form" not in page


def test_no_release_without_public_appeal_consent(web: TestClient, clip: bytes) -> None:
    ivan, sara = logged_in(web, "ivan", "investigator"), logged_in(web, "sara", "supervisor")
    _, item = received(web, clip)
    define(ivan, item, {"purpose": "disclosure", **rows(BOX)})
    rid = the_redaction(web).id
    post(sara, f"/web/staff/redactions/{rid}/approve", item, confirm="yes")
    assert the_redaction(web).state == "rendered"
    page = sara.get(f"/web/staff/evidence/{item}?lang=en").text
    assert "REDACTED COPY" in page and "confirm-form release-form" not in page  # not offered
    size = log_size(web)
    r = post(sara, f"/web/staff/redactions/{rid}/release?lang=es", item, confirm="yes")
    assert r.status_code == 409 and "no consintió un llamamiento público" in r.text
    with runtime(web).sessions() as db:
        assert db.query(ChangeRequest).filter_by(kind="release").count() == 0
    assert log_size(web) == size


def test_a_withdrawn_item_no_case_keeps_is_refused(web: TestClient, clip: bytes) -> None:
    ivan = logged_in(web, "ivan", "investigator")
    witness, item = received(web, clip)
    assert withdraw(web, witness).status_code in (200, 202)
    size = log_size(web)
    r = define(ivan, item, {"purpose": "disclosure", **rows(BOX)})
    assert r.status_code == 409 and re.search("withdr[ae]w", r.text), r.text
    assert count(web) == 0 and log_size(web) == size
