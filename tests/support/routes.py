"""Every API route the app serves, and the guard that protects it (read from the route itself)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from portal.auth.permissions import MATRIX, Permission
from portal.deps import get_staff, get_witness

# Routes anyone may call. Every other route must be guarded by a dependency.
PUBLIC = {
    ("GET", "/api/v1/consent"),
    ("POST", "/api/v1/submissions"),
    ("GET", "/api/v1/log/checkpoint"),
    ("GET", "/api/v1/log/public-key"),
    ("GET", "/api/v1/log/key-transitions"),
    ("GET", "/api/v1/log/proof/consistency"),
    ("GET", "/api/v1/log/timestamp/{size}"),
    ("GET", "/api/v1/log/tile/{path:path}"),  # hash tiles; entry bundles are for auditors
    ("POST", "/api/v1/auth/login"),
    # Name and password, as at login: enrolling a second factor before the first sign-in.
    ("POST", "/api/v1/auth/second-factor"),
    ("POST", "/api/v1/auth/second-factor/confirm"),
    ("OPTIONS", "/api/v1/uploads"),
    ("OPTIONS", "/api/v1/uploads/{upload_id}"),
    ("GET", "/api/v1/public/requests/{code}"),
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    dependant: Dependant


def api_routes(app: FastAPI) -> list[Endpoint]:
    """Every (method, path) the app serves through an APIRoute.

    Newer FastAPI keeps each included router in `app.routes` as one lazy entry (not an
    APIRoute); `fastapi.routing.iter_route_contexts` flattens them. Older FastAPI lists the
    APIRoutes themselves.
    """
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    pairs: list[tuple[Any, Any]] = (
        [(r, r) for r in app.routes]
        if flatten is None
        else [(rc.original_route, rc) for rc in flatten(app.routes)]
    )
    found = []
    for original, effective in pairs:
        if not isinstance(original, APIRoute):
            continue  # /docs, /openapi.json: Starlette routes, no data
        if not str(effective.path).startswith("/api/"):
            continue  # web pages: cookie sessions, own matrix in test_web_security.py
        dependant = getattr(effective, "dependant", None) or original.dependant
        for method in sorted(effective.methods or ()):
            found.append(Endpoint(method, str(effective.path), dependant))
    return found


def calls(dependant: Dependant) -> Iterator[Any]:
    """Every dependency callable of a route, however deeply nested."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from calls(sub)


@dataclass(frozen=True)
class Guard:
    kind: Literal["public", "witness", "staff"]
    # For staff routes: each `require(...)` lets through holders of any one of its
    # permissions, and every `require` on the route must pass. () means any staff member.
    required: tuple[frozenset[Permission], ...] = ()

    def admits(self, caller: str) -> bool:
        if self.kind == "public":
            return True
        if self.kind == "witness":
            return caller == "witness"
        if caller not in MATRIX:
            return False
        return all(group & MATRIX[caller] for group in self.required)


def guard_of(endpoint: Endpoint) -> Guard | None:
    """How a route is protected, from its dependencies; None if it cannot be classified."""
    deps = list(calls(endpoint.dependant))
    required = tuple(
        frozenset(Permission(p) for p in d.permissions) for d in deps if hasattr(d, "permissions")
    )
    witness = get_witness in deps
    staff = get_staff in deps or bool(required)
    if witness and staff:
        return None  # a route for both would need its own rules
    if witness:
        return Guard("witness")
    if staff:
        return Guard("staff", required)
    if (endpoint.method, endpoint.path) in PUBLIC:
        return Guard("public")
    return None
