"""RFC 9162 (section 2.1) Merkle tree hashing, proofs and their verification.

Standard library only: a court expert must be able to run this offline.

Storage model: the caller keeps the hash of every *perfect* subtree, node (level, index)
covering leaves [index * 2**level, (index + 1) * 2**level); level 0 holds the leaf hashes.
Any subtree of the RFC tree, complete or not, is a right fold of at most log2(n) + 1 such
nodes, so roots and proofs read O(log n) nodes, all fetched by a single `get` call.

Verification follows the transparency-dev/merkle Go verifier exactly (its test vectors
pass), including its strictness: exact proof lengths, 32-byte leaf hashes, and consistency
proofs from an empty tree rejected as meaningless.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]
"""(level, index) of a perfect subtree."""
NodeFetcher = Callable[[Sequence[NodeId]], Mapping[NodeId, bytes]]
"""Returns the requested nodes in one call (one SQL query for the database caller)."""


class ProofError(ValueError):
    """A proof, or the sizes and hashes given with it, did not verify."""


class MissingNodeError(LookupError):
    """The node store did not return a node that a complete tree of that size must have."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# --- appending -----------------------------------------------------------------------------


def siblings_needed_for_append(index: int) -> list[NodeId]:
    """Stored nodes that `nodes_for_append(index, ...)` needs: one per trailing 1-bit."""
    if index < 0:
        raise ValueError(f"leaf index must be >= 0, got {index}")
    needed = []
    level = 0
    while index & 1:
        needed.append((level, index - 1))
        index >>= 1
        level += 1
    return needed


def nodes_for_append(
    index: int, leaf: bytes, siblings: Mapping[NodeId, bytes]
) -> list[tuple[int, int, bytes]]:
    """Perfect nodes completed by appending leaf hash `leaf` at `index`, bottom-up.

    `siblings` must hold the nodes named by `siblings_needed_for_append(index)`.
    """
    if index < 0:
        raise ValueError(f"leaf index must be >= 0, got {index}")
    out = [(0, index, leaf)]
    digest = leaf
    level = 0
    while index & 1:
        try:
            left = siblings[(level, index - 1)]
        except KeyError:
            raise MissingNodeError(f"node {(level, index - 1)} is needed to append") from None
        digest = node_hash(left, digest)
        index >>= 1
        level += 1
        out.append((level, index, digest))
    return out


class CompactRange:
    """Streaming root over leaf hashes, O(log n) memory.

    Holds the perfect subtrees of the binary decomposition of `size` (largest first), so
    `root()` costs at most log2(n) hashes and may be called at any point while appending,
    e.g. to check several checkpoints in one pass over the log.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> None:
        """Append one leaf *hash* (see `leaf_hash`)."""
        stack = self._stack
        digest = leaf
        n = self._size
        # Each trailing 1-bit of the old size is a perfect subtree that now gets a sibling.
        while n & 1:
            digest = hashlib.sha256(b"\x01" + stack.pop() + digest).digest()
            n >>= 1
        stack.append(digest)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        digest = stack[-1]
        for left in reversed(stack[:-1]):
            digest = node_hash(left, digest)
        return digest


def root_from_leaf_hashes(leaves: Iterable[bytes]) -> bytes:
    cr = CompactRange()
    cr.extend(leaves)
    return cr.root()


# --- proofs from stored nodes --------------------------------------------------------------


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _cover(lo: int, hi: int) -> list[NodeId]:
    """Perfect subtrees covering [lo, hi), largest first.

    Valid for every subtree of the RFC tree: lo is a multiple of a power of two >= hi - lo,
    so each piece taken greedily is aligned.
    """
    pieces = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        pieces.append((level, lo >> level))
        lo += 1 << level
    return pieces


def _fetch(covers: Sequence[Sequence[NodeId]], get: NodeFetcher) -> list[bytes]:
    """Hash of each range, described by its cover, with one call to `get`."""
    wanted = list(dict.fromkeys(node for cover in covers for node in cover))
    nodes: Mapping[NodeId, bytes] = get(wanted) if wanted else {}
    out = []
    for cover in covers:
        try:
            hashes = [nodes[node] for node in cover]
        except KeyError as e:
            raise MissingNodeError(f"node store has no node {e.args[0]}") from None
        digest = hashes[-1]
        # RFC tree hash of a range is the right fold of its decomposition.
        for left in reversed(hashes[:-1]):
            digest = node_hash(left, digest)
        out.append(digest)
    return out


def root(size: int, get: NodeFetcher) -> bytes:
    """Root of the tree of the first `size` leaves."""
    if size < 0:
        raise ValueError(f"tree size must be >= 0, got {size}")
    if size == 0:
        return EMPTY_ROOT
    return _fetch([_cover(0, size)], get)[0]


def inclusion_proof(index: int, size: int, get: NodeFetcher) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(index, D[0:size]), bottom-up."""
    if not 0 <= index < size:
        raise ValueError(f"need 0 <= index < size, got index {index}, size {size}")
    ranges = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return _fetch([_cover(a, b) for a, b in ranges], get)


