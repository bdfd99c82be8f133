from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.custody import merkle
from portal.custody.merkle import (
    EMPTY_ROOT,
    CompactRange,
    NodeId,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    nodes_for_append,
    root,
    root_from_leaf_hashes,
    siblings_needed_for_append,
    verify_consistency,
    verify_inclusion,
)
from tests.support import REPO

# The shared folder is a sibling of the repository root; vectors are not copied in.
VECTORS = REPO / ".." / "shared" / "vectors" / "merkle"
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
REFERENCE_ROOT = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def _vectors(kind: str) -> list[Path]:
    # The shared vectors are part of the suite: their absence is a failure, never a skip.
    assert VECTORS.is_dir(), f"Merkle test vectors missing at {VECTORS}"
    found = sorted((VECTORS / kind).glob("*/*.json"))
    assert found, f"no {kind} vectors under {VECTORS}"
    return found


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _b(s: str) -> bytes:
    return base64.b64decode(s)


def _proof(v: dict[str, Any]) -> list[bytes]:
    return [_b(p) for p in v["proof"] or []]


class Store:
    """In-memory node table filled only through the append helpers, counting reads."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self.nodes: dict[NodeId, bytes] = {}
        self.size = 0
        self.calls: list[list[NodeId]] = []
        for data in leaves:
            self.append(leaf_hash(data))

    def append(self, leaf: bytes) -> None:
        wanted = siblings_needed_for_append(self.size)
        siblings = {k: self.nodes[k] for k in wanted}
        for level, index, digest in nodes_for_append(self.size, leaf, siblings):
            self.nodes[(level, index)] = digest
        self.size += 1

    def get(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        self.calls.append(list(ids))
        return {i: self.nodes[i] for i in ids if i in self.nodes}


def naive_root(hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH, recursively, as an independent reference."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return merkle.node_hash(naive_root(hashes[:k]), naive_root(hashes[k:]))


MAX = 300
BIG = Store([b"leaf-%d" % i for i in range(MAX)])
BIG_HASHES = [leaf_hash(b"leaf-%d" % i) for i in range(MAX)]


def bound(n: int) -> int:
    return 2 * math.ceil(math.log2(max(n, 2))) + 2


# --- vectors -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _vectors("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vector(path: Path) -> None:
    v = _load(path)
    args = (_b(v["leafHash"]), v["leafIdx"], v["treeSize"], _proof(v), _b(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _vectors("consistency"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vector(path: Path) -> None:
    v = _load(path)
    args = (v["size1"], v["size2"], _proof(v), _b(v["root1"]), _b(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_vector_counts() -> None:
    # Guards against a silently empty glob.
    assert len(_vectors("inclusion")) > 50
    assert len(_vectors("consistency")) > 50


def test_reference_tree_root() -> None:
    store = Store(REFERENCE_LEAVES)
    assert root(8, store.get).hex() == REFERENCE_ROOT
    assert root(0, store.get) == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_generated_proofs_equal_happy_vectors() -> None:
    store = Store(REFERENCE_LEAVES)
    seen = 0
    for path in _vectors("inclusion"):
        v = _load(path)
        if path.stem != "happy-path":
            continue
        idx, size = v["leafIdx"], v["treeSize"]
        assert _b(v["leafHash"]) == leaf_hash(REFERENCE_LEAVES[idx])
        assert root(size, store.get) == _b(v["root"])
        assert inclusion_proof(idx, size, store.get) == _proof(v), path
        seen += 1
    for path in _vectors("consistency"):
        v = _load(path)
        if path.stem != "happy-path":
            continue
        s1, s2 = v["size1"], v["size2"]
        assert root(s1, store.get) == _b(v["root1"])
        assert root(s2, store.get) == _b(v["root2"])
        assert consistency_proof(s1, s2, store.get) == _proof(v), path
        seen += 1
    assert seen == 10


# --- generated proofs ----------------------------------------------------------------------


def test_roots_match_naive_and_compact_range() -> None:
    cr = CompactRange()
    assert cr.root() == EMPTY_ROOT
    for n in range(1, MAX + 1):
        cr.append(BIG_HASHES[n - 1])
        expected = naive_root(BIG_HASHES[:n])
        assert cr.size == n
        assert cr.root() == expected == root(n, BIG.get)
    assert root_from_leaf_hashes(BIG_HASHES) == naive_root(BIG_HASHES)


@given(st.lists(st.binary(max_size=8), max_size=80))
def test_compact_range_random(leaves: list[bytes]) -> None:
    hashes = [leaf_hash(x) for x in leaves]
    store = Store(leaves)
    assert root_from_leaf_hashes(hashes) == root(len(hashes), store.get) == naive_root(hashes)


def test_append_helpers() -> None:
    assert siblings_needed_for_append(0) == []
    assert siblings_needed_for_append(7) == [(0, 6), (1, 2), (2, 0)]
    nodes = nodes_for_append(3, b"L" * 32, {(0, 2): b"a" * 32, (1, 0): b"b" * 32})
    assert [(lv, ix) for lv, ix, _ in nodes] == [(0, 3), (1, 1), (2, 0)]
    with pytest.raises(merkle.MissingNodeError):
        nodes_for_append(1, b"L" * 32, {})


def _flip(proof: list[bytes], i: int, bit: int) -> list[bytes]:
    out = list(proof)
    h = bytearray(out[i])
    h[bit // 8] ^= 1 << (bit % 8)
    out[i] = bytes(h)
    return out


@settings(max_examples=300)
@given(st.data())
def test_inclusion_property(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, MAX), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    BIG.calls.clear()
    proof = inclusion_proof(index, size, BIG.get)
    assert len(BIG.calls) == (1 if proof else 0)
    assert sum(map(len, BIG.calls)) <= bound(size)
    tree_root = root(size, BIG.get)
    lh = BIG_HASHES[index]
    verify_inclusion(lh, index, size, proof, tree_root)

    for i in range(len(proof)):
        bit = data.draw(st.integers(0, 255), label=f"bit{i}")
        with pytest.raises(ProofError):
            verify_inclusion(lh, index, size, _flip(proof, i, bit), tree_root)
    other = data.draw(st.integers(0, size).filter(lambda j: j != index), label="other index")
    with pytest.raises(ProofError):
        verify_inclusion(lh, other, size, proof, tree_root)
    with pytest.raises(ProofError):
        verify_inclusion(BIG_HASHES[(index + 1) % MAX], index, size, proof, tree_root)
    # The verifier cannot see the size itself (a signed checkpoint binds it to the root):
    # against another size's true root, the proof passes only if it is that size's proof.
    size2 = data.draw(st.integers(index + 1, MAX).filter(lambda s: s != size), label="size2")
    try:
        verify_inclusion(lh, index, size2, proof, root(size2, BIG.get))
    except ProofError:
        pass
    else:
        assert proof == inclusion_proof(index, size2, BIG.get)


@settings(max_examples=300)
@given(st.data())
def test_consistency_property(data: st.DataObject) -> None:
    size2 = data.draw(st.integers(1, MAX), label="size2")
    size1 = data.draw(st.integers(1, size2), label="size1")
    BIG.calls.clear()
    proof = consistency_proof(size1, size2, BIG.get)
    assert len(BIG.calls) == (1 if proof else 0)
    assert sum(map(len, BIG.calls)) <= bound(size2)
    r1, r2 = root(size1, BIG.get), root(size2, BIG.get)
    verify_consistency(size1, size2, proof, r1, r2)

    for i in range(len(proof)):
        bit = data.draw(st.integers(0, 255), label=f"bit{i}")
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, _flip(proof, i, bit), r1, r2)
    if size1 < size2:
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, r2, r1)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof[:-1], r1, r2)
    # Other sizes with their true roots: passes only if it is exactly their proof.
    s1 = data.draw(st.integers(0, size2 + 1).filter(lambda s: s != size1), label="other size1")
    s2 = data.draw(st.integers(1, MAX).filter(lambda s: s != size2), label="other size2")
    for a, b in ((s1, size2), (size1, s2)):
        try:
            verify_consistency(a, b, proof, root(min(a, MAX), BIG.get), root(b, BIG.get))
        except ProofError:
            continue
        assert 0 < a <= b and proof == consistency_proof(a, b, BIG.get)


@given(st.integers(1, 1 << 48), st.data())
def test_reads_are_logarithmic_and_complete(size: int, data: st.DataObject) -> None:
    """Huge trees: only O(log n) nodes are requested, each a perfect subtree within size."""
    calls: list[Sequence[NodeId]] = []

    def fake_get(ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        calls.append(ids)
        return {i: hashlib.sha256(repr(i).encode()).digest() for i in ids}

    index = data.draw(st.integers(0, size - 1))
    size1 = data.draw(st.integers(1, size))
    for run in (
        lambda: root(size, fake_get),
        lambda: inclusion_proof(index, size, fake_get),
        lambda: consistency_proof(size1, size, fake_get),
    ):
        calls.clear()
        run()
        assert len(calls) <= 1
        ids = [i for c in calls for i in c]
        assert len(ids) == len(set(ids)) <= bound(size)
        assert all((ix + 1) << lv <= size for lv, ix in ids)


def test_argument_errors() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(3, 3, BIG.get)
    with pytest.raises(ValueError):
        consistency_proof(0, 3, BIG.get)
    with pytest.raises(ValueError):
        consistency_proof(4, 3, BIG.get)
    assert consistency_proof(5, 5, BIG.get) == []
    with pytest.raises(merkle.MissingNodeError):
        root(MAX + 1, BIG.get)
    with pytest.raises(ProofError, match="32"):
        verify_inclusion(b"short", 0, 1, [], b"short")
