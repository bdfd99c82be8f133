"""The running portal's parts, built once by create_app and handed to routes and flows.

Parts and single-domain conveniences only: a step across domains is a flow (portal/flows/).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import logging
import shutil
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import anyio
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from portal import metrics
from portal.auth.service import LoginPolicy
from portal.clock import utcnow
from portal.config import Settings
from portal.custody import note, timestamp, tsa
from portal.custody import service as custody
from portal.custody.batch import SigningBatcher
from portal.custody.mirror import Mirror, publish_quietly
from portal.custody.models import Checkpoint
from portal.db import make_read_sessionmaker, transaction
from portal.evidence.playbacks import close_idle_playbacks
from portal.keys import ContactCipher, recipient_key
from portal.ratelimit import service as ratelimit
from portal.retention import disposition
from portal.retention import service as retention_svc
from portal.storage import Storage
from portal.storage.local import LocalStorage
from portal.uploads.service import Deps, Limits

log = logging.getLogger("portal")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    storage: Storage
    contact_cipher: ContactCipher
    log_signer: str
    rate_limit_key: bytes
    clock: Callable[[], datetime] = utcnow
    # One stamping run per process at a time: a crowd of finished uploads asks the TSA once.
    _stamping: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _media_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
        field(default_factory=weakref.WeakKeyDictionary, repr=False)
    )

    def __post_init__(self) -> None:
        # Every write session carries the guard, so custody.append refuses a rolled-back log.
        self.sessions.configure(info={custody.GUARD: self.log_mirror})

    @functools.cached_property
    def log_mirror(self) -> Mirror:
        """The log's copy in storage and its last signed checkpoint beside the key."""
        return Mirror(
            store=self.storage,
            remembered=self.settings.resolved_log_key_file.with_suffix(".checkpoint"),
            verifier=note.verifier_from_signer(self.log_signer),
            retention=self.settings.log_retention,
            clock=lambda: self.clock(),
        )

    @functools.cached_property
    def recipient_key(self) -> bytes:
        """The key of one-time links' recipient commitments (portal.keys)."""
        return recipient_key(self.settings.resolved_contact_key_file)

    @functools.cached_property
    def readers(self) -> sessionmaker[Session]:
        """Sessions for lookups that never write (see portal.db)."""
        return make_read_sessionmaker(self.engine)

    @property
    def retention(self) -> retention_svc.Context:
        return retention_svc.Context(
            storage=self.storage,
            withdrawal_grace=self.settings.withdrawal_grace,
            lock_mode=self.settings.s3_lock_mode,
        )

    def run_retention(
        self, *, as_of: datetime | None = None, dry_run: bool = False
    ) -> disposition.RunReport:
        now = self.clock()
        report = disposition.run(
            self.sessions, self.retention, as_of=as_of or now, dry_run=dry_run, now=now
        )
        if not dry_run:
            metrics.RETENTION_RUNS.inc()
            metrics.PURGES.inc(len(report.destroyed))
        return report

    def close_idle_playbacks(self) -> int:
        with transaction(self.sessions) as db:
            return close_idle_playbacks(db, now=self.clock(), idle=self.settings.playback_idle)

    def count_request(
        self, bucket: ratelimit.Bucket, client_host: str | None, *, db: Session | None = None
    ) -> None:
        """Count one request against the client's limit; raises RateLimited past it.

        In `db`'s transaction when given (the count then stands or falls with that work),
        else in one of its own."""
        s = self.settings
        limit = {
            "submissions": s.rate_limit_submissions,
            "uploads": s.rate_limit_uploads,
            "request_lookups": s.rate_limit_request_lookups,
            "request_answers": s.rate_limit_request_answers,
            "logins": s.rate_limit_logins,
        }[bucket]
        if limit <= 0:
            return
        with (
            contextlib.nullcontext(db) if db is not None else transaction(self.sessions) as session
        ):
            ratelimit.hit(
                session,
                secret=self.rate_limit_key,
                bucket=bucket,
                client=ratelimit.client_id(client_host),
                limit=limit,
                window=s.rate_limit_window,
                now=self.clock(),
            )

    def purge_rate_counters(self) -> int:
        with transaction(self.sessions) as db:
            return ratelimit.purge(db, now=self.clock())

    @property
    def login_policy(self) -> LoginPolicy:
        s = self.settings
        return LoginPolicy(
            max_failures=s.login_max_failures,
            lockout=s.login_lockout,
            session_ttl=s.session_ttl,
            second_factor_roles=frozenset(filter(None, s.second_factor_roles.split(","))),
            sealer=self.contact_cipher,
        )

    @property
    def log_verifier(self) -> str:
        return note.verifier_from_signer(self.log_signer)

    def check_log(self) -> bool:
        """On start: is the database's log the signed one (publishing what storage lacks)?
        A refusal is logged and kept: appends answer 503 until `portal custody recover`."""
        try:
            with self.readers() as db:
                self.log_mirror.catch_up(db)
        except custody.LogRolledBack as exc:
            log.error("custody log refused: %s", exc.message)
            return False
        return True

    def sign_checkpoint(self, *, force: bool = False) -> Checkpoint:
        with transaction(self.sessions) as db:
            cp = custody.sign_checkpoint(
                db,
                signer=self.log_signer,
                origin=self.settings.log_origin,
                at=self.clock(),
                force=force,
            )
        with self.readers() as db:
            publish_quietly(self.log_mirror, db, cp.note)
        return cp

    @functools.cached_property
    def checkpoints(self) -> SigningBatcher:
        """Checkpoints for new receipts, signed in rounds (portal.custody.batch)."""
        interval = self.settings.checkpoint_batch_interval.total_seconds()
        return SigningBatcher(self.sign_checkpoint, interval=interval)

    def media_limiter(self) -> anyio.CapacityLimiter:
        """The bound on derivations after an answer, for the running event loop (a limiter
        belongs to one loop; tests run several)."""
        loop = asyncio.get_running_loop()
        limiter = self._media_limiters.get(loop)
        if limiter is None:
            limiter = self._media_limiters[loop] = anyio.CapacityLimiter(
                self.settings.media_concurrency
            )
        return limiter

    def timestamp_checkpoints(self) -> int:
        """Send checkpoints still without an RFC 3161 token to the TSA, when one is set; how
        many got one. Never inside a transaction: a TSA that is down delays the token only."""
        s = self.settings
        if not s.tsa_url or not self._stamping.acquire(blocking=False):
            return 0
        try:
            roots = tsa.load_roots(s.tsa_ca_bundle) if s.tsa_ca_bundle else None
            return timestamp.stamp_missing(
                self.sessions, url=s.tsa_url, roots=roots, timeout=s.tsa_timeout
            )
        finally:
            self._stamping.release()

    def timestamp_soon(self) -> None:
        """Timestamp in a thread of its own, so the request that signed waits for no TSA."""

        def run() -> None:
            try:
                self.timestamp_checkpoints()
            except Exception:  # the periodic sweep asks again
                log.exception("timestamping checkpoints failed")

        if self.settings.tsa_url:
            threading.Thread(target=run, name="portal-tsa", daemon=True).start()

    @property
    def upload_deps(self) -> Deps:
        s = self.settings
        return Deps(
            sessions=self.sessions,
            storage=self.storage,
            limits=Limits(
                max_size=s.max_upload_size,
                expiry=s.upload_expiry,
                lease=s.upload_lock_lease,
                max_metadata_bytes=s.max_metadata_bytes,
                min_free_space=s.min_free_space,
                max_unfinished_per_client=s.max_unfinished_per_client,
            ),
            clock=self.clock,
            free_bytes=self.free_bytes,
        )

    def free_bytes(self) -> int | None:
        """Free bytes on local storage's disk; None for S3, which reports no such figure."""
        if not isinstance(self.storage, LocalStorage):
            return None
        return shutil.disk_usage(self.storage.root).free

    def client_key(self, host: str | None) -> str:
        """A keyed pseudonym of the client (its address, or IPv6 /64) for per-client caps kept
        beyond one rate-limit window; the table never holds the address itself."""
        message = f"unfinished\n{ratelimit.client_id(host)}".encode()
        return hmac.new(self.rate_limit_key, message, hashlib.sha256).hexdigest()
