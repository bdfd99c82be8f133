"""Rate-limit counters: one row per (endpoint, client, window), gone after the window.

No address is stored: `key` is an HMAC of the window, the endpoint and the client's address
under a server secret kept outside the database, so the table alone names nobody, and one
client's rows in two windows cannot be linked without that secret.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime


class RateCounter(Base):
    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_end: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    count: Mapped[int] = mapped_column(Integer)
