"""The compiled router: reused search matrices, bridges, turn costs."""

from __future__ import annotations

from itertools import pairwise

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from tests.test_loop import _grid_network

from ringroute._router import ShortestPaths
from ringroute.network import Network


def test_searches_see_the_weights_of_each_call(science_city: Network) -> None:
    r = science_city.router
    rng = np.random.default_rng(7)
    for _ in range(3):
        w = r.cost * rng.uniform(0.5, 3.0, r.n_edges)
        a = int(rng.integers(r.n_nodes))
        fwd = dijkstra(r.matrix(w), directed=True, indices=a)
        bwd = dijkstra(r.matrix(w).T.tocsr(), directed=True, indices=a)
        np.testing.assert_allclose(r.shortest_paths(a, w).dist, fwd)
        np.testing.assert_allclose(r.shortest_paths_to(a, w).dist, bwd)
        many, many_pred, many_edge = r.shortest_paths_many([a, (a + 1) % r.n_nodes], w)
        np.testing.assert_allclose(many[0], fwd)
        # paths read from the edges the searches recorded: joined end to end, from
        # the source to the node, as long as its distance, the same in every search
        out, back = r.shortest_paths(a, w), r.shortest_paths_to(a, w)
        row = ShortestPaths(a, many[0], many_pred[0], many_edge[0])
        for v in rng.choice(r.n_nodes, size=40, replace=False).tolist():
            if np.isfinite(fwd[v]) and v != a:
                path = r.path_edges(out, v)
                assert int(r.src[path[0]]) == a and int(r.dst[path[-1]]) == v
                assert np.array_equal(r.dst[path[:-1]], r.src[path[1:]])
                assert float(w[path].sum()) == pytest.approx(fwd[v], rel=1e-12)
                assert r.path_edges(row, v) == path
            if np.isfinite(bwd[v]) and v != a:
                path = r.path_edges_to(back, v)
                assert int(r.src[path[0]]) == v and int(r.dst[path[-1]]) == a
                assert np.array_equal(r.dst[path[:-1]], r.src[path[1:]])
                assert float(w[path].sum()) == pytest.approx(bwd[v], rel=1e-12)
        # a turn-aware path costs at least the plain shortest path
        b = int(rng.integers(r.n_nodes))
        path = r.route_with_turns(a, b, w)
        if a != b and path:
            assert int(r.src[path[0]]) == a and int(r.dst[path[-1]]) == b
            assert float(w[path].sum()) >= fwd[b] - 1e-6


def test_bridges_match_networkx(university: Network) -> None:
    r = university.router
    ug = nx.Graph()
    ug.add_edges_from(zip(r.src.tolist(), r.dst.tolist(), strict=True))
    bridges = {frozenset(e) for e in nx.bridges(ug)}
    expected = np.array([frozenset((int(a), int(b))) in bridges
                         for a, b in zip(r.src, r.dst, strict=True)])
    np.testing.assert_array_equal(r.bridge_edge, expected)
    assert expected.any()  # the campus strip has dead ends
    # the core holds no bridge
    assert not (r.bridge_edge & r.core[r.src] & r.core[r.dst]).any()
    # per physical way: a way is a bridge exactly where its edges are
    np.testing.assert_array_equal(r.bridge_way[r.ways.of_edge], r.bridge_edge)


def test_paths_read_off_searches_from_and_towards_a_node(science_city: Network) -> None:
    """A path read off a search from ``a`` and one read off a search towards ``b`` are
    walks of existing edges whose weight is the searched distance."""
    r = science_city.router
    rng = np.random.default_rng(11)
    for _ in range(5):
        a, b = (int(x) for x in rng.integers(r.n_nodes, size=2))
        fwd = r.shortest_paths(a, r.cost)
        bwd = r.shortest_paths_to(b, r.cost)
        if a == b or not np.isfinite(fwd.dist[b]):
            continue
        there = r.path_edges(fwd, b)
        back = r.path_edges_to(bwd, a)
        for path in (there, back):
            assert int(r.src[path[0]]) == a and int(r.dst[path[-1]]) == b
            assert all(int(r.dst[x]) == int(r.src[y]) for x, y in pairwise(path))
            assert float(r.cost[path].sum()) == pytest.approx(fwd.dist[b])
        np.testing.assert_array_equal(r.edges_between(r.src[there], r.dst[there]), there)


def test_edges_between_finds_every_edge_and_refuses_a_missing_one(
        science_city: Network) -> None:
    r = science_city.router
    every = np.arange(r.n_edges)
    np.testing.assert_array_equal(r.edges_between(r.src, r.dst), every)
    shuffled = np.random.default_rng(3).permutation(every)
    np.testing.assert_array_equal(r.edges_between(r.src[shuffled], r.dst[shuffled]), shuffled)
    assert len(r.edges_between([], [])) == 0
    # a pair after every edge's in the order of their codes (no way joins a node to itself)
    last = r.n_nodes - 1
    with pytest.raises(ValueError, match=f"no edge from node {last} to node {last}"):
        r.edges_between([last], [last])
    # many pairs, one not joined by an edge (a node and itself: no way is a loop alone)
    src, dst = r.src.astype(np.int64), r.dst.astype(np.int64)
    src[1234], dst[1234] = 7, 7
    with pytest.raises(ValueError, match=r"no edge from node 7 to node 7"):
        r.edges_between(src, dst)


