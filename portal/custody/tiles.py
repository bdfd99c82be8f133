"""The custody log as C2SP tlog-tiles: paths, tile and entry-bundle bytes, and a client.

Standard library only (with merkle and note): an outsider's monitor or a court expert reads
a published log with `TileReader` given nothing but a `fetch(path) -> bytes` callable.

Layout (c2sp.org/tlog-tiles): tile height 8, so a tile holds up to 256 hashes. The tile at
level L, index N holds the tree nodes at height 8*L, indices N*256 .. N*256+W-1; a partial
tile (the rightmost, W < 256) lives at `<path>.p/<W>`. An entry bundle `tile/entries/<N>`
holds the entries whose leaf hashes form level-0 tile N, each as a big-endian uint16 length
followed by the entry's bytes (the bytes hashed into the leaf, here the canonical event).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from portal.custody import merkle, note

HEIGHT = 8
WIDTH = 1 << HEIGHT
MAX_ENTRY = 0xFFFF
ENTRIES = "entries"

_PATH = re.compile(
    r"tile/(entries|[0-9]|[1-5][0-9]|6[0-3])/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]{1,3}))?"
)


class TileError(ValueError):
    """A malformed tile path, tile or entry bundle, or one that contradicts the checkpoint."""


@dataclass(frozen=True)
class Tile:
    level: int  # -1 for an entry bundle
    index: int
    width: int

    @property
    def path(self) -> str:
        return tile_path(self.level, self.index, self.width)


def _index_path(n: int) -> str:
    out = f"{n % 1000:03d}"
    while n >= 1000:
        n //= 1000
        out = f"x{n % 1000:03d}/{out}"
    return out


def tile_path(level: int, index: int, width: int = WIDTH) -> str:
    """`tile/<L>/<N>[.p/<W>]`; level -1 names the entry bundle `tile/entries/<N>`."""
    if not 0 < width <= WIDTH or index < 0 or not -1 <= level <= 63:
        raise TileError(f"no tile at level {level}, index {index}, width {width}")
    name = ENTRIES if level < 0 else str(level)
    partial = f".p/{width}" if width < WIDTH else ""
    return f"tile/{name}/{_index_path(index)}{partial}"


def parse_tile_path(path: str) -> Tile:
    """The tile a path names, refusing every non-canonical spelling."""
    m = _PATH.fullmatch(path)
    if m is None:
        raise TileError(f"not a tile path: {path!r}")
    level = -1 if m.group(1) == ENTRIES else int(m.group(1))
    index = int(m.group(2).replace("x", "").replace("/", ""))
    width = int(m.group(3)) if m.group(3) is not None else WIDTH
    tile = Tile(level, index, width)
    if tile_path(level, index, width) != path:  # leading zeroes, `.p/256`, `.p/0` raise
        raise TileError(f"not a canonical tile path: {path!r}")
    return tile


def tiles_between(old: int, new: int) -> Iterator[Tile]:
    """Hash tiles (and entry bundles, level -1) a tree of size `new` has that one of size
    `old` lacked or held only in part: what to publish when the log grows from old to new."""
    for level in range(-1, 64):
        shift = HEIGHT * max(level, 0)
        have, want = old >> shift, new >> shift
        if want == 0:
            break
        if want == have:
            continue
        for n in range(have // WIDTH, (want - 1) // WIDTH + 1):
            yield Tile(level, n, min(WIDTH, want - n * WIDTH))


def tile_bytes(tile: Tile, get: merkle.NodeFetcher) -> bytes:
    """A hash tile's bytes from a node store (level-0 nodes are the leaf hashes)."""
    ids = [(HEIGHT * tile.level, tile.index * WIDTH + i) for i in range(tile.width)]
    nodes = get(ids)
    try:
        return b"".join(nodes[i] for i in ids)
    except KeyError as e:
        raise merkle.MissingNodeError(f"node store has no node {e.args[0]}") from None


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    out = bytearray()
    for data in entries:
        if len(data) > MAX_ENTRY:
            raise TileError(f"an entry of {len(data)} bytes does not fit a bundle")
        out += len(data).to_bytes(2, "big") + data
    return bytes(out)


def parse_entry_bundle(data: bytes, width: int) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise TileError("entry bundle ends inside a length prefix")
        n = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + n > len(data):
            raise TileError("entry bundle ends inside an entry")
        out.append(data[at + 2 : at + 2 + n])
        at += 2 + n
    if len(out) != width:
        raise TileError(f"entry bundle holds {len(out)} entries, want {width}")
    return out


