"""Bad input is refused with a clear error and leaves nothing behind.

Each refusal asserts the status, the `{"error", "message"}` body and that the rows of
submissions, consents, uploads, evidence, log_entries and the files under storage/ did not
change. Also: contact details are encrypted at rest and no IP or user agent is kept.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import filetype
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from portal.submissions import consent as consent_docs
from tests.support.api import CONSENT, new_submission, runtime
from tests.support.servers import Server
from tests.support.tus_requests import (
    OCTET,
    TUS,
    TUS_VERSION,
    UPLOADS,
    Witness,
    assert_error,
    b64,
    bearer,
    create_upload,
    files_of,
    head,
    offset_of,
    partial_path,
    patch,
    storage_root,
    stored,
)

SUBMISSIONS = "/api/v1/submissions"


def consent(**changes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {**CONSENT, **changes}
    return {k: v for k, v in out.items() if v is not ...}


# --- submissions --------------------------------------------------------------------------------

BAD_SUBMISSIONS: dict[str, tuple[Any, str]] = {
    # no consent
    "empty-object": ({}, "invalid"),
    "consent-null": ({"consent": None}, "invalid"),
    "consent-not-object": ({"consent": "yes"}, "invalid"),
    "only-incident": ({"incident": {"place": "Plaza Mayor"}}, "invalid"),
    "body-is-a-list": ([CONSENT], "invalid"),
    # wrong or unknown consent version
    "version-unknown": ({"consent": consent(version="2")}, "consent_version"),
    "version-zero": ({"consent": consent(version="0")}, "consent_version"),
    "version-empty": ({"consent": consent(version="")}, "consent_version"),
    "version-dotted": ({"consent": consent(version="1.0")}, "consent_version"),
    "version-number": ({"consent": consent(version=1)}, "invalid"),
    "version-missing": ({"consent": consent(version=...)}, "invalid"),
    # required scope missing
    "scopes-without-investigation": (
        {"consent": consent(scopes=["prosecution", "public_appeal"])},
        "consent_scope",
    ),
    "scopes-empty": ({"consent": consent(scopes=[])}, "consent_scope"),
    "scopes-missing": ({"consent": consent(scopes=...)}, "invalid"),
    # unknown scope
    "scope-unknown": ({"consent": consent(scopes=["investigation", "marketing"])}, "consent_scope"),
    "scope-wrong-case": ({"consent": consent(scopes=["Investigation"])}, "consent_scope"),
    "scope-not-a-string": ({"consent": consent(scopes=["investigation", 7])}, "invalid"),
    # extra unknown fields
    "extra-top-level": ({"consent": CONSENT, "ip": "203.0.113.9"}, "invalid"),
    "extra-in-consent": ({"consent": consent(given_by="me")}, "invalid"),
    "extra-in-contact": (
        {"consent": CONSENT, "contact": {"phone": "+34600000000", "address": "Calle 1"}},
        "invalid",
    ),
    "extra-in-incident": (
        {"consent": CONSENT, "incident": {"place": "x", "weather": "rain"}},
        "invalid",
    ),
    # bad language
    "language-fr": ({"consent": consent(language="fr")}, "invalid"),
    "language-upper": ({"consent": consent(language="ES")}, "invalid"),
    "language-empty": ({"consent": consent(language="")}, "invalid"),
    "language-null": ({"consent": consent(language=None)}, "invalid"),
    "language-missing": ({"consent": consent(language=...)}, "invalid"),
}


@pytest.mark.parametrize(("payload", "code"), BAD_SUBMISSIONS.values(), ids=BAD_SUBMISSIONS.keys())
def test_bad_submission_is_422_and_stores_nothing(
    client: TestClient, payload: Any, code: str
) -> None:
    new_submission(client)  # something already there, so a change would show
    before = stored(client)
    r = client.post(SUBMISSIONS, json=payload)
    assert_error(r, 422, code, tus=False)
    assert stored(client) == before


@pytest.mark.parametrize("body", [b"", b"not json", b"{", b'{"consent": '])
def test_submission_body_that_is_not_json_is_422(client: TestClient, body: bytes) -> None:
    before = stored(client)
    r = client.post(SUBMISSIONS, content=body, headers={"Content-Type": "application/json"})
    assert_error(r, 422, tus=False)
    assert stored(client) == before


def test_outdated_consent_version_is_422(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When version 2 is current, consent given to version 1 is outdated, not unknown."""
    v1 = consent_docs.documents()["1"]
    v2 = consent_docs.ConsentDocument("2", "0" * 64, v1.text, v1.scopes)
    monkeypatch.setattr(consent_docs, "documents", lambda: {"1": v1, "2": v2})
    before = stored(client)
    r = client.post(SUBMISSIONS, json={"consent": consent(version="1")})
    assert_error(r, 422, "consent_version", tus=False)
    assert "outdated" in r.json()["message"]
    assert stored(client) == before
    r = client.post(SUBMISSIONS, json={"consent": consent(version="2")})
    assert r.status_code == 201, r.text


