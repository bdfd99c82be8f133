"""Custody-log routes: the signed head and key are public; proofs are for auditors."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from portal.auth.models import StaffUser
from portal.custody import merkle
from portal.custody import service as custody
from portal.custody.schemas import ConsistencyProof, EntriesOut, EntryOut, InclusionProof
from portal.db import transaction
from portal.deps import Auditor, RuntimeDep
from portal.errors import Invalid, NotFound, responses

router = APIRouter(prefix="/api/v1/log", tags=["custody log"])
MAX_ENTRIES = 1000


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@router.get("/checkpoint", response_class=PlainTextResponse, responses=responses(404))
def checkpoint(rt: RuntimeDep) -> PlainTextResponse:
    """The newest signed checkpoint (C2SP tlog-checkpoint in a signed note)."""
    with rt.sessions() as db:
        latest = custody.latest_checkpoint(db)
    if latest is None:
        raise NotFound("no checkpoint has been signed yet")
    return PlainTextResponse(latest.note, headers={"Cache-Control": "no-store"})


@router.get("/public-key", response_class=PlainTextResponse)
def public_key(rt: RuntimeDep) -> PlainTextResponse:
    """The checkpoint verifier key (golang.org/x/mod/sumdb/note format)."""
    return PlainTextResponse(rt.log_verifier + "\n")


@router.get("/proof/inclusion", dependencies=[Auditor], responses=responses(401, 403))
def inclusion(
    rt: RuntimeDep, index: Annotated[int, Query(ge=0)], tree_size: Annotated[int, Query(ge=1)]
) -> InclusionProof:
    with rt.sessions() as db:
        size = custody.tree_size(db)
        if not index < tree_size <= size:
            raise Invalid(f"need 0 <= index < tree_size <= {size}", code="bad_range")
        get = custody.node_fetcher(db)
        leaf = custody.entry(db, seq=index).leaf_hash
        proof = merkle.inclusion_proof(index, tree_size, get)
        root = merkle.root(tree_size, get)
    return InclusionProof(
        index=index,
        tree_size=tree_size,
        leaf_hash=b64(leaf),
        proof=[b64(h) for h in proof],
        root=b64(root),
    )


@router.get("/proof/consistency", dependencies=[Auditor], responses=responses(401, 403))
def consistency(
    rt: RuntimeDep, first: Annotated[int, Query(ge=1)], second: Annotated[int, Query(ge=1)]
) -> ConsistencyProof:
    with rt.sessions() as db:
        size = custody.tree_size(db)
        if not first <= second <= size:
            raise Invalid(f"need 1 <= first <= second <= {size}", code="bad_range")
        get = custody.node_fetcher(db)
        proof = merkle.consistency_proof(first, second, get)
        roots = merkle.root(first, get), merkle.root(second, get)
    return ConsistencyProof(
        first=first,
        second=second,
        proof=[b64(h) for h in proof],
        first_root=b64(roots[0]),
        second_root=b64(roots[1]),
    )


@router.get("/entries", responses=responses(401, 403))
def entries(
    rt: RuntimeDep,
    start: Annotated[int, Query(ge=0)],
    end: Annotated[int, Query(ge=1)],
    user: StaffUser = Auditor,
) -> EntriesOut:
    if not start < end or end - start > MAX_ENTRIES:
        raise Invalid(f"need start < end and at most {MAX_ENTRIES} entries", code="bad_range")
    with transaction(rt.sessions) as db:
        size = custody.tree_size(db)
        rows = custody.read_entries(
            db, actor=user.actor, start=start, end=min(end, size), now=rt.clock()
        )
    return EntriesOut(
        start=start,
        end=min(end, size),
        tree_size=size,
        entries=[
            EntryOut(seq=r.seq, event=r.event.decode(), leaf_hash=b64(r.leaf_hash)) for r in rows
        ],
    )
