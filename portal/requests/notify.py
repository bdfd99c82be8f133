"""Telling a request's author that evidence arrived through it: a signed webhook, an email.

What is sent names the request, its case, how many files came through it and a link to the
staff queue: never a witness, a file name or any text a witness wrote.

Webhooks follow the Standard Webhooks signature scheme (the one Svix, and many receivers'
libraries, verify): headers `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256 over "id.timestamp.body">`, keyed by the
deployment's `whsec_` secret. The id is the delivery's job id: the same on every retry, so a
receiver can drop a repeat; the timestamp lets it refuse a replay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx

EVENT = "request.evidence_received"


@dataclass(frozen=True)
class NotifyRules:
    """What a request's author may ask for: webhook URLs under these prefixes, and email
    only when the deployment has an SMTP server and a webhook only when it has a secret."""

    webhook_prefixes: list[str] = field(default_factory=list)
    webhook_secret: bool = False
    email: bool = False


def _origin(url: str) -> tuple[str, str, int | None, str] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return parts.scheme, parts.hostname.lower(), port, parts.path or "/"


def allowed(url: str, prefixes: list[str]) -> bool:
    """Whether `url` falls under one of the operator's prefixes: same scheme, host and port,
    and a path under the prefix's (by whole segments: /hooks does not admit /hooks-admin)."""
    mine = _origin(url)
    if mine is None:
        return False
    for prefix in prefixes:
        theirs = _origin(prefix)
        if theirs is None or mine[:3] != theirs[:3]:
            continue
        base = theirs[3]
        if mine[3] == base or mine[3].startswith(base.rstrip("/") + "/"):
            return True
    return False


@dataclass(frozen=True)
class Arrival:
    request_id: str
    case_id: str
    files: int
    link: str

    def body(self) -> bytes:
        data = {
            "type": EVENT,
            "request": self.request_id,
            "case": self.case_id,
            "files": self.files,
            "url": self.link,
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one delivery."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def post_webhook(
    url: str, *, arrival: Arrival, secret: str, msg_id: str, timestamp: int, timeout: float
) -> None:
    """Deliver once; raises on anything but a 2xx answer (the job queue retries)."""
    body = arrival.body()
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id=msg_id, timestamp=timestamp, body=body),
    }
    # No redirects: an allowed address must not be able to send the server elsewhere.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        answer = client.post(url, content=body, headers=headers)
    if not answer.is_success:
        raise RuntimeError(f"webhook answered HTTP {answer.status_code}")


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    sender: str
    tls: str  # starttls | tls | none
    username: str
    password: str
    timeout: float


def message(arrival: Arrival, *, sender: str, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, to
    msg["Subject"] = f"Nueva evidencia / New evidence: {arrival.request_id}"
    msg.set_content(
        f"Llegaron archivos por la solicitud {arrival.request_id} (caso {arrival.case_id}); "
        f"total: {arrival.files}.\n{arrival.link}\n\n"
        f"Files arrived through request {arrival.request_id} (case {arrival.case_id}); "
        f"total: {arrival.files}.\n{arrival.link}\n"
    )
    return msg


def send_email(smtp: Smtp, *, arrival: Arrival, to: str) -> None:
    """One message through the deployment's SMTP server; raises when it is refused."""
    msg = message(arrival, sender=smtp.sender, to=to)
    context = ssl.create_default_context()
    if smtp.tls == "tls":
        conn: smtplib.SMTP = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout, context=context
        )
    else:
        conn = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with conn:
        if smtp.tls == "starttls":
            conn.starttls(context=context)
        if smtp.username:
            conn.login(smtp.username, smtp.password)
        conn.send_message(msg)
