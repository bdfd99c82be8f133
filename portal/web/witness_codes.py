"""What the witness pages opened by a receipt code share: reading the code (readable, or
`<submission id>.wt_<token>` as given before), finding its submission, and what the receipt,
status and print pages show of it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from portal.auth.witness import CANONICAL_RE, canonical, grouped
from portal.errors import Unauthorized
from portal.retention import service as retention
from portal.submissions import consent as consent_docs
from portal.submissions import service as submissions
from portal.submissions.models import Submission
from portal.uploads.models import UploadState
from portal.web.i18n import Translator
from portal.web.rendering import render

# Codes given before the readable ones: `<submission id>.wt_<token>`.
OLD_CODE_RE = re.compile(r"^([0-9a-f]{32})\.(wt_[A-Za-z0-9_-]{16,128})$")


def token_of(code: str) -> str:
    """The witness token inside a receipt code (the code itself for a readable one)."""
    old = OLD_CODE_RE.match(code.strip())
    return old.group(2) if old else canonical(code)


def witness_of(db: Session, code: str | None) -> Submission | None:
    """The submission a receipt code opens, or None (a wrong code and a wrong id look alike)."""
    text = (code or "").strip()
    old = OLD_CODE_RE.match(text)
    if old is None and not CANONICAL_RE.fullmatch(canonical(text)):
        return None
    try:
        sub = submissions.authenticate(db, token=token_of(text))
    except Unauthorized:
        return None
    return sub if old is None or sub.id == old.group(1) else None


@dataclass(frozen=True)
class WitnessFile:
    name: str
    size: int
    sha256: str
    media_type: str
    received_at: datetime
    log_index: int
    state: str
    retention: str


def witness_view(db: Session, sub: Submission, t: Translator) -> dict[str, Any]:
    consent = submissions.consent_of(db, submission_id=sub.id)
    files = []
    for f in submissions.files_of(db, submission_id=sub.id):
        kept = retention.status_for_witness(db, item=f)
        files.append(
            WitnessFile(
                name=f.filename,
                size=f.size,
                sha256=f.sha256,
                media_type=f.media_type,
                received_at=f.received_at,
                log_index=f.log_index,
                state=kept.state,
                retention=t(f"retention.{kept.state}", until=t.when(kept.until)),
            )
        )
    unfinished = [
        {
            "name": u.filename,
            "pct": int(100 * u.offset / u.length) if u.length else 0,
        }
        for u in submissions.uploads_of(db, submission_id=sub.id)
        if u.status == UploadState.ACTIVE
    ]
    scope_text = {s["name"]: s["text"] for s in consent_docs.current().scopes}
    return {
        "submission": sub,
        "withdrawn_at": consent.withdrawn_at,
        "scopes": [
            scope_text.get(s, {}).get(t.lang) or scope_text.get(s, {}).get("en") or s
            for s in consent.scopes
        ],
        "files": files,
        "unfinished": unfinished,
    }


def shown_code(code: str) -> str:
    text = code.strip()
    return text if OLD_CODE_RE.match(text) else grouped(text)


def code_form(request: Request, action: str, *, bad: bool = False) -> HTMLResponse:
    return render(
        request, "witness/code.html", status=401 if bad else 200, action=action, bad_code=bad
    )
