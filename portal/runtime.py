"""The running portal's parts, built once by create_app and handed to routes."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from portal.auth.service import LoginPolicy
from portal.clock import utcnow
from portal.config import Settings
from portal.custody import note
from portal.custody import service as custody
from portal.custody.models import Checkpoint
from portal.db import make_read_sessionmaker, transaction
from portal.evidence.models import Evidence
from portal.evidence.service import close_idle_playbacks
from portal.media.service import derive
from portal.ratelimit import service as ratelimit
from portal.retention import service as retention_svc
from portal.storage import Storage
from portal.uploads import service as uploads
from portal.uploads.service import Deps, Limits

log = logging.getLogger("portal")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    storage: Storage
    contact_cipher: Fernet
    log_signer: str
    rate_limit_key: bytes
    clock: Callable[[], datetime] = utcnow

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

    def after_receipt(self, evidence_id: str) -> None:
        """Give the new file its retention date, derive metadata and a poster, then sign a
        checkpoint covering it all. A crash here leaves a received, logged file that the next
        start finishes (`finish_receipts`; no date meanwhile means kept: the safe side)."""
        with transaction(self.sessions) as db:
            item = db.get(Evidence, evidence_id)
            if item is not None:
                retention_svc.recompute(
                    db, self.retention, item=item, reason="received", now=self.clock()
                )
        try:
            derive(
                sessions=self.sessions,
                storage=self.storage,
                evidence_id=evidence_id,
                now=self.clock(),
            )
        except Exception:
            # The file is received and logged; a failed derivation must not undo that.
            log.exception("deriving metadata for %s failed", evidence_id)
        self.sign_checkpoint()

    def finish_receipts(self) -> int:
        """Run the follow-up a crash cut short: items received but never derived (derive
        records even a failure, so these are exactly the interrupted ones). Its poster may
        already be stored, without a row; derive takes it over."""
        with self.sessions() as db:
            ids = list(
                db.scalars(
                    select(Evidence.id).where(
                        Evidence.media_info.is_(None), Evidence.disposition.is_(None)
                    )
                )
            )
        for evidence_id in ids:
            try:
                self.after_receipt(evidence_id)
            except Exception:
                log.exception("finishing the receipt of %s failed", evidence_id)
        return len(ids)

    def run_retention(
        self, *, as_of: datetime | None = None, dry_run: bool = False
    ) -> retention_svc.RunReport:
        now = self.clock()
        return retention_svc.run(
            self.sessions, self.retention, as_of=as_of or now, dry_run=dry_run, now=now
        )

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
        limit = {"submissions": s.rate_limit_submissions, "uploads": s.rate_limit_uploads}[bucket]
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

    def sweep_uploads(self) -> int:
        """Finish uploads whose finalise was cut short; end the expired ones."""
        uploads.finalise_pending(self.upload_deps)
        return uploads.expire_stale(self.upload_deps)

    def purge_rate_counters(self) -> int:
        with transaction(self.sessions) as db:
            return ratelimit.purge(db, now=self.clock())

    @property
    def login_policy(self) -> LoginPolicy:
        s = self.settings
        return LoginPolicy(
            max_failures=s.login_max_failures, lockout=s.login_lockout, session_ttl=s.session_ttl
        )

    @property
    def log_verifier(self) -> str:
        return note.verifier_from_signer(self.log_signer)

    def sign_checkpoint(self, *, force: bool = False) -> Checkpoint:
        with transaction(self.sessions) as db:
            return custody.sign_checkpoint(
                db,
                signer=self.log_signer,
                origin=self.settings.log_origin,
                at=self.clock(),
                force=force,
            )

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
            ),
            clock=self.clock,
            on_completed=self.after_receipt,
        )