# ------------------------------------------------------------ least repeats
def _parts_network(parts: list[list[float]], bridges: list[tuple[int, int, float]]) -> Network:
    """Parts joined by bridges: part ``i`` is a ring of ways of the given lengths (one
    length or none: a single node); bridge ``(i, j, m)`` joins the first nodes of
    parts ``i`` and ``j``. Node ``100 * i`` is part ``i``'s first node."""
    g = nx.MultiDiGraph(crs="epsg:4326")

    def way(u: int, v: int, length_m: float, k: int) -> None:
        attrs = {"length_m": length_m, "length": length_m, "highway": "residential",
                 "bike_factor": 1.0, "way_class": "quiet", "cycle_route": False, "osmid": k}
        g.add_edge(u, v, **attrs)
        g.add_edge(v, u, **attrs)

    k = 0
    for i, ring in enumerate(parts):
        n = max(1, len(ring))
        for j in range(n):
            angle = 2 * np.pi * j / n
            g.add_node(100 * i + j, x=140.0 + 0.02 * i + 0.001 * np.cos(angle),
                       y=36.0 + 0.001 * np.sin(angle))
        for j, length_m in enumerate(ring if len(ring) > 1 else []):
            k += 1
            way(100 * i + j, 100 * i + (j + 1) % n, length_m, k)
    for i, j, length_m in bridges:
        k += 1
        way(100 * i, 100 * j, length_m, k)
    return Network(g, "generated")


def test_least_repeat_counts_the_bridges_to_farther_parts() -> None:
    """Start on a 400 m block A; a 300 m bridge leads to a 2.4 km block B, a 50 m dead
    end to node 200. A walk longer than A rides A twice or the bridge there and back."""
    net = _parts_network([[100.0] * 4, [600.0] * 4, []], [(0, 1, 300.0), (0, 2, 50.0)])
    r = net.router
    a, spur = r.index[0], r.index[200]
    assert r.forced_repeat_m([a]) == 0.0
    assert r.least_repeat_m([a], 390.0) == 0.0
    assert r.least_repeat_m([a], 1000.0) == pytest.approx(600.0)  # A twice, or the bridge
    assert r.least_repeat_m([a], 2000.0) == pytest.approx(600.0)
    assert r.least_repeat_m([a], 3500.0) == pytest.approx(700.0)  # all of A and B: 2.8 km
    # the dead end to a stop is ridden twice in any case
    assert r.least_repeat_m([a, spur], 300.0) == pytest.approx(r.forced_repeat_m([a, spur]))
    assert r.least_repeat_m([a, spur], 300.0) == pytest.approx(100.0)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    rings=st.lists(st.lists(st.integers(1, 60), max_size=4), min_size=1, max_size=7),
    links=st.lists(st.tuples(st.integers(0, 100), st.integers(1, 50)), min_size=6, max_size=6),
    pick=st.lists(st.booleans(), min_size=7, max_size=7),
    length_m=st.integers(50, 8000),
)
def test_least_repeat_is_the_least_over_sets_of_parts(rings: list[list[int]],
                                                      links: list[tuple[int, int]],
                                                      pick: list[bool], length_m: int) -> None:
    """Brute force over every connected set of parts that holds the stops: the walk
    repeats at least max(2 x its bridges, length - ways within), and the bound is the
    least of those (bridges in whole 10 m, so no rounding)."""
    parts = [[10.0 * x for x in ring] if len(ring) >= 3 else [] for ring in rings]
    bridges = [(links[i - 1][0] % i, i, 10.0 * links[i - 1][1]) for i in range(1, len(parts))]
    net = _parts_network(parts, bridges)
    r = net.router
    stops = [0] + [i for i in range(1, len(parts)) if pick[i]]
    cap = [sum(p) for p in parts]
    parent = {i: (j, m) for j, i, m in bridges}

    def connected(chosen: set[int]) -> bool:
        # in a tree rooted at 0: connected iff every chosen part but the topmost has
        # its parent chosen
        tops = [i for i in chosen if i == 0 or parent[i][0] not in chosen]
        return len(tops) == 1

    best = float("inf")
    for mask in range(1, 2 ** len(parts)):
        chosen = {i for i in range(len(parts)) if mask >> i & 1}
        if not set(stops) <= chosen or not connected(chosen):
            continue
        bridges_m = sum(parent[i][1] for i in chosen if i != 0 and parent[i][0] in chosen)
        best = min(best, max(2.0 * bridges_m, length_m - sum(cap[i] for i in chosen)))
    got = r.least_repeat_m([r.index[100 * i] for i in stops], float(length_m))
    assert got == pytest.approx(max(best, 0.0), abs=1e-6)


# ------------------------------------------------------------ ways ridden once
@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(2, 3), m=st.integers(2, 4),
       drop=st.lists(st.booleans(), min_size=17, max_size=17),
       lengths=st.lists(st.integers(1, 40), min_size=17, max_size=17))
