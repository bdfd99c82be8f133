"""The webhook signature and the allow-list check, against an independent implementation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from portal.requests.notify import Arrival, allowed, signature

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
PREFIXES = ["https://hooks.example.org/portal/", "http://10.1.2.3:8080/in"]


def test_the_signature_is_the_standard_webhooks_one() -> None:
    body = Arrival(request_id="r1", case_id="c1", files=2, link="https://p/x").body()
    ts = 1_767_225_600
    theirs = Webhook(SECRET).sign("job1", datetime.fromtimestamp(ts, UTC), body)
    assert signature(SECRET, msg_id="job1", timestamp=ts, body=body) == theirs


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.org/portal/",
        "https://HOOKS.example.org:443/portal/case-1?x=1",
        "http://10.1.2.3:8080/in",
        "http://10.1.2.3:8080/in/deeper",
    ],
)
def test_addresses_under_a_prefix_are_allowed(url: str) -> None:
    assert allowed(url, PREFIXES)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.org/portal/",
        "https://hooks.example.org:8443/portal/",
        "https://hooks.example.org/portals",
        "http://10.1.2.3:8080/inside",
        "http://10.1.2.3/in",
        "https://user@hooks.example.org/portal/",
        "https://hooks.example.org.evil.net/portal/",
        "ftp://hooks.example.org/portal/",
        "https://hooks.example.org:99999/portal/",
        "",
    ],
)
def test_addresses_outside_every_prefix_are_refused(url: str) -> None:
    assert not allowed(url, PREFIXES)
    assert not allowed(url, [])