# --- authentication -----------------------------------------------------------------------------


def _request(client: TestClient, method: str, url: str, auth: dict[str, str]) -> Any:
    headers = {**TUS, **auth, "Upload-Length": "100", "Upload-Offset": "0", "Content-Type": OCTET}
    body = b"a" * 10 if method == "PATCH" else None
    target = UPLOADS if method == "POST" else url
    return client.request(method, target, headers=headers, content=body)


BAD_AUTH = {
    "none": {},
    "empty": {"Authorization": ""},
    "bearer-without-token": {"Authorization": "Bearer"},
    "bearer-blank": {"Authorization": "Bearer    "},
    "unknown-token": {"Authorization": "Bearer wt_" + "A" * 43},
    "basic-scheme": {"Authorization": "Basic d2l0bmVzczpzZWNyZXQ="},
}


@pytest.mark.parametrize("auth", BAD_AUTH.values(), ids=BAD_AUTH.keys())
@pytest.mark.parametrize("method", ["POST", "HEAD", "PATCH", "DELETE"])
def test_uploads_without_a_valid_token_are_401(
    client: TestClient, witness: Witness, method: str, auth: dict[str, str]
) -> None:
    _, good = witness
    url = create_upload(client, good, 100)
    before = stored(client)
    r = _request(client, method, url, auth)
    assert_error(r, 401, "unauthorized")
    assert stored(client) == before
    assert offset_of(client, url, good) == 0


def test_a_token_changed_by_one_character_is_401(client: TestClient, witness: Witness) -> None:
    _, good = witness
    token = good["Authorization"].removeprefix("Bearer ")
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    url = create_upload(client, good, 100)
    before = stored(client)
    for method in ("POST", "HEAD", "PATCH", "DELETE"):
        assert_error(_request(client, method, url, bearer(flipped)), 401, "unauthorized")
    assert stored(client) == before


def test_401_names_the_auth_scheme(client: TestClient) -> None:
    """RFC 9110 section 15.5.2: a 401 response MUST carry WWW-Authenticate."""
    r = client.post(UPLOADS, headers={**TUS, "Upload-Length": "100"})
    assert_error(r, 401)
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("bearer")


# --- Upload-Metadata and file names ---------------------------------------------------------------

BAD_METADATA = {
    "bad-base64-chars": f"filename !!not-base64!!,filetype {b64('video/mp4')}",
    "bad-base64-padding": "filename YWJjZA",
    "duplicate-key": f"filename {b64('a.mp4')},filename {b64('b.mp4')}",
    "duplicate-key-spaced": f"filetype {b64('video/mp4')}, filetype {b64('video/mp4')}",
    "not-utf8": "filename " + b64(b"clip-\xff\xfe.mp4"),
    "not-utf8-latin1": f"filename {b64('vídeo.mp4'.encode('latin-1'))}",
    "three-parts": f"filename {b64('a.mp4')} extra",
    "empty-pair": f"filename {b64('a.mp4')}, ,filetype {b64('video/mp4')}",
    "trailing-comma": f"filename {b64('a.mp4')},",
    "only-comma": ",",
    "too-big": f"filename {b64('a.mp4')},note {b64('n' * 4096)}",
}


@pytest.mark.parametrize("metadata", BAD_METADATA.values(), ids=BAD_METADATA.keys())
def test_malformed_upload_metadata_is_400(
    client: TestClient, witness: Witness, metadata: str
) -> None:
    _, auth = witness
    before = stored(client)
    r = client.post(
        UPLOADS, headers={**TUS, **auth, "Upload-Length": "100", "Upload-Metadata": metadata}
    )
    assert_error(r, 400, "bad_metadata")
    assert stored(client) == before


