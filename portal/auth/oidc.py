"""OpenID Connect sign-in for staff: the relying party's half of the authorization code flow.

Authlib builds the authorization request (with PKCE, S256) and redeems the code; joserfc checks
the ID token's signature against the provider's published keys and its claims (issuer,
audience, expiry, nonce). Nothing here trusts the browser: `state`, `nonce` and the PKCE
verifier are made here, kept in a cookie the browser only carries back, and compared in
constant time; a callback naming another issuer (RFC 9207 `iss`) is refused before the code
is redeemed, so a code from one provider is never sent to another.
"""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

# How long a started sign-in may take at the provider (the flow cookie's life), seconds.
FLOW_TTL = 600
_TIMEOUT = 10.0


class OidcRefused(Exception):
    """A sign-in through the provider that must not go on; `reason` goes to the log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    iss_parameter: bool
    """The provider promises `iss` in every authorization response (RFC 9207)."""


@dataclass(frozen=True)
class Flow:
    """What the callback must match: kept in the browser's flow cookie between the two."""

    state: str
    nonce: str
    verifier: str
    next: str

    def dump(self) -> str:
        # base64url: a cookie value with no quotes or commas for a browser to mangle.
        raw = json.dumps(asdict(self), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode()

    @classmethod
    def load(cls, raw: str | None) -> Flow:
        try:
            data = json.loads(base64.urlsafe_b64decode((raw or "").encode()))
            return cls(**{k: str(data[k]) for k in ("state", "nonce", "verifier", "next")})
        except (ValueError, TypeError, KeyError):  # binascii.Error is a ValueError
            raise OidcRefused("no_flow", "no sign-in was started in this browser") from None


def _session(provider: Provider, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(
        provider.client_id,
        provider.client_secret,
        scope="openid profile",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )


def discover(provider: Provider) -> Metadata:
    """The provider's metadata; its issuer must be the configured one exactly (OIDC
    Discovery 4.3), or every later check would be against the wrong party."""
    url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        reply = httpx.get(url, timeout=_TIMEOUT)
        reply.raise_for_status()
        doc = reply.json()
    except (httpx.HTTPError, ValueError) as exc:  # unreachable, an error, or not JSON
        raise OidcRefused("provider_unreachable", repr(exc)) from exc
    if not isinstance(doc, dict) or doc.get("issuer") != provider.issuer:
        named = doc.get("issuer") if isinstance(doc, dict) else None
        raise OidcRefused("issuer_mismatch", f"the provider calls itself {named!r}")
    needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    if not all(isinstance(doc.get(k), str) for k in needed):
        raise OidcRefused("provider_unreachable", "the provider's metadata lacks endpoints")
    return Metadata(
        issuer=doc["issuer"],
        authorization_endpoint=doc["authorization_endpoint"],
        token_endpoint=doc["token_endpoint"],
        jwks_uri=doc["jwks_uri"],
        end_session_endpoint=doc.get("end_session_endpoint"),
        iss_parameter=bool(doc.get("authorization_response_iss_parameter_supported")),
    )


def begin(provider: Provider, meta: Metadata, *, redirect_uri: str, next: str) -> tuple[str, Flow]:
    """The provider's authorization URL to send the browser to, and the flow to keep."""
    flow = Flow(generate_token(32), generate_token(32), generate_token(48), next)
    with _session(provider, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            meta.authorization_endpoint,
            state=flow.state,
            nonce=flow.nonce,
            code_verifier=flow.verifier,
        )
    return url, flow


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def check_callback(meta: Metadata, flow: Flow, params: dict[str, str]) -> str:
    """The authorization code of a callback that answers this browser's own request."""
    if not _same(params.get("state"), flow.state):
        raise OidcRefused("state_mismatch", "the answer is not to this browser's request")
    iss = params.get("iss")
    if (iss is not None or meta.iss_parameter) and iss != meta.issuer:
        raise OidcRefused("issuer_mismatch", f"the answer names issuer {iss!r}")
    if "error" in params:
        raise OidcRefused("provider_error", params["error"][:100])
    code = params.get("code")
    if not code:
        raise OidcRefused("no_code")
    return code


def redeem(
    provider: Provider, meta: Metadata, flow: Flow, *, code: str, redirect_uri: str
) -> tuple[dict[str, Any], str]:
    """The ID token's checked claims and the token itself (kept for logout)."""
    with _session(provider, redirect_uri) as client:
        try:
            token = client.fetch_token(
                meta.token_endpoint, code=code, code_verifier=flow.verifier, timeout=_TIMEOUT
            )
            keys = KeySet.import_key_set(httpx.get(meta.jwks_uri, timeout=_TIMEOUT).json())
        except Exception as exc:  # the provider refused the code, or is unreachable
            raise OidcRefused("token_refused", str(exc)[:200]) from exc
    raw = token.get("id_token")
    if not isinstance(raw, str):
        raise OidcRefused("no_id_token")
    return check_id_token(raw, keys, provider=provider, nonce=flow.nonce), raw


def check_id_token(raw: str, keys: KeySet, *, provider: Provider, nonce: str) -> dict[str, Any]:
    try:
        claims = dict(jwt.decode(raw, keys).claims)
    except (JoseError, ValueError) as exc:
        raise OidcRefused("id_token_invalid", str(exc)[:200]) from exc
    if claims.get("iss") != provider.issuer:
        raise OidcRefused("issuer_mismatch", f"the ID token names issuer {claims.get('iss')!r}")
    if not _same(claims.get("nonce") if isinstance(claims.get("nonce"), str) else None, nonce):
        raise OidcRefused("nonce_mismatch", "the ID token was not issued for this sign-in")
    try:
        jwt.JWTClaimsRegistry(
            aud={"essential": True, "value": provider.client_id},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(claims)
    except JoseError as exc:
        raise OidcRefused("id_token_invalid", str(exc)[:200]) from exc
    return claims


def logout_url(meta: Metadata, *, id_token: str, client_id: str, after: str) -> str | None:
    """RP-initiated logout at the provider (OpenID RP-Initiated Logout 1.0), when it
    advertises an end-session endpoint."""
    if not meta.end_session_endpoint:
        return None
    query = urlencode(
        {"id_token_hint": id_token, "client_id": client_id, "post_logout_redirect_uri": after}
    )
    sep = "&" if "?" in meta.end_session_endpoint else "?"
    return meta.end_session_endpoint + sep + query
