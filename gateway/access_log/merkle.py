"""RFC 9162 (Certificate Transparency v2) Merkle tree math, standard library only.

Node addressing. A node is `(level, index)`: in a tree of `size` leaves it covers the
leaves `[index << level, min((index + 1) << level, size))`. Leaves are level 0. A node
is *complete* when `(index + 1) << level <= size`; every other node whose range is
non-empty is clipped at `size`.

This aligned tree gives exactly the RFC 9162 §2.1.1 tree hash once one rule is added:
a node whose right child starts at or beyond `size` has no right child, and takes its
left child's hash unchanged (promotion). An incomplete node covering n leaves is
therefore promoted down to the level where its left child holds the largest power of
two below n, which is where MTH splits. So every subtree hash an RFC proof needs is the
hash of one node, and the database can store node hashes by address.

Stored levels. The database keeps hashes for level 0 and for complete nodes at levels
that are multiples of STRIDE. `base_nodes` says which of those to fetch for a set of
nodes, `hash_nodes` computes the nodes from them, and `completed_stored_nodes` says
which to add as the tree grows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

Node = tuple[int, int]

STRIDE = 4
HASH_SIZE = 32

_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()
# Copying a hasher that has taken the prefix byte is cheaper than creating one.
_new_leaf_hasher = _sha256(b"\x00").copy
_new_node_hasher = _sha256(b"\x01").copy


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def node_leaves(node: Node, size: int) -> range:
    """The leaf indices a node covers in a tree of `size` leaves (empty past the end)."""
    level, index = node
    return range(min(index << level, size), min((index + 1) << level, size))


def root_node(size: int) -> Node:
    if size < 1:
        raise ValueError("a tree needs at least one leaf to have a root node")
    return ((size - 1).bit_length(), 0)


def frontier_nodes(size: int) -> list[Node]:
    """The complete nodes, left to right, that a tree of `size` leaves decomposes into
    (its compact range): what a TreeBuilder holds after `size` appends."""
    if size < 0:
        raise ValueError("size must not be negative")
    nodes = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def inclusion_path(index: int, size: int) -> list[Node]:
    """The nodes of the RFC 9162 §2.1.3.1 inclusion proof for leaf `index`, bottom-up."""
    if not 0 <= index < size:
        raise ValueError("the leaf index must be inside the tree")
    path = []
    for level in range((size - 1).bit_length()):
        sibling = (index >> level) ^ 1
        if sibling << level < size:  # an empty sibling means promotion: no proof step
            path.append((level, sibling))
    return path


def consistency_path(old_size: int, new_size: int) -> list[Node]:
    """The nodes of the RFC 9162 §2.1.4.1 consistency proof, in RFC order."""
    if not 1 <= old_size <= new_size:
        raise ValueError("sizes must satisfy 1 <= old_size <= new_size")
    ranges: list[tuple[int, int]] = []
    _subproof(old_size, 0, new_size, True, ranges)
    return [_range_node(start, end) for start, end in ranges]


def _subproof(
    m: int, start: int, end: int, whole_old_tree: bool, out: list[tuple[int, int]]
) -> None:
    """SUBPROOF(m, D[start:end], b) of RFC 9162 §2.1.4.1, collecting leaf ranges."""
    n = end - start
    if m == n:
        if not whole_old_tree:
            out.append((start, end))
        return
    k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two below n
    if m <= k:
        _subproof(m, start, start + k, whole_old_tree, out)
        out.append((start + k, end))
    else:
        _subproof(m - k, start + k, end, False, out)
        out.append((start, start + k))


def _range_node(start: int, end: int) -> Node:
    # Proof ranges start aligned to the power of two that holds them (see the tests).
    level = (end - start - 1).bit_length()
    return (level, start >> level)


def _is_stored(level: int, index: int, size: int, stride: int) -> bool:
    return level == 0 or (level % stride == 0 and (index + 1) << level <= size)


def _checked(node: Node, size: int) -> Node:
    level, index = node
    if level < 0 or index < 0 or index << level >= size:
        raise ValueError(f"node {node} is not in a tree of {size} leaves")
    return node


def base_nodes(nodes: Iterable[Node], size: int, *, stride: int = STRIDE) -> dict[int, list[int]]:
    """The stored nodes whose hashes `hash_nodes` needs for `nodes`, by level, each
    level's indices sorted and unique: one query per level fetches them."""
    found: dict[int, set[int]] = {}
    seen: set[Node] = set()
    pending = [_checked(node, size) for node in nodes]
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        level, index = node
        if _is_stored(level, index, size, stride):
            found.setdefault(level, set()).add(index)
            continue
        pending.append((level - 1, 2 * index))
        if (2 * index + 1) << (level - 1) < size:
            pending.append((level - 1, 2 * index + 1))
    return {level: sorted(found[level]) for level in sorted(found)}