def test_metadata_just_over_the_configured_limit_is_400(
    client: TestClient, witness: Witness
) -> None:
    _, auth = witness
    limit = runtime(client).settings.max_metadata_bytes
    prefix = "filename " + b64("a.mp4") + ",note "
    # Grow the base64 value (4 characters per 3 bytes) until the header passes the limit.
    size = 0
    metadata = prefix
    while len(metadata.encode()) <= limit:
        size += 3
        metadata = prefix + b64("n" * size)
    assert len(metadata.encode()) <= limit + 4
    before = stored(client)
    r = client.post(
        UPLOADS, headers={**TUS, **auth, "Upload-Length": "100", "Upload-Metadata": metadata}
    )
    assert_error(r, 400, "bad_metadata")
    assert stored(client) == before


BAD_NAMES = {
    "slash": "videos/clip.mp4",
    "absolute": "/etc/passwd",
    "dotdot-path": "../clip.mp4",
    "dotdot": "..",
    "dot": ".",
    "dotdot-inside": "a/../../b.mp4",
    "nul": "clip\x00.mp4",
    "nul-only": "\x00",
    "backslash": "videos\\clip.mp4",
    "windows-path": "C:\\Users\\x\\clip.mp4",
    "dotdot-backslash": "..\\clip.mp4",
    "newline": "clip\n.mp4",
    "del": "clip\x7f.mp4",
    "c1-control": "clip\x9b31m.mp4",
    "too-long": "a" * 252 + ".mp4",
}


@pytest.mark.parametrize("key", ["filename", "name"])
@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_file_names_are_400(client: TestClient, witness: Witness, name: str, key: str) -> None:
    _, auth = witness
    before = stored(client)
    r = client.post(
        UPLOADS,
        headers={**TUS, **auth, "Upload-Length": "100", "Upload-Metadata": f"{key} {b64(name)}"},
    )
    assert_error(r, 400, "bad_filename")
    assert stored(client) == before


# --- non-media bytes ------------------------------------------------------------------------------


def _text_bytes() -> bytes:
    return b"This is not a video, just words typed into a file.\n" * 2000


def _random_bytes() -> bytes:
    data = random.Random(20240611).randbytes(150_000)
    assert filetype.guess(data) is None
    return data


@pytest.mark.parametrize("make", [_text_bytes, _random_bytes], ids=["text", "random"])
@pytest.mark.parametrize("first", [100, None], ids=["too-small-to-judge", "half"])
def test_non_media_bytes_are_refused_as_soon_as_they_show(
    client: TestClient, witness: Witness, make: Callable[[], bytes], first: int | None
) -> None:
    """A first PATCH long enough to show what the file is refuses non-media at once (issue
    17: such files uploaded to 100% before being refused); a first PATCH too short to judge
    is taken, and the file is refused on the PATCH that shows it."""
    sub_id, auth = witness
    data = make()
    cut = first or len(data) // 2
    url = create_upload(client, auth, len(data), filename="clip.mp4")
    r = patch(client, url, auth, data[:cut], 0)
    if first is not None:
        assert r.status_code == 204, r.text
        assert partial_path(client, url).stat().st_size == cut
        r = patch(client, url, auth, data[cut:], cut)
    assert_error(r, 415, "media_type_refused")
    assert not partial_path(client, url).exists()
    snap = stored(client)
    assert snap.rows["evidence"] == []
    assert not any(name.startswith("sha256/") for name in snap.files), snap.files
    assert not (storage_root(client) / "sha256" / hashlib.sha256(data).hexdigest()).exists()
    assert files_of(client, sub_id, auth) == []
    assert_error(head(client, url, auth), 404)


def test_non_media_bytes_in_one_creation_with_upload_are_refused(
    client: TestClient, witness: Witness
) -> None:
    sub_id, auth = witness
    data = _text_bytes()
    r = client.post(
        UPLOADS,
        content=data,
        headers={
            **TUS,
            **auth,
            "Upload-Length": str(len(data)),
            "Content-Type": OCTET,
            "Upload-Metadata": f"filename {b64('clip.mp4')}",
        },
    )
    assert_error(r, 415, "media_type_refused")
    snap = stored(client)
    assert snap.rows["evidence"] == []
    assert not any(name.startswith(("sha256/", "partial/")) for name in snap.files), snap.files
    assert files_of(client, sub_id, auth) == []


# --- lengths and offsets --------------------------------------------------------------------------


