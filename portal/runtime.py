"""The running portal's parts, built once by create_app and handed to routes."""

from __future__ import annotations

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
from portal.storage import Storage
from portal.uploads.service import Deps, Limits


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    storage: Storage
    contact_cipher: Fernet
    log_signer: str
    clock: Callable[[], datetime] = utcnow

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
            # Each received file gets a signed checkpoint that covers it, for its receipt.
            on_completed=self.sign_checkpoint,
        )
