"""The running portal's parts, built once by create_app and handed to routes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from portal.clock import utcnow
from portal.config import Settings
from portal.storage import Storage
from portal.uploads.service import Deps, Limits


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    storage: Storage
    contact_cipher: Fernet
    clock: Callable[[], datetime] = utcnow

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
        )
