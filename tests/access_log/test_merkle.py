"""The Merkle tree math against the naive recursive definitions of RFC 9162 §2.1 and the
reference vectors that certificate-transparency implementations share."""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.access_log.merkle import (
    EMPTY_ROOT,
    STRIDE,
    Node,
    TreeBuilder,
    base_nodes,
    completed_stored_nodes,
    consistency_path,
    frontier_nodes,
    hash_nodes,
    inclusion_path,
    leaf_hash,
    node_hash,
    node_leaves,
    root_node,
    verify_consistency,
    verify_inclusion,
)

# --- The naive definitions (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1), over D = DATA. -------
# They work on leaf ranges [a, b) so that a tree of any size is a prefix of DATA.

MAX_SIZE = 5000
DATA = [i.to_bytes(4, "big") * (i % 3) for i in range(MAX_SIZE)]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(a: int, b: int) -> bytes:
    """MTH(D[a:b])."""
    n = b - a
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + DATA[a])
    k = _split(n)
    return _sha256(b"\x01" + mth(a, a + k) + mth(a + k, b))


def ref_path(m: int, a: int, b: int) -> list[tuple[int, int]]:
    """PATH(m, D[a:b]), as the leaf ranges whose MTH it lists."""
    n = b - a
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*ref_path(m, a, a + k), (a + k, b)]
    return [*ref_path(m - k, a + k, b), (a, a + k)]


def ref_subproof(m: int, a: int, b: int, whole: bool) -> list[tuple[int, int]]:
    """SUBPROOF(m, D[a:b], b), as leaf ranges."""
    n = b - a
    if m == n:
        return [] if whole else [(a, b)]
    k = _split(n)
    if m <= k:
        return [*ref_subproof(m, a, a + k, whole), (a + k, b)]
    return [*ref_subproof(m - k, a + k, b, False), (a, a + k)]


def aligned_hash(node: Node, size: int) -> bytes:
    """The aligned tree with promotion, written out naively."""
    level, index = node
    if level == 0:
        return _sha256(b"\x00" + DATA[index])
    left = aligned_hash((level - 1, 2 * index), size)
    if (2 * index + 1) << (level - 1) >= size:
        return left
    return _sha256(b"\x01" + left + aligned_hash((level - 1, 2 * index + 1), size))


def stored_hashes(size: int, stride: int) -> dict[Node, bytes]:
    """Every hash the database would hold for a tree of `size` leaves."""
    known = {(0, i): mth(i, i + 1) for i in range(size)}
    level = stride
    while 1 << level <= size:
        for index in range(size >> level):
            known[(level, index)] = mth(index << level, (index + 1) << level)
        level += stride
    return known


def proof_hashes(nodes: list[Node], size: int, stride: int = 2) -> list[bytes]:
    return hash_nodes(nodes, size, stored_hashes(size, stride), stride=stride)


def as_range(node: Node, size: int) -> tuple[int, int]:
    leaves = node_leaves(node, size)
    return leaves.start, leaves.stop


SMALL_SIZES = range(1, 71)


# --- The aligned tree is the RFC tree. -------------------------------------------------


@pytest.mark.parametrize("size", SMALL_SIZES)
def test_every_aligned_node_hashes_to_the_mth_of_its_clipped_range(size: int) -> None:
    for level in range(root_node(size)[0] + 1):
        for index in range((size - 1 >> level) + 1):
            assert aligned_hash((level, index), size) == mth(*as_range((level, index), size))
    assert aligned_hash(root_node(size), size) == mth(0, size)
    assert node_leaves(root_node(size), size) == range(size)


@pytest.mark.parametrize("size", SMALL_SIZES)
def test_inclusion_paths_are_the_rfc_paths(size: int) -> None:
    root = mth(0, size)
    for index in range(size):
        nodes = inclusion_path(index, size)
        assert [as_range(node, size) for node in nodes] == ref_path(index, 0, size)
        path = proof_hashes(nodes, size)
        assert path == [mth(a, b) for a, b in ref_path(index, 0, size)]
        assert verify_inclusion(mth(index, index + 1), index, size, path, root)


