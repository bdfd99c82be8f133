"""flows/oidc_signin.py on both backends: what a provider's claims do to accounts and roles
after the ID token has been checked (the protocol itself: tests/system/test_web_oidc.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from portal.auth import service as auth
from portal.auth.models import StaffUser
from portal.changes import service as changes
from portal.custody import service as custody
from portal.db import transaction
from portal.flows.oidc_signin import RoleMapping, SignIn, sign_in
from portal.runtime import Runtime
from tests.support.api import PASSWORD, runtime

pytestmark = pytest.mark.both_backends

MAPPING = RoleMapping(
    issuer="https://id.example.org",
    claim="groups",
    roles={"inv": "investigator", "aud": "auditor", "sup": "supervisor"},
    mfa_amr=frozenset({"mfa"}),
)


def _sign_in(rt: Runtime, sub: str, *groups: str, **extra: Any) -> SignIn:
    claims = {"sub": sub, "preferred_username": sub, "groups": list(groups), **extra}
    with transaction(rt.sessions) as db:
        return sign_in(db, claims=claims, mapping=MAPPING, policy=rt.login_policy, now=rt.clock())


def _user(rt: Runtime, name: str) -> StaffUser:
    with rt.sessions() as db:
        return db.scalars(select(StaffUser).where(StaffUser.name == name)).one()


def _last(rt: Runtime) -> dict[str, Any]:
    with rt.sessions() as db:
        size = custody.tree_size(db)
        [entry] = custody.entries(db, start=size - 1, end=size)
        return dict(json.loads(entry.event))


def test_a_claim_moving_the_role_is_followed_and_logged(client: TestClient) -> None:
    rt = runtime(client)
    assert _sign_in(rt, "eva", "inv").token is not None
    assert _sign_in(rt, "eva", "aud").token is not None
    assert _user(rt, "eva").role == "auditor"
    with rt.sessions() as db:
        size = custody.tree_size(db)
        types = [json.loads(e.event)["type"] for e in custody.entries(db, start=0, end=size)]
    assert types.count("staff.role_changed") == 1 and types[-1] == "staff.login"


def test_a_claim_raising_to_supervisor_asks_a_second_admin_once(client: TestClient) -> None:
    rt = runtime(client)
    _sign_in(rt, "eva", "inv")
    for _ in range(2):
        assert _sign_in(rt, "eva", "sup").token is not None
    eva = _user(rt, "eva")
    assert eva.role == "investigator"  # until a portal admin confirms
    with rt.sessions() as db:
        [req] = changes.pending(db, target=eva.id)
    assert req.new == {"role": "supervisor"}


@pytest.mark.parametrize(
    ("groups", "reason"), [((), "unmapped_role"), (("inv", "aud"), "several_roles")]
)
def test_no_or_several_mapped_roles_make_no_account(
    client: TestClient, groups: tuple[str, ...], reason: str
) -> None:
    rt = runtime(client)
    result = _sign_in(rt, "eva", *groups, "staff")
    assert result.refusal == reason and result.token is None
    with rt.sessions() as db:
        assert db.scalars(select(StaffUser)).all() == []
    assert _last(rt)["details"]["role_claim"] == [*groups, "staff"]


def test_a_name_held_by_a_portal_account_is_not_taken_over(client: TestClient) -> None:
    rt = runtime(client)
    with transaction(rt.sessions) as db:
        auth.add_user(db, name="eva", role="auditor", password=PASSWORD, now=rt.clock())
    assert _sign_in(rt, "eva", "inv").refusal == "name_taken"
    assert _user(rt, "eva").role == "auditor"


def test_a_disabled_account_stays_out(client: TestClient) -> None:
    rt = runtime(client)
    _sign_in(rt, "eva", "inv")
    with transaction(rt.sessions) as db:
        auth.disable_user(db, user=db.merge(_user(rt, "eva")), now=rt.clock())
    assert _sign_in(rt, "eva", "inv").refusal == "disabled"
    assert _last(rt)["details"]["reason"] == "disabled"