def _hashes(data: bytes, width: int) -> list[bytes]:
    if len(data) != width * merkle.HASH_SIZE:
        raise TileError(f"tile is {len(data)} bytes, want {width * merkle.HASH_SIZE}")
    return [data[i : i + merkle.HASH_SIZE] for i in range(0, len(data), merkle.HASH_SIZE)]


class TileReader:
    """Reads a published log through `fetch(path) -> bytes` (raising on a missing path).

    Nodes come from tiles and proofs are computed locally; nothing the server says is
    trusted until a proof checks against a checkpoint verified with the log's public key.
    """

    def __init__(self, fetch: Callable[[str], bytes]) -> None:
        self._fetch = fetch
        self._tiles: dict[tuple[int, int], list[bytes]] = {}

    def checkpoint(self, verifier: str, origin: str | None = None) -> note.Checkpoint:
        text = note.open_note(self._fetch("checkpoint").decode("utf-8"), verifier)
        cp = note.parse_checkpoint(text)
        if origin is not None and cp.origin != origin:
            raise TileError(f"checkpoint is for {cp.origin!r}, not {origin!r}")
        return cp

    def _tile(self, level: int, index: int, size: int) -> list[bytes]:
        width = min(WIDTH, (size >> (HEIGHT * level)) - index * WIDTH)
        held = self._tiles.get((level, index))
        if held is not None and len(held) >= width:
            return held[:width]
        try:
            data = self._fetch(tile_path(level, index, width))
            hashes = _hashes(data, width)
        except (LookupError, OSError):
            if width == WIDTH:
                raise
            # A partial tile may be gone once the full one exists (c2sp tlog-tiles).
            hashes = _hashes(self._fetch(tile_path(level, index)), WIDTH)[:width]
        self._tiles[(level, index)] = hashes
        return hashes

    def node_fetcher(self, size: int) -> merkle.NodeFetcher:
        """Nodes of the tree of `size` leaves: a node of height 8L+k is hashed from 2**k
        nodes of a level-L tile."""

        def node(level: int, index: int) -> bytes:
            base, k = divmod(level, HEIGHT)
            first = index << k
            tile = self._tile(base, first // WIDTH, size)
            lo = first % WIDTH
            return merkle.root_from_leaf_hashes(tile[lo : lo + (1 << k)])

        def get(ids: Sequence[merkle.NodeId]) -> Mapping[merkle.NodeId, bytes]:
            return {(lv, ix): node(lv, ix) for lv, ix in ids}

        return get

    def root(self, size: int) -> bytes:
        return merkle.root(size, self.node_fetcher(size))

    def inclusion_proof(self, index: int, cp: note.Checkpoint) -> list[bytes]:
        """Proof for leaf `index` in the checkpoint's tree, checked against its root."""
        get = self.node_fetcher(cp.size)
        proof = merkle.inclusion_proof(index, cp.size, get)
        leaf = get([(0, index)])[(0, index)]
        merkle.verify_inclusion(leaf, index, cp.size, proof, cp.root)
        return proof

    def consistency_proof(self, first: note.Checkpoint, second: note.Checkpoint) -> list[bytes]:
        """Proof that `second` extends `first`, computed from `second`'s tiles and checked."""
        if first.size == second.size:
            if first.root != second.root:
                raise merkle.ProofError(f"two different roots for size {first.size}")
            return []
        if first.size == 0:  # every tree extends the empty one
            if first.root != merkle.EMPTY_ROOT:
                raise merkle.ProofError("a checkpoint of the empty tree with a wrong root")
            return []
        proof = merkle.consistency_proof(first.size, second.size, self.node_fetcher(second.size))
        merkle.verify_consistency(first.size, second.size, proof, first.root, second.root)
        return proof

    def _bundle(self, index: int, width: int) -> list[bytes]:
        try:
            return parse_entry_bundle(self._fetch(tile_path(-1, index, width)), width)
        except (LookupError, OSError):
            if width == WIDTH:
                raise
            return parse_entry_bundle(self._fetch(tile_path(-1, index)), WIDTH)[:width]

    def entries(self, cp: note.Checkpoint) -> Iterator[tuple[int, bytes]]:
        """Every entry of the checkpoint's tree, each leaf hash checked against its tiles and
        the tiles against the checkpoint root."""
        if self.root(cp.size) != cp.root:
            raise TileError(f"the tiles do not hash to the root of checkpoint {cp.size}")
        for n in range((cp.size + WIDTH - 1) // WIDTH):
            width = min(WIDTH, cp.size - n * WIDTH)
            bundle = self._bundle(n, width)
            hashes = self._tile(0, n, cp.size)
            for i, data in enumerate(bundle):
                if merkle.leaf_hash(data) != hashes[i]:
                    raise TileError(f"entry {n * WIDTH + i} does not match its leaf hash")
                yield n * WIDTH + i, data