def test_upload_length_zero_is_400(client: TestClient, witness: Witness) -> None:
    _, auth = witness
    before = stored(client)
    r = client.post(UPLOADS, headers={**TUS, **auth, "Upload-Length": "0"})
    assert_error(r, 400, "empty_upload")
    assert stored(client) == before


def test_deferred_upload_length_zero_is_400(client: TestClient, witness: Witness) -> None:
    _, auth = witness
    url = create_upload(client, auth, None)
    before = stored(client)
    r = patch(client, url, auth, b"", 0, {"Upload-Length": "0"})
    assert_error(r, 400)
    assert stored(client) == before
    assert head(client, url, auth).headers["Upload-Defer-Length"] == "1"


def test_no_length_and_no_defer_is_400(client: TestClient, witness: Witness) -> None:
    _, auth = witness
    before = stored(client)
    r = client.post(UPLOADS, headers={**TUS, **auth})
    assert_error(r, 400)
    assert stored(client) == before


@pytest.mark.parametrize("value", ["0", "2", "yes", "true", ""])
def test_upload_defer_length_other_than_1_is_400(
    client: TestClient, witness: Witness, value: str
) -> None:
    _, auth = witness
    before = stored(client)
    r = client.post(UPLOADS, headers={**TUS, **auth, "Upload-Defer-Length": value})
    assert_error(r, 400)
    assert stored(client) == before


NOT_NUMBERS = ["abc", "-1", "+5", "1.5", "1e3", "0x10", "12abc", "", " ", "1 000"]


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_non_numeric_upload_length_is_400(client: TestClient, witness: Witness, value: str) -> None:
    _, auth = witness
    before = stored(client)
    r = client.post(UPLOADS, headers={**TUS, **auth, "Upload-Length": value})
    assert_error(r, 400, "bad_header")
    assert stored(client) == before


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_non_numeric_upload_offset_is_400(client: TestClient, witness: Witness, value: str) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    assert patch(client, url, auth, b"f" * 10, 0).status_code == 204
    before = stored(client)
    r = client.patch(
        url,
        content=b"g" * 10,
        headers={**TUS, **auth, "Content-Type": OCTET, "Upload-Offset": value},
    )
    assert_error(r, 400, "bad_header")
    assert stored(client) == before
    assert offset_of(client, url, auth) == 10


@pytest.mark.parametrize("length", ["99", "101", "1000"])
def test_changing_a_set_upload_length_is_400(
    client: TestClient, witness: Witness, length: str
) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    before = stored(client)
    r = patch(client, url, auth, b"i" * 10, 0, {"Upload-Length": length})
    assert_error(r, 400)
    assert stored(client) == before
    assert head(client, url, auth).headers["Upload-Length"] == "100"


def test_missing_upload_offset_is_400(client: TestClient, witness: Witness) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    before = stored(client)
    r = client.patch(url, content=b"g" * 10, headers={**TUS, **auth, "Content-Type": OCTET})
    assert_error(r, 400)
    assert stored(client) == before


def test_absurdly_long_upload_length_is_refused_not_a_crash(
    client: TestClient, witness: Witness
) -> None:
    """5000 digits: int() refuses it (Python's digit limit); the portal must answer 4xx."""
    _, auth = witness
    before = stored(client)
    r = client.post(UPLOADS, headers={**TUS, **auth, "Upload-Length": "9" * 5000})
    assert r.status_code in (400, 413), r.status_code
    assert_error(r, r.status_code)
    assert stored(client) == before


def test_absurdly_long_upload_offset_is_refused_not_a_crash(
    client: TestClient, witness: Witness
) -> None:
    _, auth = witness
    url = create_upload(client, auth, 100)
    before = stored(client)
    r = patch(client, url, auth, b"h" * 10, 0, {"Upload-Offset": "9" * 5000})
    assert r.status_code in (400, 409), r.status_code
    assert_error(r, r.status_code)
    assert stored(client) == before
    assert offset_of(client, url, auth) == 0


# --- privacy at rest ------------------------------------------------------------------------------


def _database_bytes(client: TestClient) -> bytes:
    """The raw SQLite files, WAL included (recent writes may not be checkpointed yet)."""
    url = runtime(client).settings.resolved_database_url
    assert url.startswith("sqlite:///")
    db = Path(url.removeprefix("sqlite:///"))
    parts = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def _all_text_in_tables(client: TestClient) -> bytes:
    rt = runtime(client)
    out = bytearray()
    with rt.engine.connect() as conn:
        tables = [
            r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
        ]
        for table in tables:
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    out += value if isinstance(value, bytes) else str(value).encode()
                    out += b"\n"
    return bytes(out)


