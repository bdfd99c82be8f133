"""Past one machine: two app processes on one PostgreSQL + S3, and an S3 outage mid-upload."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from portal.app import create_app
from portal.config import Settings
from tests.support.api import new_submission
from tests.support.servers import Seaweed, Server, free_port, fresh_database
from tests.support.uploads import OCTET, TUS, b64, create_upload, padded, patch

MiB = 1024 * 1024


def test_two_instances_share_uploads_and_one_log(
    tmp_path: Path, video: Path, postgres_url: str, seaweed: Seaweed
) -> None:
    db_url = fresh_database(postgres_url)
    keys = tmp_path / "keys"  # the secrets every instance mounts
    env = {
        **seaweed.env,
        "PORTAL_DATABASE_URL": db_url,
        "PORTAL_STORAGE_URL": f"s3://{seaweed.new_bucket(object_lock=True)}/portal",
        "PORTAL_S3_ENDPOINT_URL": seaweed.endpoint_url,
        "PORTAL_LOG_KEY_FILE": str(keys / "log.key"),
        "PORTAL_CONTACT_KEY_FILE": str(keys / "contact.key"),
    }
    a = Server(tmp_path / "a", env=env).start()
    b = Server(tmp_path / "b", env=env).start()
    try:
        data = padded(video, 21 * MiB)
        with httpx.Client(base_url=a.url, timeout=60) as http:
            sub_id, token = new_submission(http)
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.post(
            f"{a.url}/api/v1/uploads",
            headers={
                **TUS,
                **auth,
                "Upload-Length": str(len(data)),
                "Upload-Metadata": f"filename {b64('two.mp4')}",
            },
        )
        path = httpx.URL(r.headers["Location"]).path
        chunk = 3 * MiB  # not a multiple of the S3 part size: pending parts cross instances
        for n, offset in enumerate(range(0, len(data), chunk)):
            server = (a, b)[n % 2]
            r = httpx.patch(
                server.url + path,
                content=data[offset : offset + chunk],
                timeout=60,
                headers={**TUS, **auth, **OCTET, "Upload-Offset": str(offset)},
            )
            assert r.status_code == 204, (server.url, r.text)
        files = httpx.get(f"{b.url}/api/v1/submissions/{sub_id}", headers=auth).json()["files"]
        assert [f["sha256"] for f in files] == [hashlib.sha256(data).hexdigest()]

        # Custody appends from both instances at once stay one gap-free sequence.
        def open_submissions(server: Server) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                for _ in range(15):
                    new_submission(http)

        threads = [threading.Thread(target=open_submissions, args=(s,)) for s in (a, b, a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        engine = create_engine(db_url)
        with engine.connect() as conn:
            seqs = [r[0] for r in conn.execute(text("SELECT seq FROM log_entries ORDER BY seq"))]
            size = conn.execute(text("SELECT size FROM log_head")).scalar_one()
        engine.dispose()
        assert seqs == list(range(size))
        assert size >= 4 * 15 * 2  # consent.given + submission.created each
    finally:
        a.stop()
        b.stop()


class CuttableProxy:
    """A TCP relay to S3 whose link the test can cut and restore, like a network outage."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.up()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        assert self._listener is not None
        # shutdown, not just close: close() does not wake a thread blocked in accept().
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while block := src.recv(65536):
                dst.sendall(block)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxied_s3(
    seaweed: Seaweed, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[CuttableProxy, str]]:
    for name, value in seaweed.env.items():
        monkeypatch.setenv(name, value)
    proxy = CuttableProxy(httpx.URL(seaweed.endpoint_url).port or 80)
    yield proxy, seaweed.new_bucket(object_lock=True)
    proxy.down()


def test_s3_outage_mid_upload_gives_503_and_loses_nothing(
    tmp_path: Path, video: Path, postgres_url: str, proxied_s3: tuple[CuttableProxy, str]
) -> None:
    proxy, bucket = proxied_s3
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=fresh_database(postgres_url),
        storage_url=f"s3://{bucket}/portal",
        s3_endpoint_url=f"http://127.0.0.1:{proxy.port}",
    )
    data = padded(video, 20 * MiB)
    with TestClient(create_app(settings)) as client:
        _, token = new_submission(client)
        auth = {"Authorization": f"Bearer {token}"}
        url = create_upload(client, auth, len(data))
        chunk = 5 * MiB
        for offset in (0, chunk):
            assert (
                patch(client, url, auth, offset, data[offset : offset + chunk]).status_code == 204
            )
        acknowledged = 2 * chunk

        proxy.down()
        r = patch(client, url, auth, acknowledged, data[acknowledged : acknowledged + chunk])
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "storage_unavailable" and r.headers["Retry-After"]
        head = client.head(url, headers={**TUS, **auth})
        assert head.headers["Upload-Offset"] == str(acknowledged)  # nothing acknowledged lost

        proxy.up()
        offset = acknowledged
        while offset < len(data):
            r = patch(client, url, auth, offset, data[offset : offset + chunk])
            assert r.status_code == 204, r.text
            offset = int(r.headers["Upload-Offset"])
        sub = client.get(f"/api/v1/submissions/{_sub(client, auth)}", headers=auth)
        assert [f["sha256"] for f in sub.json()["files"]] == [hashlib.sha256(data).hexdigest()]


def _sub(client: TestClient, auth: dict[str, str]) -> str:
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    from portal.submissions.service import authenticate

    with rt.sessions() as db:
        return authenticate(db, token=auth["Authorization"].split()[1]).id
