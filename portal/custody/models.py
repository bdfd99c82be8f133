"""Custody log tables. `log_entries` and `log_nodes` are only ever inserted into."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UtcDateTime


class LogEntry(Base):
    __tablename__ = "log_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    type: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    # The canonical JSON bytes exactly as hashed into the tree.
    event: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogNode(Base):
    """Hash of a perfect subtree: leaves [index * 2**level, (index + 1) * 2**level)."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogHead(Base):
    """One row; updating it is how appends are serialised on every database."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)


class Checkpoint(Base):
    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CheckpointTimestamp(Base):
    """An RFC 3161 token over a checkpoint's note, asked for after the checkpoint committed."""

    __tablename__ = "log_timestamps"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The TSA's whole DER answer (TimeStampResp), as the verifiers read it.
    token: Mapped[bytes] = mapped_column(LargeBinary)
    gen_time: Mapped[datetime] = mapped_column(UtcDateTime)
    tsa_url: Mapped[str] = mapped_column(String(512))
