"""Who may open a staff page: the session cookie names the user, the permission matrix says
what they may do (the same check as the API's `portal.deps.require`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from portal.auth import service as staff_auth
from portal.auth.models import StaffUser
from portal.auth.permissions import Permission, ensure_any
from portal.deps import RuntimeDep
from portal.errors import Unauthorized
from portal.web.rendering import secure
from portal.web.routing import LoginRequired
from portal.web.security import session_cookie


def web_staff(request: Request, rt: RuntimeDep) -> StaffUser:
    token = request.cookies.get(session_cookie(secure(request)))
    if not token:
        raise LoginRequired("log in first")
    with rt.sessions() as db:
        try:
            return staff_auth.resolve(db, token=token, now=rt.clock())
        except Unauthorized as exc:
            raise LoginRequired(exc.message) from None


StaffUserDep = Annotated[StaffUser, Depends(web_staff)]


def need(*permissions: Permission) -> Any:
    """Staff holding any of `permissions` (per the matrix); the web matrix test reads
    `web_permissions` off the dependency."""

    def check(user: StaffUserDep) -> StaffUser:
        ensure_any(user.role, permissions)
        return user

    check.web_permissions = permissions  # type: ignore[attr-defined]
    return Depends(check)


Reader = Annotated[StaffUser, need(Permission.EVIDENCE_READ)]
Player = Annotated[StaffUser, need(Permission.EVIDENCE_CONTENT)]
Triager = Annotated[StaffUser, need(Permission.EVIDENCE_TRIAGE)]
CaseWorker = Annotated[StaffUser, need(Permission.CASES)]
ContactViewer = Annotated[StaffUser, need(Permission.WITNESS_CONTACT)]
Holder = Annotated[StaffUser, need(Permission.HOLDS)]
RetentionViewer = Annotated[StaffUser, need(Permission.RETENTION)]
Approver = Annotated[StaffUser, need(Permission.DISPOSITION)]
ChangeConfirmer = Annotated[StaffUser, need(Permission.CHANGES)]
# Anyone who can ask for a change (an investigator closing a case too) sees them.
ChangeViewer = Annotated[StaffUser, need(Permission.CHANGES, Permission.CASES)]
UserAdmin = Annotated[StaffUser, need(Permission.MANAGE_USERS, Permission.MANAGE_INVESTIGATORS)]