def hash_nodes(
    nodes: Sequence[Node], size: int, known: Mapping[Node, bytes], *, stride: int = STRIDE
) -> list[bytes]:
    """Each node's hash in a tree of `size` leaves, computed from the stored hashes in
    `known` (at least those `base_nodes` named). A missing one raises KeyError(node)."""
    memo: dict[Node, bytes] = {}

    def compute(level: int, index: int) -> bytes:
        node = (level, index)
        cached = memo.get(node)
        if cached is not None:
            return cached
        if _is_stored(level, index, size, stride):
            digest = known[node]
        else:
            left = compute(level - 1, 2 * index)
            if (2 * index + 1) << (level - 1) < size:
                digest = node_hash(left, compute(level - 1, 2 * index + 1))
            else:
                digest = left  # promotion: no right child
        memo[node] = digest
        return digest

    return [compute(*_checked(node, size)) for node in nodes]


def completed_stored_nodes(old_size: int, new_size: int, *, stride: int = STRIDE) -> list[Node]:
    """The stored nodes above level 0 that become complete as the tree grows from
    `old_size` to `new_size`, by increasing level then index.

    Compute each from its two children, `(level - 1, 2 * index)` and
    `(level - 1, 2 * index + 1)`, with `hash_nodes`: asking for the node itself would
    ask for its own (not yet stored) hash. Lower levels come first, so store them in
    order and each level finds the one below it.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError("sizes must satisfy 0 <= old_size <= new_size")
    nodes: list[Node] = []
    level = stride
    while (1 << level) <= new_size:
        nodes.extend((level, index) for index in range(old_size >> level, new_size >> level))
        level += stride
    return nodes


class TreeBuilder:
    """The root of a growing tree in O(log n) memory: keeps the hashes of the complete
    nodes the tree decomposes into (its frontier), merging them as leaves arrive."""

    __slots__ = ("_frontier", "_size")

    def __init__(self) -> None:
        self._frontier: list[bytes] = []
        self._size = 0

    @classmethod
    def from_frontier(cls, size: int, hashes: Sequence[bytes]) -> TreeBuilder:
        """Resume a tree of `size` leaves from the hashes of `frontier_nodes(size)`."""
        if size < 0:
            raise ValueError("size must not be negative")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves needs {size.bit_count()} frontier hashes")
        if not all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes):
            raise ValueError("frontier hashes must be 32 bytes each")
        builder = cls()
        builder._frontier = list(hashes)
        builder._size = size
        return builder

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash (32 bytes; not checked, as this is a hot loop)."""
        frontier = self._frontier
        n = self._size
        digest = leaf_hash
        while n & 1:  # each trailing 1 bit of the old size is a complete node to merge
            hasher = _new_node_hasher()
            hasher.update(frontier.pop())
            hasher.update(digest)
            digest = hasher.digest()
            n >>= 1
        frontier.append(digest)
        self._size += 1

    def append_data(self, data: bytes) -> bytes:
        """Add the leaf for `data`; returns its leaf hash. One call per leaf, not two."""
        hasher = _new_leaf_hasher()
        hasher.update(data)
        leaf = digest = hasher.digest()
        frontier = self._frontier
        n = self._size
        while n & 1:
            hasher = _new_node_hasher()
            hasher.update(frontier.pop())
            hasher.update(digest)
            digest = hasher.digest()
            n >>= 1
        frontier.append(digest)
        self._size += 1
        return leaf

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        append = self.append
        for leaf in leaf_hashes:
            append(leaf)

    def root(self) -> bytes:
        if not self._frontier:
            return EMPTY_ROOT
        frontier = self._frontier
        digest = frontier[-1]
        for left in reversed(frontier[:-1]):
            digest = node_hash(left, digest)
        return digest


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shift_to_odd(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `path` prove that the leaf hash `leaf` is leaf `index`
    of the tree of `size` leaves with this root? False, never an exception, on bad input."""
    try:
        proof = list(path)
        if not (_is_hash(leaf) and _is_hash(root) and _is_count(index) and _is_count(size)):
            return False
        if index >= size or not all(_is_hash(p) for p in proof):
            return False
        fn, sn = index, size - 1
        r = leaf
        for p in proof:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                r = node_hash(p, r)
                fn, sn = _shift_to_odd(fn, sn)
            else:
                r = node_hash(r, p)
            fn >>= 1
            sn >>= 1
        return sn == 0 and r == root
    except (TypeError, ValueError):
        return False


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does `proof` show the tree of `new_size` leaves extends the one
    of `old_size`? False, never an exception, on bad input."""
    try:
        path = list(proof)
        if not (_is_hash(old_root) and _is_hash(new_root)):
            return False
        if not (_is_count(old_size) and _is_count(new_size) and old_size <= new_size):
            return False
        if not all(_is_hash(p) for p in path):
            return False
        if old_size == new_size:
            return not path and old_root == new_root
        if old_size == 0:  # every tree extends the empty one
            return not path and old_root == EMPTY_ROOT
        if not path:
            return False
        if old_size & (old_size - 1) == 0:  # the old root is a node of the new tree
            path.insert(0, old_root)
        fn, sn = old_size - 1, new_size - 1
        while fn & 1:
            fn >>= 1
            sn >>= 1
        fr = sr = path[0]
        for c in path[1:]:
            if sn == 0:
                return False
            if fn & 1 or fn == sn:
                fr = node_hash(c, fr)
                sr = node_hash(c, sr)
                fn, sn = _shift_to_odd(fn, sn)
            else:
                sr = node_hash(sr, c)
            fn >>= 1
            sn >>= 1
        return sn == 0 and fr == old_root and sr == new_root
    except (TypeError, ValueError):
        return False
