"""The running portal's parts, built once by create_app and handed to routes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from portal.auth.service import LoginPolicy
from portal.clock import utcnow
from portal.config import Settings
from portal.custody import note
from portal.custody import service as custody
from portal.custody.models import Checkpoint
from portal.db import transaction
from portal.evidence.service import close_idle_playbacks
from portal.media.service import derive
from portal.storage import Storage
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
    clock: Callable[[], datetime] = utcnow

    def after_receipt(self, evidence_id: str) -> None:
        """Derive metadata and a poster, then sign a checkpoint covering the new file."""
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

    def close_idle_playbacks(self) -> int:
        with transaction(self.sessions) as db:
            return close_idle_playbacks(db, now=self.clock(), idle=self.settings.playback_idle)

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
