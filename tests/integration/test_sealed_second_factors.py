"""TOTP secrets at rest: sealed with the contact key, clear rows sealed on start, rotated."""

from __future__ import annotations

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from portal.app import create_app
from portal.config import Settings
from portal.flows import key_rotation
from portal.keys import contact_cipher
from tests.support.api import runtime, set_clock
from tests.support.second_factor import enrol, frozen_clock, login, make_user

pytestmark = pytest.mark.both_backends


def raw_rows(client: TestClient) -> list[tuple[str | None, bytes | None]]:
    """The rows as the database holds them, past the ORM."""
    with runtime(client).readers() as db:
        rows = db.execute(text("SELECT secret, secret_sealed FROM staff_second_factors"))
        return [(r[0], None if r[1] is None else bytes(r[1])) for r in rows]


def test_the_secret_is_sealed_in_the_row(client: TestClient, settings: Settings) -> None:
    clock = frozen_clock(client)
    make_user(client, "maria", "supervisor")
    secret, _ = enrol(client, "maria", clock)
    ((clear, sealed),) = raw_rows(client)
    assert clear is None
    assert sealed is not None and secret.encode() not in sealed
    opened = contact_cipher(settings.resolved_contact_key_file).decrypt(sealed)
    assert opened == secret.encode()
    clock.step()
    assert login(client, "maria", code=pyotp.TOTP(secret).at(clock.now)).status_code == 200


def _store_in_the_clear(client: TestClient, secret: str) -> None:
    # As a portal before sealing left the row.
    with runtime(client).sessions.begin() as db:
        db.execute(
            text("UPDATE staff_second_factors SET secret = :s, secret_sealed = NULL"),
            {"s": secret},
        )


def test_clear_rows_are_sealed_on_start_once(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        clock = frozen_clock(client)
        make_user(client, "maria", "supervisor")
        secret, _ = enrol(client, "maria", clock)
        _store_in_the_clear(client, secret)
        assert raw_rows(client) == [(secret, None)]
    for _ in range(2):  # a second start finds nothing to do and changes nothing
        with TestClient(create_app(settings)) as client:
            ((clear, sealed),) = raw_rows(client)
            assert clear is None and sealed is not None
            opened = contact_cipher(settings.resolved_contact_key_file).decrypt(sealed)
            assert opened == secret.encode()
            set_clock(client, lambda: clock.now)
            clock.step()
            code = pyotp.TOTP(secret).at(clock.now)
            assert login(client, "maria", code=code).status_code == 200


def test_a_contact_key_rotation_reseals_them(client: TestClient, settings: Settings) -> None:
    clock = frozen_clock(client)
    make_user(client, "maria", "supervisor")
    secret, _ = enrol(client, "maria", clock)
    ((_, before),) = raw_rows(client)
    rt = runtime(client)
    assert key_rotation.rotate_contact_key(rt).reencrypted == 1
    assert key_rotation.retire_old_contact_keys(rt) == 1
    ((_, after),) = raw_rows(client)
    assert after is not None and after != before
    assert contact_cipher(settings.resolved_contact_key_file).decrypt(after) == secret.encode()
    clock.step()
    assert login(client, "maria", code=pyotp.TOTP(secret).at(clock.now)).status_code == 200
