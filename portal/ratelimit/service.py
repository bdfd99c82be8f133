"""Fixed-window request counters in the shared database, keyed by an HMAC of the client.

Hand-written rather than a library: `limits` (and slowapi on top of it) keeps counters in
memory, Redis, Memcached or MongoDB, none of which a deployment here has, while every app
instance already shares one SQL database; and the key must be a per-window HMAC so that the
table never holds an address nor a pseudonym that outlives the window. A fixed window lets a
client make up to twice the limit across a window boundary; for turning away floods that is
enough, and check-and-count is then one atomic statement on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal import metrics
from portal.db import rowcount
from portal.errors import RateLimited
from portal.ratelimit.models import RateCounter

Bucket = Literal["submissions", "uploads", "request_lookups", "request_answers", "logins"]

WHAT: dict[Bucket, str] = {
    "submissions": "submissions opened",
    "uploads": "uploads created",
    "request_lookups": "request codes looked up",
    # Counted per request, not per client: a flood aimed at one poster's code.
    "request_answers": "submissions for this request",
    "logins": "staff login tries",
}


def client_id(host: str | None) -> str:
    """What a limit counts by: the address, or for IPv6 its /64, which a single subscriber
    usually holds whole and could otherwise step through address by address."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host  # not an address (a Unix socket, the test client)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def counter_key(secret: bytes, *, bucket: Bucket, client: str, window_start: int) -> str:
    # The window start is part of the input, so a client's rows of two windows look unrelated.
    message = f"{window_start}\n{bucket}\n{client}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def hit(
    db: Session,
    *,
    secret: bytes,
    bucket: Bucket,
    client: str,
    limit: int,
    window: timedelta,
    now: datetime,
) -> None:
    """Count one request of `client` to `bucket`; raise RateLimited when this window already
    holds `limit` of them. A refused request counts nothing, so retrying does not prolong
    the wait. `limit` 0 means no limit."""
    if limit <= 0:
        return
    seconds = int(window.total_seconds())
    stamp = now.timestamp()
    start = int(stamp // seconds) * seconds
    end = start + seconds
    values = {
        "key": counter_key(secret, bucket=bucket, client=client, window_start=start),
        "window_end": datetime.fromtimestamp(end, UTC),
        "count": 1,
    }
    # INSERT ... ON CONFLICT DO UPDATE ... WHERE count < limit RETURNING count: check and
    # count in one statement, so concurrent requests on any instance cannot both take the
    # last slot (PostgreSQL locks the row; SQLite runs one writer at a time).
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(RateCounter)
        .values(values)
        .on_conflict_do_update(
            index_elements=[RateCounter.key],
            set_={"count": RateCounter.count + 1},
            where=RateCounter.count < limit,
        )
        .returning(RateCounter.count)
    )
    if db.execute(stmt).first() is None:
        retry_after = max(1, math.ceil(end - stamp))
        metrics.RATE_LIMITED.labels(str(bucket)).inc()
        where = "" if bucket == "request_answers" else " from this network"
        raise RateLimited(
            f"too many {WHAT[bucket]}{where}; try again in {retry_after} seconds",
            retry_after=retry_after,
        )


def purge(db: Session, *, now: datetime) -> int:
    """Delete the counters of windows that have ended; returns how many went."""
    return rowcount(db.execute(delete(RateCounter).where(RateCounter.window_end <= now)))