def test_part_trail_bounds_every_set_with_even_ways_at_each_node(
        n: int, m: int, drop: list[bool], lengths: list[int]) -> None:
    """Brute force over every set of a part's ways where each node has an even number
    of them (what a closed walk riding no way twice rides): none is longer than the
    part's bound, and the bound is no more than the part's ways."""
    net = _grid_network(n, m, 100.0, drop, [1.0], [False])
    g = net.graph
    for k, (u, v, key) in enumerate(sorted(g.edges(keys=True))):
        if u < v:  # both directions of a way get the same length
            length_m = 10.0 * lengths[k % len(lengths)]
            for a, b in ((u, v), (v, u)):
                g.edges[a, b, key]["length_m"] = g.edges[a, b, key]["length"] = length_m
    r = Network(g, "generated").router
    part, _, _ = r.bridge_parts
    ways = r.ways
    inner = np.nonzero(~r.bridge_way)[0]
    assert len(inner) <= 17
    best = np.zeros(len(r.part_cycle_m))
    for mask in range(1, 2 ** len(inner)):
        chosen = inner[[bool(mask >> i & 1) for i in range(len(inner))]]
        deg = np.bincount(np.concatenate([ways.a[chosen], ways.b[chosen]]),
                          minlength=r.n_nodes)
        if np.any(deg % 2):
            continue
        for p in np.unique(part[ways.a[chosen]]):
            in_p = chosen[part[ways.a[chosen]] == p]
            best[p] = max(best[p], float(ways.length_m[in_p].sum()))
    assert np.all(r.part_trail_m >= best - 1e-6)
    assert np.all(r.part_trail_m <= r.part_cycle_m + 1e-6)


def test_part_trail_is_tight_on_a_ladder() -> None:
    """A ladder of three 100 m squares (10 ways): its four inner corners have three
    ways, pairs 100 m apart; a closed walk riding no way twice leaves out at least
    200 m -- the outer ring of 800 m does. A longer walk repeats the rest."""
    r = _grid_network(2, 4, 100.0, [False], [1.0], [False]).router
    assert float(r.part_cycle_m.max()) == pytest.approx(1000.0)
    assert float(r.part_trail_m.max()) == pytest.approx(800.0)
    # so a walk of 1 km repeats at least 200 m (the ring and one rung there and back)
    assert r.least_repeat_m([0], 1000.0) == pytest.approx(200.0)
    assert r.least_repeat_m([0], 800.0) == 0.0


def test_turn_minding_paths_are_cheapest(science_city: Network) -> None:
    """route_with_turns against scipy's Dijkstra on the turn graph from all edges
    leaving ``a`` (ranked without their own cost, which counts in choosing the edge
    into ``b``): the path it gives costs the least, ways and turns."""
    r = science_city.router
    _, arc_from, arc_to, pen = r._turns
    rng = np.random.default_rng(5)
    for _ in range(12):
        w = r.cost * rng.uniform(0.5, 3.0, r.n_edges)
        a, b = (int(x) for x in rng.choice(np.nonzero(r.core)[0], size=2, replace=False))
        first = np.arange(int(r.indptr[a]), int(r.indptr[a + 1]))
        n = r.n_edges
        dist, _, origin = dijkstra(
            csr_array((w[arc_to] + pen, (arc_from, arc_to)), shape=(n, n)),
            directed=True, indices=first, min_only=True, return_predecessors=True)
        arriving = r.in_edges[r.in_indptr[b]:r.in_indptr[b + 1]]
        total = dist[arriving] + w[origin[arriving].clip(0)]
        best = float(total.min())
        path = r.route_with_turns(a, b, w)
        assert path is not None
        assert int(r.src[path[0]]) == a and int(r.dst[path[-1]]) == b
        assert all(int(r.dst[x]) == int(r.src[y]) for x, y in pairwise(path))
        got = float(w[path].sum() + r.turn_penalty(path[:-1], path[1:]).sum())
        assert got == pytest.approx(best, rel=1e-9)
        # a bound below every edge into b (first edges not counted) finds nothing
        assert r.route_with_turns(a, b, w, limit=0.99 * float(dist[arriving].min())) is None


def test_floor_bounds_every_edge_by_its_straight_line() -> None:
    """Router.floor: no edge costs less than floor times the straight line between its
    ends, and the tightest edge meets it; an edge whose ends coincide bounds nothing."""
    r = _grid_network(3, 3, 100.0, [False], [1.0, 0.7, 1.3], [False]).router
    w = r.cost.copy()
    chord = np.hypot(r.xm[r.src] - r.xm[r.dst], r.ym[r.src] - r.ym[r.dst])
    f = r.floor(w)
    assert (w >= f * chord).all()
    assert f == pytest.approx(float((w / chord).min()), rel=1e-6)
    # an edge of zero length between coinciding nodes: the others still bound
    r.xm[1], r.ym[1] = r.xm[0], r.ym[0]
    del r.__dict__["_inv_chord"]
    assert r.floor(w) > 0