def consistency_proof(size1: int, size2: int, get: NodeFetcher) -> list[bytes]:
    """RFC 9162 2.1.4.1 PROOF(size1, D[0:size2]); empty when the sizes are equal."""
    if not 0 < size1 <= size2:
        raise ValueError(f"need 0 < size1 <= size2, got {size1}, {size2}")
    ranges = []
    m, lo, hi = size1, 0, size2
    complete = True  # RFC's b: the old tree's root is a node of this subtree's path.
    while True:
        n = hi - lo
        if m == n:
            if not complete:
                ranges.append((lo, hi))
            break
        k = _split(n)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            m -= k
            complete = False
    ranges.reverse()
    return _fetch([_cover(a, b) for a, b in ranges], get)


# --- verification (transparency-dev/merkle semantics) -------------------------------------


def _check_hashes(what: str, hashes: Sequence[bytes]) -> None:
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise ProofError(f"{what}[{i}] is {len(h)} bytes, want {HASH_SIZE}")


def _decomp_incl_proof(index: int, size: int) -> tuple[int, int]:
    """Lengths of the inner part (below where the paths to index and size-1 part) and of
    the border part (left siblings on the right border) of an inclusion proof."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    # Only left siblings: yields the hash of the earlier, smaller version of the subtree.
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    if index < 0 or size < 0:
        raise ProofError(f"negative index or size ({index}, {size})")
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash is {len(leaf_hash)} bytes, want {HASH_SIZE}")
    inner, border = _decomp_incl_proof(index, size)
    if len(proof) != inner + border:
        raise ProofError(
            f"inclusion proof has {len(proof)} hashes, want {inner + border} "
            f"for leaf {index} of {size}"
        )
    _check_hashes("inclusion proof", proof)
    digest = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(digest, proof[inner:])


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `proof` shows leaf `index` is in the tree (size, root)."""
    calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if calculated != root:
        raise ProofError(
            f"inclusion proof for leaf {index} gives root {calculated.hex()}, expected {root.hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise ProofError unless `proof` shows tree (size1, root1) is a prefix of (size2, root2)."""
    if size1 < 0 or size2 < 0:
        raise ProofError(f"negative tree size ({size1}, {size2})")
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1}): the log would have shrunk")
    if size1 == 0:
        raise ProofError("consistency proof from an empty tree is meaningless")
    if size1 == size2:
        if proof:
            raise ProofError(f"sizes are equal ({size1}) but the proof is not empty")
        # Byte comparison only, as transparency-dev does (its vectors use short roots here).
        if root1 != root2:
            raise ProofError(f"two different roots for the same tree size {size1}")
        return
    if not proof:
        raise ProofError(f"empty consistency proof between sizes {size1} and {size2}")
    for what, h in (("root1", root1), ("root2", root2)):
        if len(h) != HASH_SIZE:
            raise ProofError(f"{what} is {len(h)} bytes, want {HASH_SIZE}")

    inner, border = _decomp_incl_proof(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # trailing zeros of size1
    inner -= shift
    # The proof starts with the hash of the rightmost perfect subtree (of size 2**shift)
    # of the old tree, unless the old tree is that subtree: then the verifier has it.
    if size1 == 1 << shift:
        seed, start = root1, 0
    else:
        seed, start = proof[0], 1
    if len(proof) != start + inner + border:
        raise ProofError(
            f"consistency proof has {len(proof)} hashes, want {start + inner + border} "
            f"for sizes {size1} -> {size2}"
        )
    _check_hashes("consistency proof", proof)
    rest = proof[start:]
    mask = (size1 - 1) >> shift
    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    if hash1 != root1:
        raise ProofError(f"consistency proof gives old root {hash1.hex()}, expected {root1.hex()}")
    hash2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    if hash2 != root2:
        raise ProofError(f"consistency proof gives new root {hash2.hex()}, expected {root2.hex()}")
