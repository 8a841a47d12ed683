"""The compiled router: reused search matrices, bridges, turn costs."""

from __future__ import annotations

from itertools import pairwise

import networkx as nx
import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

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
        many, _ = r.shortest_paths_many([a, (a + 1) % r.n_nodes], w)
        np.testing.assert_allclose(many[0], fwd)
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
