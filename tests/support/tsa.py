"""A real RFC 3161 Time-Stamping Authority on 127.0.0.1: `openssl ts -reply` behind a tiny
HTTP handler, with a CA and a TSA certificate made at test time.

`mode` makes it misbehave the ways a hostile or broken TSA can: answer for another message
(`other_imprint`), answer garbage (`garbage`), be down (`down`: HTTP 503), or accept the
connection and never answer (`hang`, until the block ends).
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient

from tests.support.api import runtime

Mode = Literal["ok", "other_imprint", "garbage", "down", "hang"]

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_ca(directory: Path, cn: str = "Test TSA Root") -> tuple[Path, Path]:
    """A CA certificate and key (PEM files) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    (directory / "ca.key").write_bytes(_pem_key(key))
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return directory / "ca.pem", directory / "ca.key"


def _make_tsa_cert(directory: Path, ca_pem: Path, ca_key: Path) -> None:
    ca = x509.load_pem_x509_certificate(ca_pem.read_bytes())
    signer = serialization.load_pem_private_key(ca_key.read_bytes(), None)
    assert isinstance(signer, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Test TSA"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # RFC 3161 2.3: the one key purpose, critical.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(signer, hashes.SHA256())
    )
    (directory / "tsa.key").write_bytes(_pem_key(key))
    (directory / "tsa.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@dataclass
class Tsa:
    directory: Path
    url: str = ""
    mode: Mode = "ok"
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    def _openssl(self, *args: str, stdin: bytes | None = None) -> bytes:
        return subprocess.run(
            ["openssl", "ts", *args], input=stdin, capture_output=True, check=True, timeout=30
        ).stdout

    def _query_for_other_message(self) -> Path:
        other = self.directory / "other.txt"
        other.write_bytes(b"some other message\n")
        query = self.directory / "other.tsq"
        self._openssl("-query", "-data", str(other), "-sha256", "-cert", "-out", str(query))
        return query

    def answer(self, query: bytes) -> tuple[int, bytes]:
        with self._lock:  # openssl advances one serial file
            self.requests += 1
            if self.mode == "down":
                return 503, b"down for maintenance"
            if self.mode == "garbage":
                return 200, b"\x30\x03\x02\x01\x00 not a timestamp"
            path = self.directory / "query.tsq"
            path.write_bytes(query)
            if self.mode == "other_imprint":
                path = self._query_for_other_message()
            # Only the signer's certificate goes in: openssl writes a chain's SET OF in
            # non-DER order, which strict DER parsers (rfc3161-client) rightly refuse.
            reply = self._openssl(
                "-reply",
                "-config",
                str(self.directory / "tsa.cnf"),
                "-queryfile",
                str(path),
            )
            return 200, reply


def _handler(tsa: Tsa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if tsa.mode == "hang":
                tsa.requests += 1
                tsa.released.wait(120)
                return
            status, reply = tsa.answer(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def start_tsa(directory: Path) -> Iterator[Tsa]:
    """A TSA answering on http://127.0.0.1:<free port>/ until the block ends."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem, ca_key = make_ca(directory)
    _make_tsa_cert(directory, ca_pem, ca_key)
    (directory / "serial").write_text("01\n")
    (directory / "tsa.cnf").write_text(_CONFIG.format(dir=directory))
    tsa = Tsa(directory)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(tsa))
    tsa.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield tsa
    finally:
        tsa.released.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def stamped_receipt(client: TestClient, sub_id: str, auth: dict[str, str]) -> dict[str, Any]:
    """The receipt once its checkpoint is stamped (by the thread after the upload, or here)."""
    for _ in range(100):
        runtime(client).timestamp_checkpoints()
        body: dict[str, Any] = client.get(
            f"/api/v1/submissions/{sub_id}/receipt", headers=auth
        ).json()
        if "timestamp" in body:
            return body
        time.sleep(0.1)
    raise AssertionError("the checkpoint was never timestamped")
