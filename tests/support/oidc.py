"""A real OpenID provider for the sign-in tests: npm `oidc-provider` run by
tests/support/oidc_provider.mjs on 127.0.0.1, with one client (`portal`) and the users
`ana` (investigator claim), `bruno` (admin claim, `amr` mfa) and `carla` (an unmapped claim)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from portal.config import Settings
from tests.support import REPO

NODE_MODULES = REPO / "tests" / "system" / "node_modules"
SCRIPT = REPO / "tests" / "support" / "oidc_provider.mjs"
CLIENT_ID = "portal"
CLIENT_SECRET = "portal-test-secret"
ROLES = "portal-investigator=investigator,portal-admin=admin,portal-supervisor=supervisor"


@dataclass(frozen=True)
class Provider:
    issuer: str

    def settings(self, base: Settings, **extra: object) -> Settings:
        """`base` with single sign-on through this provider."""
        return base.model_copy(
            update={
                "oidc_issuer": self.issuer,
                "oidc_name": "Fiscalía ID",
                "oidc_client_id": CLIENT_ID,
                "oidc_client_secret": CLIENT_SECRET,
                "oidc_roles": ROLES,
                **extra,
            }
        )


@contextmanager
def oidc_provider(port: int, portal_url: str) -> Iterator[Provider]:
    """The provider on `port`, sending browsers back to the portal at `portal_url`."""
    if not (NODE_MODULES / "oidc-provider").exists():
        raise RuntimeError("run `npm ci --prefix tests/system` first (it installs oidc-provider)")
    proc = subprocess.Popen(
        [
            "node",
            str(SCRIPT),
            str(port),
            portal_url + "/web/staff/oidc/callback",
            portal_url + "/web/staff/login",
        ],
        env={**os.environ, "NODE_MODULES_DIR": str(NODE_MODULES)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while proc.stdout.readline().strip() != b"ready":
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the OpenID provider did not start")
        yield Provider(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        if proc.stdout is not None:
            proc.stdout.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
