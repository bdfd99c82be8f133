"""A software WebAuthn authenticator (ES256, "none" attestation) for tests without a browser,
and the web-page steps that use it: register a passkey, sign in with one.

`SoftAuthenticator.create/get` take the JSON options the portal sends and answer with what
a browser's `credential.toJSON()` gives; `counter` lets a test play a cloned authenticator.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from base64 import urlsafe_b64decode, urlsafe_b64encode
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from tests.support.api import PASSWORD
from tests.support.web import csrf_of

UP, UV, AT = 0x01, 0x04, 0x40


def b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    def __init__(self, origin: str, rp_id: str) -> None:
        self.origin, self.rp_id = origin, rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.counter = 0
        self.user_handle = b""

    def _client_data(self, kind: str, challenge: str) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        return json.dumps(data).encode()

    def _auth_data(self, flags: int, extra: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.counter) + extra

    def create(self, options: dict[str, Any]) -> str:
        self.user_handle = unb64(options["user"]["id"])
        numbers = self.key.public_key().public_numbers()
        cose = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
        auth_data = self._auth_data(UP | UV | AT, attested + cose)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"])
        return self._json(
            {"clientDataJSON": b64(client_data), "attestationObject": b64(attestation)}
        )

    def get(self, options: dict[str, Any], *, counter: int | None = None) -> str:
        self.counter = self.counter + 1 if counter is None else counter
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = self._auth_data(UP | UV)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return self._json(
            {
                "clientDataJSON": b64(client_data),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
                "userHandle": b64(self.user_handle),
            }
        )

    def _json(self, response: dict[str, str]) -> str:
        cid = b64(self.credential_id)
        body = {"id": cid, "rawId": cid, "type": "public-key", "response": response}
        return json.dumps({**body, "clientExtensionResults": {}})


def sign_in(browser: TestClient, name: str, **form: str) -> Any:
    csrf = csrf_of(browser, "/web/staff/login")
    data = {"csrf": csrf, "username": name, "password": PASSWORD, **form}
    return browser.post("/web/staff/login", data=data, follow_redirects=False)


def login_options(browser: TestClient) -> dict[str, Any]:
    csrf = csrf_of(browser, "/web/staff/login")
    r = browser.post("/web/staff/login/passkey-options", data={"csrf": csrf})
    assert r.status_code == 200, r.text
    options: dict[str, Any] = r.json()
    return options


def with_passkey(browser: TestClient, name: str, key: SoftAuthenticator, **options: Any) -> Any:
    """Sign in with password and a fresh assertion (its options possibly overridden)."""
    assertion = key.get({**login_options(browser), **options})
    return sign_in(browser, name, passkey=assertion)


def register(browser: TestClient, key: SoftAuthenticator, name: str = "laptop") -> Any:
    """A signed-in `browser` registers `key`; the response to the form post."""
    csrf = csrf_of(browser, "/web/staff/passkeys")
    r = browser.post("/web/staff/passkeys/options", data={"csrf": csrf})
    assert r.status_code == 200, r.text
    credential = key.create(r.json())
    return browser.post(
        "/web/staff/passkeys",
        data={"csrf": csrf, "credential": credential, "name": name},
        follow_redirects=False,
    )
