"""The permission matrix: the one place that says which role may do what.

Routes ask for a Permission (portal.deps.require, portal.web.access.need), both through
`ensure_any`; nothing else checks roles. The table in docs/api.md is generated from the same
data (tests/integration/test_permissions.py keeps them equal).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from portal.errors import Forbidden


class Permission(StrEnum):
    EVIDENCE_READ = "evidence.read"
    """Queue, detail, metadata, thumbnail, custody timeline of an item."""
    EVIDENCE_CONTENT = "evidence.content"
    """Play and download the original."""
    EVIDENCE_TRIAGE = "evidence.triage"
    CASES = "cases"
    """Create cases, link and unlink evidence, list a case's evidence."""
    WITNESS_CONTACT = "witness.contact"
    """Decrypt a witness's contact details (each look is logged)."""
    HOLDS = "holds"
    RETENTION = "retention"
    """Retention policies and overrides."""
    DISPOSITION = "disposition"
    """Approve destruction."""
    CHANGES = "changes"
    """List pending change requests; confirm another's, withdraw one's own."""
    MANAGE_INVESTIGATORS = "users.investigators"
    MANAGE_USERS = "users.all"
    SETTINGS = "settings"
    LOG = "log"
    """The custody log, checkpoints and proofs (never evidence content)."""
    SHARES = "shares"
    """Share a case or chosen items with a named prosecutor or defence lawyer; revoke."""


_INVESTIGATOR = frozenset(
    {
        Permission.EVIDENCE_READ,
        Permission.EVIDENCE_CONTENT,
        Permission.EVIDENCE_TRIAGE,
        Permission.CASES,
    }
)

MATRIX: dict[str, frozenset[Permission]] = {
    "investigator": _INVESTIGATOR,
    "supervisor": _INVESTIGATOR
    | {
        Permission.WITNESS_CONTACT,
        Permission.HOLDS,
        Permission.RETENTION,
        Permission.DISPOSITION,
        Permission.CHANGES,
        Permission.MANAGE_INVESTIGATORS,
        Permission.SHARES,
    },
    "auditor": frozenset({Permission.LOG}),
    # CHANGES: admins confirm the supervisor and admin grants of another admin.
    "admin": frozenset({Permission.MANAGE_USERS, Permission.SETTINGS, Permission.CHANGES}),
}


def allowed(role: str, permission: Permission) -> bool:
    return permission in MATRIX.get(role, frozenset())


def ensure_any(role: str, permissions: Iterable[Permission]) -> None:
    """The one check behind every guarded route, API and web alike: a role holding any of
    `permissions` passes, any other is refused."""
    if not any(allowed(role, p) for p in permissions):
        raise Forbidden(f"the {role} role may not do this", code="forbidden")