CONTACT = {
    "name": "Lucía Fernández Quintero",
    "phone": "+34 611 222 333",
    "email": "lucia.witness@example.org",
}


def test_contact_details_are_encrypted_at_rest(client: TestClient) -> None:
    sub_id, _ = new_submission(
        client, contact=CONTACT, incident={"place": "Plaza Mayor", "description": "a fight"}
    )
    rt = runtime(client)
    with rt.engine.connect() as conn:
        blob = conn.execute(
            text("SELECT contact_encrypted FROM submissions WHERE id = :i"), {"i": sub_id}
        ).scalar_one()
    assert isinstance(blob, bytes)
    assert blob
    raw = _database_bytes(client) + _all_text_in_tables(client)
    assert b"Plaza Mayor" not in raw and b"a fight" not in raw  # incident text is sealed too
    for value in CONTACT.values():
        for needle in (value.encode(), value.encode("utf-16-le"), value.replace(" ", "").encode()):
            assert needle not in raw, value
    assert b"611222333" not in raw
    assert b"lucia.witness" not in raw
    decrypted = rt.contact_cipher.decrypt(blob).decode()
    assert CONTACT["email"] in decrypted


@pytest.fixture
def canary_ua(client: TestClient) -> Iterator[str]:
    ua = "Mozilla/5.0 (Linux; Android 14; WitnessPhone) ua-canary-5c1e7"
    client.headers["User-Agent"] = ua
    yield ua


def test_no_ip_address_or_user_agent_is_stored(
    client: TestClient, canary_ua: str, video: Path
) -> None:
    forwarded = {
        "X-Forwarded-For": "198.51.100.77",
        "X-Real-IP": "198.51.100.78",
        "Forwarded": "for=198.51.100.79",
    }
    client.headers.update(forwarded)
    sub_id, token = new_submission(client, contact={"phone": "+34 699 000 111"})
    auth = bearer(token)
    data = video.read_bytes()
    url = create_upload(client, auth, len(data))
    assert patch(client, url, auth, data[:1000], 0).status_code == 204
    assert patch(client, url, auth, b"x", 5).status_code == 409
    assert patch(client, url, auth, data[1000:], 1000).status_code == 204
    assert head(client, url, auth).status_code == 200
    other = create_upload(client, auth, 100)
    assert client.delete(other, headers={**TUS, **auth}).status_code == 204
    assert client.post(SUBMISSIONS, json={}).status_code == 422
    assert len(files_of(client, sub_id, auth)) == 1
    assert client.options(UPLOADS).headers["Tus-Version"] == TUS_VERSION
    raw = _database_bytes(client) + _all_text_in_tables(client)
    assert b"testclient" not in raw
    assert canary_ua.encode() not in raw
    assert b"ua-canary" not in raw
    assert b"WitnessPhone" not in raw
    for ip in (b"198.51.100.77", b"198.51.100.78", b"198.51.100.79", b"127.0.0.1"):
        assert ip not in raw, ip


@pytest.mark.parametrize("value", [b"\xb2", b"1\xb9", b"\xb3\xb3"], ids=["sup2", "1-sup1", "sup3s"])
def test_superscript_digits_over_real_http_are_400(server: Server, value: bytes) -> None:
    """Latin-1 superscripts pass str.isdigit() but not int(); TestClient re-encodes them as
    UTF-8, so this needs a real server, where Starlette decodes header bytes as Latin-1."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        _, token = new_submission(http)
        auth = bearer(token)
        # httpx sends a bytes value as it is; its types want all-str or all-bytes headers.
        r = http.post(UPLOADS, headers={**TUS, **auth, "Upload-Length": value})  # type: ignore[arg-type]
        assert_error(r, 400, "bad_header")
        r = http.post(UPLOADS, headers={**TUS, **auth, "Upload-Length": "100"})
        assert r.status_code == 201, r.text
        r = http.patch(
            r.headers["Location"],
            content=b"x",
            headers={**TUS, **auth, "Content-Type": OCTET, "Upload-Offset": value},  # type: ignore[arg-type]
        )
        assert_error(r, 400, "bad_header")
