"""Public consistency proofs, `portal custody monitor` and `verify-receipt --against`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from portal.cli import app
from portal.config import Settings
from portal.custody import merkle, monitor, note, remote
from tests.support.api import new_submission, runtime
from tests.support.servers import Server
from tests.support.uploads import upload

runner = CliRunner()
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _grow(client: TestClient, video: Path) -> int:
    """Upload a file; the size of the checkpoint signed after it."""
    _, token = new_submission(client)
    upload(client, {"Authorization": f"Bearer {token}"}, video.read_bytes())
    return runtime(client).sign_checkpoint().size


@pytest.mark.both_backends
def test_consistency_between_signed_sizes_is_public(client: TestClient, video: Path) -> None:
    first = _grow(client, video)
    second = _grow(client, video)
    r = client.get("/api/v1/log/proof/consistency", params={"first": first, "second": second})
    assert r.status_code == 200, r.text
    body = r.json()
    key = client.get("/api/v1/log/public-key").text.strip()
    cp = note.parse_checkpoint(note.open_note(client.get("/api/v1/log/checkpoint").text, key))
    assert cp.size == second
    merkle.verify_consistency(
        first,
        second,
        [base64.b64decode(h) for h in body["proof"]],
        base64.b64decode(body["first_root"]),
        cp.root,
    )
    # Sizes nobody signed, reversed or nonsense: a clear JSON error.
    for params, status, code in [
        ({"first": first + 1, "second": second}, 404, "not_signed"),
        ({"first": first, "second": 10_000}, 404, "not_signed"),
        ({"first": second, "second": first}, 422, "bad_range"),
        ({"first": 0, "second": first}, 422, None),
        ({"first": "x", "second": first}, 422, None),
    ]:
        r = client.get("/api/v1/log/proof/consistency", params=params)
        assert r.status_code == status, (params, r.text)
        assert r.json()["message"] and (code is None or r.json()["error"] == code)


def _run(
    client: TestClient, state: Path, via: httpx.Client | None = None, **kw: object
) -> monitor.Outcome:
    """Run the monitor on the portal `client` serves, asking through `via` if given."""
    key = client.get("/api/v1/log/public-key").text.strip()
    args: dict[str, object] = {"key": key, "state": state, "now": NOW, "client": via or client}
    args.update(kw)
    return monitor.run("http://testserver", **args)  # type: ignore[arg-type]


def test_monitor_follows_a_growing_log(client: TestClient, video: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    _grow(client, video)
    assert "first run" in " ".join(_run(client, state).lines)
    _grow(client, video)
    out = _run(client, state)
    assert out.checkpoint is not None
    assert any(line.startswith("consistent with size") for line in out.lines)
    assert (state / "checkpoint").read_text() == client.get("/api/v1/log/checkpoint").text


def _forge(settings: Settings, size: int, root: bytes) -> str:
    signer = settings.resolved_log_key_file.read_text().strip()
    return note.sign(note.format_checkpoint(settings.log_origin, size, root), signer)


def test_monitor_catches_forks_rollbacks_and_bad_keys(
    client: TestClient, settings: Settings, video: Path, tmp_path: Path
) -> None:
    size = _grow(client, video)
    state = tmp_path / "state"
    state.mkdir()
    # The log's key signed another tree of the same size: a fork.
    (state / "checkpoint").write_text(_forge(settings, size, b"\x01" * 32))
    with pytest.raises(remote.ForkError, match="FORK: two different roots"):
        _run(client, state)
    # ... or of a smaller size, which the current tree does not extend.
    (state / "checkpoint").write_text(_forge(settings, size - 1, b"\x02" * 32))
    with pytest.raises(remote.ForkError, match="not proven to extend"):
        _run(client, state)
    # The monitor saw a larger tree before: the log was rolled back.
    (state / "checkpoint").write_text(_forge(settings, size + 5, b"\x03" * 32))
    with pytest.raises(remote.RollbackError, match="ROLLBACK"):
        _run(client, state)
    # Another key: the checkpoint's signature does not verify.
    other = note.verifier_from_signer(note.generate_signer(settings.log_origin))
    with pytest.raises(remote.RemoteError, match="signature or format INVALID"):
        _run(client, tmp_path / "fresh", key=other)


def _tampering(client: TestClient, tile: bytes | None) -> httpx.Client:
    """The real portal, except that every hash tile is `tile` (None: withheld)."""

    def answer(request: httpx.Request) -> httpx.Response:
        if "/tile/" in request.url.path:
            return httpx.Response(404) if tile is None else httpx.Response(200, content=tile)
        r = client.get(request.url.path)
        return httpx.Response(r.status_code, content=r.content)

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_monitor_proves_consistency_from_tiles_not_the_server(
    client: TestClient, video: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    _grow(client, video)
    _run(client, state)
    size = _grow(client, video)
    # Tiles of the right length but the wrong hashes; then of a wrong length; then none.
    for tile, error in [
        (b"\x07" * 32 * size, remote.ForkError),
        (b"short", remote.ForkError),
        (None, remote.RemoteError),
    ]:
        with pytest.raises(error) as caught:
            _run(client, state, _tampering(client, tile))
        assert "consistency" in str(caught.value) or "extend" in str(caught.value)
    # The server's own proof endpoint is never asked.
    asked: list[str] = []

    def spy(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        r = client.get(request.url.path)
        return httpx.Response(r.status_code, content=r.content)

    out = _run(client, state, httpx.Client(transport=httpx.MockTransport(spy)))
    assert any(line.startswith("consistent with size") for line in out.lines)
    assert any("/tile/" in path for path in asked)
    assert not any("/proof/" in path for path in asked)


def test_monitor_refuses_stale_checkpoints(client: TestClient, video: Path, tmp_path: Path) -> None:
    _grow(client, video)
    state = tmp_path / "state"
    _run(client, state, max_age=timedelta(hours=1))
    with pytest.raises(remote.RemoteError, match="STALE"):
        _run(client, state, max_age=timedelta(hours=1), now=NOW + timedelta(hours=2))


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"not a note"),
        httpx.Response(500, content=b"boom"),
        httpx.Response(200, content=b"\xff\xfe"),
    ],
)
def test_monitor_fails_clearly_on_malformed_answers(tmp_path: Path, answer: httpx.Response) -> None:
    # A hostile server: every answer is what the test says.
    hostile = httpx.Client(transport=httpx.MockTransport(lambda request: answer))
    key = note.verifier_from_signer(note.generate_signer("portal.invalid/custody"))
    with pytest.raises(remote.RemoteError):
        monitor.run("http://hostile", key=key, state=tmp_path, now=NOW, client=hostile)


def test_monitor_and_against_from_the_command_line(tmp_path: Path, video: Path) -> None:
    srv = Server(tmp_path / "data").start()
    try:
        with httpx.Client(base_url=srv.url) as c:
            sub_id, token = new_submission(c)
            auth = {"Authorization": f"Bearer {token}"}
            upload(c, auth, video.read_bytes())
            receipt = tmp_path / "receipt.json"
            receipt.write_bytes(
                c.get(f"/api/v1/submissions/{sub_id}/receipt", headers=auth).content
            )
            key = tmp_path / "log.pub"
            key.write_text(c.get("/api/v1/log/public-key").text)
            monitor_args = ["custody", "monitor", srv.url, "--public-key", str(key)]
            monitor_args += ["--state", str(tmp_path / "state")]
            r = runner.invoke(app, monitor_args)
            assert r.exit_code == 0, r.output
            # The log grows; the witness's receipt is still in it.
            _, token2 = new_submission(c)
            upload(c, {"Authorization": f"Bearer {token2}"}, video.read_bytes())
        r = runner.invoke(
            app, ["verify-receipt", str(receipt), "--public-key", str(key), "--against", srv.url]
        )
        assert r.exit_code == 0, r.output
        assert "the receipt's events are still in it" in r.output
        r = runner.invoke(app, monitor_args)
        assert r.exit_code == 0, r.output
        assert "consistent with size" in r.output
        bad = tmp_path / "other.pub"
        bad.write_text(note.verifier_from_signer(note.generate_signer("portal.invalid/custody")))
        r = runner.invoke(app, [*monitor_args[:3], "--public-key", str(bad), *monitor_args[5:]])
        assert r.exit_code == 1 and "MONITOR FAILED" in r.output
    finally:
        srv.stop()


def test_witnesses_get_a_plain_explanation_in_both_languages(client: TestClient) -> None:
    r = client.get("/web/about/log?lang=es")
    assert r.status_code == 200 and "Qué prueba su recibo" in r.text
    r = client.get("/web/about/log?lang=en")
    assert r.status_code == 200 and "What your receipt proves" in r.text
    assert "--against" in r.text
