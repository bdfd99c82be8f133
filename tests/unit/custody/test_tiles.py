"""C2SP tlog-tiles paths, tile and bundle bytes, and reading proofs back from tiles."""

from __future__ import annotations

import hashlib

import pytest

from portal.custody import merkle, note, tiles


@pytest.mark.parametrize(
    ("level", "index", "width", "path"),
    [
        (0, 0, 256, "tile/0/000"),
        (0, 1234067, 256, "tile/0/x001/x234/067"),
        (1, 5, 7, "tile/1/005.p/7"),
        (-1, 1000, 256, "tile/entries/x001/000"),
        (-1, 3, 255, "tile/entries/003.p/255"),
    ],
)
def test_paths_as_the_spec_spells_them(level: int, index: int, width: int, path: str) -> None:
    assert tiles.tile_path(level, index, width) == path
    assert tiles.parse_tile_path(path) == tiles.Tile(level, index, width)


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/0",
        "tile/0/0000",
        "tile/0/x000/001x",
        "tile/0/000.p/256",
        "tile/0/000.p/0",
        "tile/0/000.p/05",
        "tile/64/000",
        "tile/01/000",
        "tile/data/000",
        "tile/0/000/",
        "../tile/0/000",
    ],
)
def test_non_canonical_paths_are_refused(path: str) -> None:
    with pytest.raises(tiles.TileError):
        tiles.parse_tile_path(path)


def _nodes(leaves: list[bytes]) -> dict[merkle.NodeId, bytes]:
    nodes: dict[merkle.NodeId, bytes] = {}
    for i, leaf in enumerate(leaves):
        for lv, ix, h in merkle.nodes_for_append(i, leaf, nodes):
            nodes[(lv, ix)] = h
    return nodes


def _published(entries: list[bytes], sizes: list[int]) -> dict[str, bytes]:
    """What the mirror writes as the log grows through `sizes`."""
    leaves = [merkle.leaf_hash(e) for e in entries]
    nodes = _nodes(leaves)

    def get(ids: object) -> dict[merkle.NodeId, bytes]:
        return {i: nodes[i] for i in ids if i in nodes}  # type: ignore[attr-defined]

    out: dict[str, bytes] = {}
    old = 0
    for size in sizes:
        for t in tiles.tiles_between(old, size):
            if t.level < 0:
                first = t.index * tiles.WIDTH
                out[t.path] = tiles.entry_bundle(entries[first : first + t.width])
            else:
                out[t.path] = tiles.tile_bytes(t, get)
        old = size
    return out


def test_a_reader_of_the_tiles_proves_what_the_node_store_proves() -> None:
    entries = [f"event {i}".encode() for i in range(70000)]
    sizes = [1, 255, 256, 257, 65535, 65536, 65537, 70000]
    store = _published(entries, sizes)
    full = _nodes([merkle.leaf_hash(e) for e in entries])

    def get(ids: object) -> dict[merkle.NodeId, bytes]:
        return {i: full[i] for i in ids}  # type: ignore[attr-defined]

    def fetch(path: str) -> bytes:
        return store[path]

    reader = tiles.TileReader(fetch)
    for size in sizes:
        root = merkle.root(size, get)
        assert reader.root(size) == root
        cp = note.Checkpoint("o", size, root)
        for index in {0, size // 2, size - 1}:
            assert reader.inclusion_proof(index, cp) == merkle.inclusion_proof(index, size, get)
        first = note.Checkpoint("o", 1, merkle.root(1, get))
        assert reader.consistency_proof(first, cp) == (
            merkle.consistency_proof(1, size, get) if size > 1 else []
        )
    small = note.Checkpoint("o", 300, merkle.root(300, get))
    assert [d for _, d in tiles.TileReader(fetch).entries(small)] == entries[:300]


def test_a_partial_tile_gone_is_read_from_the_full_one() -> None:
    entries = [bytes([i]) for i in range(256)]
    store = _published(entries, [5, 256])
    del store["tile/0/000.p/5"]
    leaves = [merkle.leaf_hash(e) for e in entries]
    assert tiles.TileReader(store.__getitem__).root(5) == merkle.root_from_leaf_hashes(leaves[:5])


def test_tampered_tiles_and_bundles_are_refused() -> None:
    entries = [f"e{i}".encode() for i in range(10)]
    store = _published(entries, [10])
    root = merkle.root_from_leaf_hashes(merkle.leaf_hash(e) for e in entries)
    cp = note.Checkpoint("o", 10, root)
    bad = dict(store)
    bad["tile/0/000.p/10"] = hashlib.sha256(b"x").digest() * 10
    with pytest.raises(merkle.ProofError):
        tiles.TileReader(bad.__getitem__).inclusion_proof(3, cp)
    with pytest.raises(tiles.TileError):
        list(tiles.TileReader(bad.__getitem__).entries(cp))
    bad = dict(store)
    bad["tile/0/000.p/10"] = store["tile/0/000.p/10"][:-1]
    with pytest.raises(tiles.TileError, match="bytes"):
        tiles.TileReader(bad.__getitem__).root(10)
    for bundle in (
        store["tile/entries/000.p/10"][:-1],
        b"\x00",
        store["tile/entries/000.p/10"] * 2,
    ):
        bad = dict(store)
        bad["tile/entries/000.p/10"] = bundle
        with pytest.raises(tiles.TileError):
            list(tiles.TileReader(bad.__getitem__).entries(cp))
    swapped = [*entries[:3], b"forged", *entries[4:]]
    bad = dict(store)
    bad["tile/entries/000.p/10"] = tiles.entry_bundle(swapped)
    with pytest.raises(tiles.TileError, match="entry 3"):
        list(tiles.TileReader(bad.__getitem__).entries(cp))


def test_an_entry_too_long_for_a_bundle_is_refused() -> None:
    with pytest.raises(tiles.TileError):
        tiles.entry_bundle([b"x" * 65536])
