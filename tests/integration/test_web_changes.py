"""The two-person rule in the staff pages: a pending offence downgrade shows on its case page,
and the changes page lets the author withdraw and a second person confirm (issue 14: "the
staff web page shows nothing of a pending offence downgrade")."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from portal.auth.service import add_user
from portal.cases import service as cases
from portal.config import Settings
from portal.db import transaction
from tests.support.api import PASSWORD, runtime
from tests.support.web import csrf_of, web_app

HTTPS = "https://testserver"


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(web_app(settings), base_url=HTTPS) as client:
        yield client


def browser(web: TestClient, name: str, role: str) -> TestClient:
    """A signed-in browser of its own (cookie jar) on the running app."""
    rt = runtime(web)
    with transaction(rt.sessions) as db:
        add_user(db, name=name, role=role, password=PASSWORD, now=rt.clock())
    other = TestClient(web.app, base_url=HTTPS)
    csrf = csrf_of(other, "/web/staff/login")
    r = other.post(
        "/web/staff/login",
        data={"csrf": csrf, "username": name, "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return other


def post(client: TestClient, path: str, **data: str) -> None:
    csrf = csrf_of(client, "/web/staff/cases")
    r = client.post(path, data={"csrf": csrf, **data}, follow_redirects=False)
    assert r.status_code == 303, r.text


def test_a_pending_downgrade_shows_on_the_case_and_a_second_supervisor_confirms_it(
    web: TestClient,
) -> None:
    ivan = browser(web, "ivan", "investigator")
    sup = browser(web, "sara", "supervisor")
    post(ivan, "/web/staff/cases", title="Av. Juárez", offense="homicide")
    rt = runtime(web)
    with rt.sessions() as db:
        ((case, _),) = cases.list_cases(db)
        case_id = case.id
    post(ivan, f"/web/staff/cases/{case_id}/close", offense="misdemeanor", confirm="yes")

    page = ivan.get(f"/web/staff/cases/{case_id}").text
    assert "Cambio pendiente de confirmación (aún no aplicado)" in page
    assert "homicidio → falta" in page
    assert "Pedido por ivan" in page and "Retirar mi petición" in page
    assert "Confirmar y aplicar" not in page  # the author may not confirm
    # The case is still a homicide until a second supervisor confirms.
    with rt.sessions() as db:
        assert cases.get(db, case_id=case_id).offense == "homicide"

    listing = sup.get("/web/staff/changes").text
    assert "Confirmar y aplicar" in listing and "Retirar mi petición" not in listing
    english = sup.get("/web/staff/changes?lang=en").text
    assert "Changes to confirm" in english and "homicide → misdemeanor" in english
    sup.get("/web/staff/changes?lang=es")  # the choice sticks; back to Spanish
    (request_id,) = re.findall(r'/web/staff/changes/(\w+)/confirm"', listing)
    # Without the ticked box nothing is applied.
    csrf = csrf_of(sup, "/web/staff/changes")
    r = sup.post(f"/web/staff/changes/{request_id}/confirm", data={"csrf": csrf})
    assert r.status_code == 422 and "Marque la casilla" in r.text
    with rt.sessions() as db:
        assert cases.get(db, case_id=case_id).offense == "homicide"
    post(sup, f"/web/staff/changes/{request_id}/confirm", confirm="yes")
    with rt.sessions() as db:
        assert cases.get(db, case_id=case_id).offense == "misdemeanor"
    assert "No hay cambios pendientes." in sup.get("/web/staff/changes").text
    assert "Cambio pendiente" not in ivan.get(f"/web/staff/cases/{case_id}").text


def test_the_author_withdraws_in_the_page_and_refusals_show_an_error(web: TestClient) -> None:
    sup = browser(web, "sara", "supervisor")
    other = browser(web, "otto", "supervisor")
    post(
        sup,
        "/web/staff/cases",
        title="Calle 16",
        offense="felony",
    )
    rt = runtime(web)
    with rt.sessions() as db:
        ((case, _),) = cases.list_cases(db)
    post(sup, f"/web/staff/cases/{case.id}/close", offense="misdemeanor", confirm="yes")
    (request_id,) = re.findall(
        r'/web/staff/changes/(\w+)/withdraw"', sup.get("/web/staff/changes").text
    )
    # Not the author: refused with a page, nothing changes.
    csrf = csrf_of(other, "/web/staff/changes")
    r = other.post(f"/web/staff/changes/{request_id}/withdraw", data={"csrf": csrf})
    assert r.status_code == 409 and "<html" in r.text
    post(sup, f"/web/staff/changes/{request_id}/withdraw")
    assert "No hay cambios pendientes." in sup.get("/web/staff/changes").text
    with rt.sessions() as db:
        assert cases.get(db, case_id=case.id).offense == "felony"
    auditor = browser(web, "aude", "auditor")
    assert auditor.get("/web/staff/changes").status_code == 403