@pytest.mark.parametrize("new_size", SMALL_SIZES)
def test_consistency_paths_are_the_rfc_proofs(new_size: int) -> None:
    for old_size in range(1, new_size + 1):
        nodes = consistency_path(old_size, new_size)
        expected = ref_subproof(old_size, 0, new_size, True)
        # Every range SUBPROOF emits is one aligned node, clipped at new_size.
        assert [as_range(node, new_size) for node in nodes] == expected
        path = proof_hashes(nodes, new_size)
        assert path == [mth(a, b) for a, b in expected]
        assert verify_consistency(old_size, new_size, mth(0, old_size), mth(0, new_size), path)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_proofs_verify_in_larger_trees(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, MAX_SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old_size = data.draw(st.integers(1, size), label="old_size")
    stride = data.draw(st.sampled_from([1, 2, 3, 8]), label="stride")
    nodes = inclusion_path(index, size)
    assert [as_range(node, size) for node in nodes] == ref_path(index, 0, size)
    path = proof_hashes(nodes, size, stride)
    assert verify_inclusion(mth(index, index + 1), index, size, path, mth(0, size))
    nodes = consistency_path(old_size, size)
    assert [as_range(node, size) for node in nodes] == ref_subproof(old_size, 0, size, True)
    proof = proof_hashes(nodes, size, stride)
    assert verify_consistency(old_size, size, mth(0, old_size), mth(0, size), proof)


# --- Published vectors. -----------------------------------------------------------------
# Leaf inputs, node and root hashes: transparency-dev/merkle, testonly/constants.go;
# proofs: transparency-dev/merkle, proof/verify_test.go (the same tree as
# google/certificate-transparency, cpp/merkletree/merkle_tree_test.cc).

VECTOR_LEAVES = [
    bytes.fromhex(h)
    for h in (
        *("", "00", "10", "2021", "3031", "40414243", "5051525354555657"),
        "606162636465666768696a6b6c6d6e6f",
    )
]
VECTOR_NODES = {
    (0, 0): "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    (0, 1): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    (0, 2): "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    (0, 3): "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    (0, 4): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    (0, 5): "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    (0, 6): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    (0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
VECTOR_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, proof); verify_test.go numbers leaves from 1.
VECTOR_INCLUSION = [
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (2, 3, ["fac54203"]),
    (1, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]
VECTOR_CONSISTENCY = [
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
    (6, 7, ["0ebc5d34", "b08693ec", "d37ee418"]),
]
VECTOR_KNOWN = {node: bytes.fromhex(h) for node, h in VECTOR_NODES.items() if node[0] == 0}


def full_hash(prefix: str) -> bytes:
    """The vector hash a proof lists (abbreviated above; each prefix is unique)."""
    (found,) = {h for h in [*VECTOR_NODES.values(), *VECTOR_ROOTS] if h.startswith(prefix)}
    return bytes.fromhex(found)


def root(size: int) -> bytes:
    return bytes.fromhex(VECTOR_ROOTS[size])


def test_vector_leaves_nodes_and_roots() -> None:
    assert root(0) == EMPTY_ROOT
    builder = TreeBuilder()
    assert builder.root() == root(0)
    for size, data in enumerate(VECTOR_LEAVES, start=1):
        assert leaf_hash(data) == bytes.fromhex(VECTOR_NODES[(0, size - 1)])
        builder.append(leaf_hash(data))
        assert builder.root() == root(size)
        assert hash_nodes([root_node(size)], size, VECTOR_KNOWN) == [root(size)]
    nodes = list(VECTOR_NODES)
    assert hash_nodes(nodes, 8, VECTOR_KNOWN) == [bytes.fromhex(VECTOR_NODES[n]) for n in nodes]
    assert node_hash(root(4), bytes.fromhex(VECTOR_NODES[(2, 1)])) == root(8)


@pytest.mark.parametrize(("index", "size", "proof"), VECTOR_INCLUSION)
def test_vector_inclusion_proofs(index: int, size: int, proof: list[str]) -> None:
    path = [full_hash(p) for p in proof]
    assert hash_nodes(inclusion_path(index, size), size, VECTOR_KNOWN) == path
    leaf = leaf_hash(VECTOR_LEAVES[index])
    assert verify_inclusion(leaf, index, size, path, root(size))
    for wrong in inclusion_mutations(leaf, index, size, path, root(size)):
        assert not verify_inclusion(*wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize(("old_size", "new_size", "proof"), VECTOR_CONSISTENCY)
def test_vector_consistency_proofs(old_size: int, new_size: int, proof: list[str]) -> None:
    path = [full_hash(p) for p in proof]
    assert hash_nodes(consistency_path(old_size, new_size), new_size, VECTOR_KNOWN) == path
    assert verify_consistency(old_size, new_size, root(old_size), root(new_size), path)
    for wrong in consistency_mutations(old_size, new_size, root(old_size), root(new_size), path):
        assert not verify_consistency(*wrong)  # type: ignore[arg-type]


# --- Mutations are refused, malformed input is refused without an exception. -------------

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
Args = tuple[object, ...]


def flipped(path: list[bytes]) -> list[list[bytes]]:
    """The path with one bit flipped, for every bit of every byte of every element."""
    out = []
    for i, element in enumerate(path):
        for j in range(len(element)):
            for bit in range(8):
                changed = bytearray(element)
                changed[j] ^= 1 << bit
                out.append([*path[:i], bytes(changed), *path[i + 1 :]])
    return out


def inclusion_mutations(
    leaf: bytes, index: int, size: int, path: list[bytes], root: bytes
) -> list[Args]:
    wrong: list[Args] = [
        (leaf, index - 1, size, path, root),
        (leaf, index + 1, size, path, root),
        (leaf, index ^ 2, size, path, root),
        (leaf, index, size * 2, path, root),
        (leaf, index, size // 2, path, root),
        (SOME_HASH, index, size, path, root),
        (leaf, index, size, path, SOME_HASH),
        (leaf, index, size, path, EMPTY_ROOT),
        (leaf, index, size, [*path, SOME_HASH], root),
        (leaf, index, size, [*path, root], root),
        (leaf, index, size, [root, *path], root),
        (leaf, index, size, [*path, b""], root),
    ]
    if path:
        wrong.append((leaf, index, size, path[:-1], root))
        wrong.append((leaf, index, size, path[1:], root))
        wrong.append((root, index, size, path, leaf))
    wrong.extend((leaf, index, size, changed, root) for changed in flipped(path))
    return wrong


def consistency_mutations(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: list[bytes]
) -> list[Args]:
    wrong: list[Args] = [
        (old_size - 1, new_size, old_root, new_root, path),
        (old_size + 1, new_size, old_root, new_root, path),
        (old_size ^ 2, new_size, old_root, new_root, path),
        (old_size, new_size * 2, old_root, new_root, path),
        (old_size, new_size // 2, old_root, new_root, path),
        (old_size, new_size, new_root, old_root, path),
        (old_size, new_size, SOME_HASH, new_root, path),
        (old_size, new_size, old_root, SOME_HASH, path),
        (old_size, new_size, old_root, new_root, []),
        (old_size, new_size, old_root, new_root, [*path, SOME_HASH]),
        (old_size, new_size, old_root, new_root, [*path, old_root]),
        (old_size, new_size, old_root, new_root, [*path, new_root]),
        (old_size, new_size, old_root, new_root, [old_root, *path]),
        (old_size, new_size, old_root, new_root, [new_root, *path]),
        (old_size, new_size, old_root, new_root, [path[0], *path]),
        (old_size, new_size, old_root, new_root, path[:-1]),
        (old_size, new_size, old_root, new_root, path[1:]),
    ]
    wrong.extend((old_size, new_size, old_root, new_root, p) for p in flipped(path))
    return wrong


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_proofs_are_refused(data: st.DataObject) -> None:
    size = data.draw(st.integers(2, 300), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old_size = data.draw(st.integers(1, size - 1), label="old_size")
    path = proof_hashes(inclusion_path(index, size), size)
    leaf = mth(index, index + 1)
    for wrong in inclusion_mutations(leaf, index, size, path, mth(0, size)):
        assert not verify_inclusion(*wrong)  # type: ignore[arg-type]
    proof = proof_hashes(consistency_path(old_size, size), size)
    for bad in consistency_mutations(old_size, size, mth(0, old_size), mth(0, size), proof):
        assert not verify_consistency(*bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "args",
    [
        (b"", 0, 1, [], b""),
        (SOME_HASH, 0, 0, [], EMPTY_ROOT),
        (SOME_HASH, 1, 0, [], SOME_HASH),
        (SOME_HASH, 2, 1, [], SOME_HASH),
        (SOME_HASH, -1, 1, [], SOME_HASH),
        (SOME_HASH, True, 2, [SOME_HASH], SOME_HASH),
        (SOME_HASH, 0, 2, [None], SOME_HASH),
        (SOME_HASH, 0, 2, None, SOME_HASH),
        (SOME_HASH, 0, 2, [SOME_HASH[:31]], SOME_HASH),
        ("not bytes", 0, 1, [], "not bytes"),
        (SOME_HASH, "0", 1, [], SOME_HASH),
        (SOME_HASH, 0, 1.0, [], SOME_HASH),
    ],
)
def test_malformed_inclusion_input_is_false(args: Args) -> None:
    assert verify_inclusion(*args) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "args",
    [
        (2, 1, SOME_HASH, SOME_HASH, []),
        (-1, 1, SOME_HASH, SOME_HASH, []),
        (1, 1, SOME_HASH, EMPTY_ROOT, []),
        (1, 1, SOME_HASH, SOME_HASH, [SOME_HASH]),
        (0, 1, SOME_HASH, SOME_HASH, []),
        (0, 0, SOME_HASH, SOME_HASH, [SOME_HASH]),
        (1, 2, SOME_HASH, SOME_HASH, []),
        (1, 2, SOME_HASH[:31], SOME_HASH, [SOME_HASH]),
        (1, 2, SOME_HASH, SOME_HASH, [b"short"]),
        (1, 2, SOME_HASH, SOME_HASH, None),
        (1, 2, None, SOME_HASH, [SOME_HASH]),
        (False, 2, SOME_HASH, SOME_HASH, [SOME_HASH]),
    ],
)
def test_malformed_consistency_input_is_false(args: Args) -> None:
    assert verify_consistency(*args) is False  # type: ignore[arg-type]


def test_trivial_consistency() -> None:
    assert verify_consistency(3, 3, mth(0, 3), mth(0, 3), [])
    assert verify_consistency(0, 5, EMPTY_ROOT, mth(0, 5), [])
    assert consistency_path(4, 4) == []


# --- Stored levels. ----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_base_nodes_and_hash_nodes_agree_with_the_naive_tree(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, MAX_SIZE), label="size")
    stride = data.draw(st.sampled_from([1, 2, 3, 8]), label="stride")
    top = root_node(size)[0]
    node = st.integers(0, top).flatmap(
        lambda level: st.tuples(st.just(level), st.integers(0, (size - 1) >> level))
    )
    nodes = data.draw(st.lists(node, max_size=12), label="nodes")
    wanted = base_nodes(nodes, size, stride=stride)
    for level, indices in wanted.items():
        assert indices == sorted(set(indices))
        for index in indices:
            assert level == 0 or (level % stride == 0 and (index + 1) << level <= size)
    known = {
        (level, i): mth(i << level, (i + 1) << level) for level in wanted for i in wanted[level]
    }
    hashes = hash_nodes(nodes, size, known, stride=stride)
    assert hashes == [mth(*as_range(n, size)) for n in nodes]


def test_base_nodes_fetch_stored_levels_only() -> None:
    size = 70_000
    wanted = base_nodes([root_node(size)], size)
    # 70,000 = 65,536 + 4,096 + 256 + 7 * 16: one node at each of levels 16, 12 and 8,
    # then seven level-4 nodes; no leaf at all.
    assert wanted == {4: list(range(4368, 4375)), 8: [272], 12: [16], 16: [0]}
    assert STRIDE == 4


def test_a_missing_stored_hash_is_a_key_error_and_bad_nodes_a_value_error() -> None:
    with pytest.raises(KeyError):
        hash_nodes([(1, 0)], 2, {(0, 0): SOME_HASH})
    with pytest.raises(ValueError, match="not in a tree"):
        base_nodes([(0, 5)], 5)
    with pytest.raises(ValueError, match="not in a tree"):
        hash_nodes([(3, 1)], 8, {})


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_completed_stored_nodes(stride: int) -> None:
    def stored(size: int) -> set[Node]:
        return {node for node in stored_hashes(size, stride) if node[0] > 0}

    for new_size in range(130):
        for old_size in range(new_size + 1):
            expected = sorted(stored(new_size) - stored(old_size))
            assert completed_stored_nodes(old_size, new_size, stride=stride) == expected


def test_completed_stored_nodes_at_the_real_stride() -> None:
    assert completed_stored_nodes(15, 16) == [(4, 0)]
    assert completed_stored_nodes(0, 15) == []
    grown = completed_stored_nodes(1, 65_536)
    assert grown == [
        *((4, i) for i in range(4096)),
        *((8, i) for i in range(256)),
        *((12, i) for i in range(16)),
        (16, 0),
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=12), st.sampled_from([1, 2, 3]))
def test_a_sequencer_can_store_completed_nodes_from_their_children(
    batches: list[int], stride: int
) -> None:
    """The intended use: compute each newly complete stored node from its children, by
    level, from what is stored already; then any root comes from the store."""
    store: dict[Node, bytes] = {}
    size = 0
    for batch in batches:
        new_size = min(size + batch, MAX_SIZE)
        store.update({(0, i): mth(i, i + 1) for i in range(size, new_size)})
        for level, index in completed_stored_nodes(size, new_size, stride=stride):
            children = [(level - 1, 2 * index), (level - 1, 2 * index + 1)]
            left, right = hash_nodes(children, new_size, store, stride=stride)
            store[(level, index)] = node_hash(left, right)
        size = new_size
        assert hash_nodes([root_node(size)], size, store, stride=stride) == [mth(0, size)]


# --- TreeBuilder. -----------------------------------------------------------------------


def test_tree_builder_roots_at_every_size() -> None:
    appended, extended, from_data = TreeBuilder(), TreeBuilder(), TreeBuilder()
    for size in range(1, 600):
        appended.append(mth(size - 1, size))
        assert from_data.append_data(DATA[size - 1]) == mth(size - 1, size)
        extended.extend([mth(size - 1, size)])
        assert appended.size == extended.size == from_data.size == size
        assert appended.root() == extended.root() == from_data.root() == mth(0, size)


@pytest.mark.parametrize("start", [0, 1, 5, 8, 63, 64, 100])
def test_tree_builder_resumes_from_a_frontier(start: int) -> None:
    frontier = [mth(*as_range(node, start)) for node in frontier_nodes(start)]
    assert len(frontier) == start.bit_count()
    builder = TreeBuilder.from_frontier(start, frontier)
    assert builder.root() == mth(0, start)
    builder.extend(mth(i, i + 1) for i in range(start, 200))
    assert builder.root() == mth(0, 200)


def test_tree_builder_refuses_a_frontier_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match="frontier"):
        TreeBuilder.from_frontier(3, [SOME_HASH])
    with pytest.raises(ValueError, match="32 bytes"):
        TreeBuilder.from_frontier(1, [b"short"])
    with pytest.raises(ValueError, match="negative"):
        TreeBuilder.from_frontier(-1, [])


def test_frontier_nodes() -> None:
    assert frontier_nodes(0) == []
    assert frontier_nodes(6) == [(2, 0), (1, 2)]
    assert frontier_nodes(13) == [(3, 0), (2, 2), (0, 12)]


def test_path_functions_refuse_impossible_trees() -> None:
    with pytest.raises(ValueError, match="inside the tree"):
        inclusion_path(3, 3)
    with pytest.raises(ValueError, match="old_size"):
        consistency_path(0, 3)
    with pytest.raises(ValueError, match="old_size"):
        consistency_path(4, 3)
    with pytest.raises(ValueError, match="at least one leaf"):
        root_node(0)
    with pytest.raises(ValueError, match="old_size"):
        completed_stored_nodes(5, 4)
