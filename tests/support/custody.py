"""Reading the custody log through a running portal, and what an attacker does to rewrite it."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from portal.custody import service as custody


def log_size(client: TestClient) -> int:
    """The log's size once it is at rest: the pending signing rounds (portal.custody.batch) are
    finished first, so a checkpoint signed in the background for earlier work is not taken
    for something the step under test logged."""
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    rt.checkpoints.drain(30)
    with rt.sessions() as db:
        return custody.tree_size(db)


def events(client: TestClient, start: int = 0) -> list[dict[str, Any]]:
    """The log's events from `start` on, parsed, once pending signing rounds are done."""
    rt = client.app.state.runtime  # type: ignore[attr-defined]
    rt.checkpoints.drain(30)
    with rt.sessions() as db:
        size = custody.tree_size(db)
        return [json.loads(e.event) for e in custody.entries(db, start=start, end=size)]


def of_type(client: TestClient, type: str, subject: str | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in events(client)
        if e["type"] == type and (subject is None or e["subject"] == subject)
    ]


def drop_append_only_guards(conn: Any) -> None:
    """What an attacker holding the database must do before rewriting the log."""
    from sqlalchemy import text

    if conn.dialect.name == "postgresql":
        conn.execute(text("DROP FUNCTION IF EXISTS portal_append_only() CASCADE"))
        return
    for table in ("log_entries", "log_nodes", "log_checkpoints"):
        for verb in ("update", "delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
