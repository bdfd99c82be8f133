"""Custody-log routes: the signed head, its key, timestamps and consistency proofs between
signed sizes are public; inclusion proofs and entries (events name evidence) are for auditors."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, Response

from portal.auth.models import StaffUser
from portal.custody import merkle, tiles, timestamp
from portal.custody import service as custody
from portal.custody.schemas import ConsistencyProof, EntriesOut, EntryOut, InclusionProof
from portal.db import transaction
from portal.deps import Auditor, RuntimeDep
from portal.errors import Invalid, NotFound, responses
from portal.storage import ObjectMissing

# Sizes and sequence numbers are 64-bit in the database: a larger one is bad input, not a 500.
MAX_SEQ = 2**63 - 1

router = APIRouter(prefix="/api/v1/log", tags=["custody log"])
MAX_ENTRIES = 1000


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@router.get("/checkpoint", response_class=PlainTextResponse, responses=responses(404))
def checkpoint(rt: RuntimeDep) -> PlainTextResponse:
    """The newest signed checkpoint (C2SP tlog-checkpoint in a signed note), as published
    with its tiles; served even while the database's log is refused."""
    last = rt.log_mirror.last_signed()
    if last is not None:
        text = last.note
    else:
        with rt.sessions() as db:
            latest = custody.latest_checkpoint(db)
        if latest is None:
            raise NotFound("no checkpoint has been signed yet")
        text = latest.note
    return PlainTextResponse(text, headers={"Cache-Control": "public, max-age=5"})


def _tile(rt: RuntimeDep, path: str) -> Response:
    try:
        tile = tiles.parse_tile_path(path)
        data = rt.log_mirror.fetch(tile.path)
    except (tiles.TileError, ObjectMissing):
        raise NotFound(f"no tile {path}") from None
    # A path's bytes never change; a partial tile may later give way to the full one.
    cache = "max-age=31536000, immutable" if tile.width == tiles.WIDTH else "max-age=3600"
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Cache-Control": "public, " + cache},
    )


@router.get("/tile/entries/{path:path}", dependencies=[Auditor], responses=responses(401, 403, 404))
def entry_bundle(rt: RuntimeDep, path: str) -> Response:
    """An entry bundle (C2SP tlog-tiles): the events themselves, which name evidence."""
    return _tile(rt, "tile/entries/" + path)


@router.get("/tile/{path:path}", responses=responses(404))
def hash_tile(rt: RuntimeDep, path: str) -> Response:
    """A hash tile (C2SP tlog-tiles, height 8): hashes only, public."""
    if path.startswith("entries/"):
        raise NotFound(f"no tile {path}")
    return _tile(rt, "tile/" + path)


@router.get("/public-key", response_class=PlainTextResponse)
def public_key(rt: RuntimeDep) -> PlainTextResponse:
    """The checkpoint verifier key (golang.org/x/mod/sumdb/note format)."""
    return PlainTextResponse(rt.log_verifier + "\n")


@router.get("/key-transitions")
def key_transitions(rt: RuntimeDep) -> list[dict[str, Any]]:
    """Every rotation of the log key, oldest first: the checkpoint both keys signed, the
    `key.log_rotated` event naming them and its inclusion proof (portal.custody.rotation), so
    a verifier holding an older key can move to the current one. Public, like the key."""
    from portal.flows.log_key_rotation import transitions

    return [t.to_json() for t in transitions(rt)]


@router.get("/proof/inclusion", dependencies=[Auditor], responses=responses(401, 403))
def inclusion(
    rt: RuntimeDep,
    index: Annotated[int, Query(ge=0, le=MAX_SEQ)],
    tree_size: Annotated[int, Query(ge=1, le=MAX_SEQ)],
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


@router.get("/proof/consistency", responses=responses(404))
def consistency(
    rt: RuntimeDep,
    first: Annotated[int, Query(ge=1, le=MAX_SEQ)],
    second: Annotated[int, Query(ge=1, le=MAX_SEQ)],
) -> ConsistencyProof:
    """Public: that the checkpoint of size `second` extends the one of size `first`.

    Both must be signed sizes; the answer is hashes only (between signed sizes they name no
    single event), so a witness or an outside monitor can check that the log was not forked
    or rolled back."""
    if first > second:
        raise Invalid("need first <= second", code="bad_range")
    with rt.sessions() as db:
        for size in (first, second):
            if custody.checkpoint_at(db, size=size) is None:
                raise NotFound(f"no checkpoint was signed at size {size}", code="not_signed")
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


@router.get("/timestamp/{size}", responses=responses(404))
def checkpoint_timestamp(rt: RuntimeDep, size: Annotated[int, Path(ge=0, le=MAX_SEQ)]) -> Response:
    """The RFC 3161 answer (DER) over the checkpoint of `size`, once the TSA has given one."""
    with rt.sessions() as db:
        token = timestamp.token(db, size=size)
    if token is None:
        raise NotFound(f"no timestamp for a checkpoint of size {size}", code="not_stamped")
    return Response(token, media_type="application/timestamp-reply")


@router.get("/entries", responses=responses(401, 403))
def entries(
    rt: RuntimeDep,
    start: Annotated[int, Query(ge=0, le=MAX_SEQ)],
    end: Annotated[int, Query(ge=1, le=MAX_SEQ)],
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
