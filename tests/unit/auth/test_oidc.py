"""The relying party's checks (portal.auth.oidc) and the role mapping setting, without a
provider: ID tokens signed here with a key of our own."""

from __future__ import annotations

import base64
import dataclasses
import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from pydantic import ValidationError

from portal.auth import oidc
from portal.config import Settings
from portal.flows.oidc_signin import RoleMapping

ISSUER = "https://id.example.org"
PROVIDER = oidc.Provider(ISSUER, "portal", "secret")
META = oidc.Metadata(ISSUER, ISSUER + "/auth", ISSUER + "/token", ISSUER + "/jwks", None, True)
FLOW = oidc.Flow("the-state", "the-nonce", "the-verifier", "")
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
KEYS = KeySet([KEY])


def _token(**claims: object) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "portal", "sub": "ana", "nonce": "the-nonce", "iat": now}
    body["exp"] = now + 300
    body.update(claims)
    return jwt.encode({"alg": "RS256", "kid": "k1"}, body, KEYS)


def test_a_right_id_token_gives_its_claims() -> None:
    claims = oidc.check_id_token(_token(), KEYS, provider=PROVIDER, nonce="the-nonce")
    assert claims["sub"] == "ana"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://evil.example.org"}, "issuer_mismatch"),
        ({"nonce": "another"}, "nonce_mismatch"),
        ({"nonce": None}, "nonce_mismatch"),
        ({"aud": "another-client"}, "id_token_invalid"),
        ({"exp": int(time.time()) - 3600}, "id_token_invalid"),
    ],
)
def test_a_wrong_id_token_is_refused(claims: dict[str, object], reason: str) -> None:
    with pytest.raises(oidc.OidcRefused) as refused:
        oidc.check_id_token(_token(**claims), KEYS, provider=PROVIDER, nonce="the-nonce")
    assert refused.value.reason == reason


def test_an_id_token_signed_by_another_key_is_refused() -> None:
    other = KeySet([RSAKey.generate_key(2048, parameters={"kid": "k1"})])
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, {"iss": ISSUER}, other)
    with pytest.raises(oidc.OidcRefused) as refused:
        oidc.check_id_token(token, KEYS, provider=PROVIDER, nonce="the-nonce")
    assert refused.value.reason == "id_token_invalid"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"code": "c"}, "state_mismatch"),
        ({"code": "c", "state": "other", "iss": ISSUER}, "state_mismatch"),
        ({"code": "c", "state": "the-state"}, "issuer_mismatch"),  # promised, then left out
        ({"code": "c", "state": "the-state", "iss": "https://evil"}, "issuer_mismatch"),
        ({"error": "access_denied", "state": "the-state", "iss": ISSUER}, "provider_error"),
        ({"state": "the-state", "iss": ISSUER}, "no_code"),
    ],
)
def test_a_wrong_callback_is_refused(params: dict[str, str], reason: str) -> None:
    with pytest.raises(oidc.OidcRefused) as refused:
        oidc.check_callback(META, FLOW, params)
    assert refused.value.reason == reason


def test_a_right_callback_gives_its_code() -> None:
    params = {"code": "c", "state": "the-state", "iss": ISSUER}
    assert oidc.check_callback(META, FLOW, params) == "c"


@pytest.mark.parametrize("raw", [None, "", "not base64!", base64.b64encode(b"[1]").decode()])
def test_a_missing_or_garbled_flow_cookie_is_refused(raw: str | None) -> None:
    with pytest.raises(oidc.OidcRefused) as refused:
        oidc.Flow.load(raw)
    assert refused.value.reason == "no_flow"
    assert oidc.Flow.load(FLOW.dump()) == FLOW


def test_the_authorization_request_carries_pkce_state_and_nonce() -> None:
    url, flow = oidc.begin(PROVIDER, META, redirect_uri="https://portal/cb", next="")
    assert f"state={flow.state}" in url and f"nonce={flow.nonce}" in url
    assert "code_challenge_method=S256" in url and flow.verifier not in url


def test_logout_goes_to_the_provider_only_when_it_offers_it() -> None:
    assert oidc.logout_url(META, id_token="t", client_id="portal", after="https://p/") is None
    offered = dataclasses.replace(META, end_session_endpoint=ISSUER + "/logout")
    url = oidc.logout_url(offered, id_token="t", client_id="portal", after="https://p/")
    assert (
        url
        == ISSUER
        + "/logout?id_token_hint=t&client_id=portal&post_logout_redirect_uri=https%3A%2F%2Fp%2F"
    )


def test_the_role_mapping_is_read_and_checked() -> None:
    s = Settings(oidc_roles=" ops = investigator ,boss=admin", oidc_mfa_amr="mfa, hwk")
    mapping = RoleMapping.of(s)
    assert mapping.roles == {"ops": "investigator", "boss": "admin"}
    assert mapping.mfa_amr == {"mfa", "hwk"}
    for bad in ["ops=king", "=admin", "investigator"]:
        with pytest.raises(ValidationError):
            Settings(oidc_roles=bad)
