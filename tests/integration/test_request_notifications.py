"""A request's author hears of new arrivals: a signed webhook to an allowed address and an
email through a real SMTP server, each retried by the job queue, a final failure recorded;
an address outside the operator's allow-list is refused and changes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from portal.config import Settings
from portal.custody import service as custody
from portal.flows import jobs
from portal.requests.models import EvidenceRequest
from tests.support.api import CONSENT, runtime
from tests.support.jobs import jobs_of
from tests.support.receivers import Mailbox, WebhookReceiver, smtp_server, webhook_receiver
from tests.support.requests import new_request, request_body
from tests.support.retention import T0, Clock, Witness, new_case, send

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BACKOFF = timedelta(seconds=60)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def settings(settings: Settings, receiver: WebhookReceiver, mailbox: Mailbox) -> Settings:
    return settings.model_copy(
        update={
            "notify_webhook_allowed": [f"{receiver.url}/hooks/"],
            "notify_webhook_secret": SECRET,
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox.port,
            "smtp_tls": "none",
            "smtp_from": "portal@example.org",
            "public_url": "https://portal.example.org",
            "job_backoff": BACKOFF,
            # The in-app poller stays asleep: the tests run the due jobs themselves.
            "job_poll_interval": timedelta(hours=1),
        }
    )


def _arrival(
    client: TestClient, inv: dict[str, str], clip: bytes, **notify: Any
) -> tuple[dict[str, Any], str]:
    case_id = new_case(client, inv)
    req = new_request(client, inv, case_id, T0, **notify)
    r = client.post("/api/v1/submissions", json={"consent": CONSENT, "request_code": req["code"]})
    assert r.status_code == 201, r.text
    witness = Witness(r.json()["id"], {"Authorization": f"Bearer {r.json()['witness_token']}"})
    return req, send(client, witness, clip, name="Rosa_balcon.mp4")


def _verified(delivery: Any) -> dict[str, Any]:
    """Checked by an independent Standard Webhooks implementation, as a receiver would."""
    out: dict[str, Any] = Webhook(SECRET).verify(delivery.body, delivery.headers)
    return out


@pytest.mark.both_backends
def test_the_webhook_arrives_signed_and_the_email_arrives(
    client: TestClient,
    inv: dict[str, str],
    clock: Clock,
    clip: bytes,
    receiver: WebhookReceiver,
    mailbox: Mailbox,
) -> None:
    hook = f"{receiver.url}/hooks/case-12"
    req, item = _arrival(client, inv, clip, notify_url=hook, notify_email="ivan@example.org")
    assert req["notify_url"] == hook and req["notify_email"] == "ivan@example.org"

    (delivery,) = receiver.deliveries
    assert delivery.path == "/hooks/case-12"
    body = _verified(delivery)
    link = f"https://portal.example.org/web/staff/queue?request_id={req['id']}"
    assert body == {
        "type": "request.evidence_received",
        "request": req["id"],
        "case": req["case_id"],
        "files": 1,
        "url": link,
    }
    tampered = delivery.body.replace(b'"files":1', b'"files":2')
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(SECRET).verify(tampered, delivery.headers)

    ((to, mail),) = mailbox.messages
    assert to == ["ivan@example.org"] and mail["From"] == "portal@example.org"
    text = mail.get_content()
    assert isinstance(text, str) and req["id"] in text and link in text
    assert req["case_id"] in text
    for sent in (delivery.body.decode(), text):  # no witness, no file name, no request text
        assert "Rosa" not in sent and "balcon" not in sent and "Juárez" not in sent

    kinds = {k: j.state for k, j in jobs_of(runtime(client), item).items()}
    assert kinds["webhook"] == "done" and kinds["email"] == "done"


def test_a_receiver_down_for_the_first_tries_gets_it_on_a_retry(
    client: TestClient, inv: dict[str, str], clock: Clock, clip: bytes, receiver: WebhookReceiver
) -> None:
    receiver.fail_first = 2
    rt = runtime(client)
    _, item = _arrival(client, inv, clip, notify_url=f"{receiver.url}/hooks/x")
    assert [d.status for d in receiver.deliveries] == [503]
    job = jobs_of(rt, item)["webhook"]
    assert job.state == "queued" and job.attempts == 1 and "HTTP 503" in (job.last_error or "")

    assert jobs.run_due(rt) == 0  # backing off: not due yet
    clock.now += BACKOFF + timedelta(seconds=1)
    jobs.run_due(rt)
    assert [d.status for d in receiver.deliveries] == [503, 503]
    assert jobs.run_due(rt) == 0  # the wait doubled
    clock.now += 2 * BACKOFF + timedelta(seconds=1)
    jobs.run_due(rt)
    assert [d.status for d in receiver.deliveries] == [503, 503, 200]
    first, *_, last = receiver.deliveries
    assert first.headers["webhook-id"] == last.headers["webhook-id"]  # one message, retried
    assert _verified(last)["files"] == 1
    job = jobs_of(rt, item)["webhook"]
    assert job.state == "done" and job.attempts == 3


def test_a_final_failure_is_recorded_and_shown_with_the_item(
    client: TestClient, inv: dict[str, str], clock: Clock, clip: bytes, receiver: WebhookReceiver
) -> None:
    receiver.fail_first = 99
    rt = runtime(client)
    _, item = _arrival(client, inv, clip, notify_url=f"{receiver.url}/hooks/x")
    for _ in range(4):
        clock.now += timedelta(hours=1)
        jobs.run_due(rt)
    assert len(receiver.deliveries) == rt.settings.job_max_attempts  # then no more
    shown = client.get(f"/api/v1/evidence/{item}", headers=inv).json()["jobs"]
    (hook,) = [j for j in shown if j["kind"] == "webhook"]
    assert hook["state"] == "failed" and hook["finished_at"] is not None
    assert "HTTP 503" in hook["last_error"]


def _state(client: TestClient) -> tuple[int, int]:
    with runtime(client).sessions() as db:
        reqs = db.scalar(select(func.count()).select_from(EvidenceRequest)) or 0
        return reqs, custody.tree_size(db)


REFUSED_URLS = [
    "http://169.254.169.254/latest/meta-data/",  # a cloud metadata service
    "http://127.0.0.1:5432/hooks/",  # another port on the allowed host
    "https://127.0.0.1/hooks/",  # another scheme
    "{base}/admin",  # outside the allowed path
    "{base}/hooks-admin/",  # a prefix of the path, not a segment
    "{base}@10.0.0.1/hooks/",  # the allowed host as a user name
    "file:///etc/passwd",
    "not a url",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_a_webhook_outside_the_allow_list_is_refused(
    client: TestClient, inv: dict[str, str], clock: Clock, receiver: WebhookReceiver, url: str
) -> None:
    case_id = new_case(client, inv)
    before = _state(client)
    body = request_body(case_id, T0, notify_url=url.format(base=receiver.url))
    r = client.post("/api/v1/requests", json=body, headers=inv)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "notify_url" and "notify_url" in r.json()["message"]
    assert _state(client) == before
    assert receiver.deliveries == []


@pytest.mark.parametrize(
    ("field", "value", "unset"),
    [
        ("notify_url", "{base}/hooks/x", "notify_webhook_secret"),
        ("notify_email", "ivan@example.org", "smtp_host"),
        ("notify_email", "not an address", None),
    ],
)
def test_a_notification_the_deployment_cannot_send_is_refused(
    client: TestClient,
    inv: dict[str, str],
    clock: Clock,
    receiver: WebhookReceiver,
    field: str,
    value: str,
    unset: str | None,
) -> None:
    rt = runtime(client)
    if unset:
        rt.settings = rt.settings.model_copy(update={unset: ""})
    case_id = new_case(client, inv)
    before = _state(client)
    body = request_body(case_id, T0, **{field: value.format(base=receiver.url)})
    r = client.post("/api/v1/requests", json=body, headers=inv)
    assert r.status_code == 422, r.text
    assert set(r.json()) >= {"error", "message"} and field in json.dumps(r.json())
    assert _state(client) == before
