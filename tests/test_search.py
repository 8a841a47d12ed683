"""The compiled searches (``ringroute._search``) against scipy's Dijkstra."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from ringroute._router import Router
from ringroute._search import NO_PRED, CSRGraph, tree_sums, warm_up
from ringroute.network import Network


def _random_graph(seed: int, n: int, n_arcs: int) -> tuple[CSRGraph, csr_array, np.ndarray]:
    rng = np.random.default_rng(seed)
    tail = rng.integers(n, size=n_arcs)
    head = rng.integers(n, size=n_arcs)
    keep = tail != head
    tail, head = tail[keep], head[keep]
    # one arc per vertex pair (csgraph sums duplicates), sorted into CSR order
    code = np.unique(tail * n + head)
    tail, head = code // n, code % n
    w = rng.uniform(0.5, 10.0, len(code))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(tail, minlength=n))])
    graph = CSRGraph(indptr, head, np.arange(len(code)))
    return graph, csr_array((w, (tail, head)), shape=(n, n)), w


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60), density=st.floats(0.5, 4.0),
       limit=st.sampled_from([3.0, 12.0, 30.0, np.inf]))
def test_distances_and_trees_match_scipy(seed: int, n: int, density: float,
                                         limit: float) -> None:
    graph, m, w = _random_graph(seed, n, int(density * n) + 1)
    source = seed % n
    dist = dijkstra(m, directed=True, indices=source, limit=limit)
    found = graph.search(w, source, limit=limit)
    np.testing.assert_allclose(found.dist, dist, rtol=0, atol=1e-9)
    reached = np.isfinite(dist)
    assert np.array_equal(found.pred[~reached], np.full((~reached).sum(), NO_PRED))
    # predecessors may differ only between paths of equal cost: each vertex's tree
    # arc must be tight
    for v in np.nonzero(reached)[0]:
        if v == source:
            assert found.pred[v] == NO_PRED and found.arcs_to(int(v)) == []
            continue
        arcs = found.arcs_to(int(v))
        assert int(graph.heads[arcs[-1]]) == v
        # the same path as vertices: the source, then each arc's head
        assert found.vertices_to(int(v)) == [source, *graph.heads[arcs].tolist()]
        assert float(w[arcs].sum()) == pytest.approx(dist[v], abs=1e-9)


def test_several_sources_reach_each_vertex_from_the_nearest() -> None:
    graph, m, w = _random_graph(3, 40, 120)
    sources = np.array([0, 7, 19])
    found = graph.search(w, sources)
    each = dijkstra(m, directed=True, indices=sources)
    np.testing.assert_allclose(found.dist, each.min(axis=0), rtol=0, atol=1e-9)
    reached = np.isfinite(found.dist)
    best = sources[np.argmin(each, axis=0)]
    assert np.array_equal(found.origin[reached], best[reached])
    # one row per source, as csgraph gives them
    rows, pred, parc = graph.rows(w, sources, limit=15.0)
    np.testing.assert_allclose(rows, dijkstra(m, directed=True, indices=sources, limit=15.0),
                               rtol=0, atol=1e-9)
    # each row's tree: the arc into each reached vertex leaves its predecessor
    for k in range(len(sources)):
        tree = (pred[k] >= 0) & np.isfinite(rows[k])
        assert np.array_equal(tree, parc[k] >= 0)
        for v in np.flatnonzero(tree).tolist():
            j, u = int(parc[k, v]), int(pred[k, v])
            assert graph.heads[j] == v and graph.indptr[u] <= j < graph.indptr[u + 1]


def test_a_search_stops_at_the_first_target_settled(science_city: Network) -> None:
    r = science_city.router
    graph = r._fwd_graph
    rng = np.random.default_rng(11)
    for _ in range(20):
        a, b, c = (int(x) for x in rng.integers(r.n_nodes, size=3))
        full = graph.search(r.cost, a)
        part = graph.search(r.cost, a, stop=[b, c])
        first = b if full.dist[b] <= full.dist[c] else c
        if not np.isfinite(full.dist[first]):
            assert part.hit == -1
            continue
        assert part.hit in (b, c)
        assert part.dist[part.hit] == full.dist[first]
        assert part.arcs_to(part.hit) == full.arcs_to(part.hit)
        # and it searched no farther than that
        assert np.nanmax(np.where(np.isfinite(part.dist), part.dist, np.nan)) <= (
            full.dist[first] + float(r.cost.max()))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n_stop=st.integers(1, 6))
def test_extras_choose_among_the_stops_without_changing_the_search(seed: int,
                                                                  n_stop: int) -> None:
    """With ``extra`` costs per source the search is the one without them, stopped
    once no stop vertex can do better; the hit is the stop vertex whose distance
    plus its source's extra is least."""
    graph, m, w = _random_graph(seed, 50, 150)
    rng = np.random.default_rng(seed)
    sources = rng.choice(50, size=3, replace=False)
    extra = rng.uniform(0.0, 8.0, 3)
    stop = rng.choice(50, size=n_stop, replace=False)
    dist, _, origin = dijkstra(m, directed=True, indices=sources, min_only=True,
                               return_predecessors=True)
    found = graph.search(w, sources, extra=extra, stop=stop)
    reach = np.isfinite(dist[stop])
    if not reach.any():
        assert found.hit == -1
        return
    index = {int(s): k for k, s in enumerate(sources)}
    total = np.where(reach, dist[stop] + [extra[index.get(int(o), 0)] for o in origin[stop]],
                     np.inf)
    assert found.hit == int(stop[np.argmin(total)])
    assert found.dist[found.hit] == pytest.approx(dist[found.hit], abs=1e-9)
    assert int(found.origin[found.hit]) == int(origin[found.hit])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60))
def test_searches_aimed_at_a_target_find_the_cheapest_path(seed: int, n: int) -> None:
    """A*: with no arc cheaper than ``floor`` times its straight line, a search
    aimed at the target finds a path as cheap as Dijkstra's, settling no more."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0.0, 100.0, n), rng.uniform(0.0, 100.0, n)
    code = np.unique(rng.integers(n, size=4 * n) * n + rng.integers(n, size=4 * n))
    tail, head = code // n, code % n
    keep = tail != head
    tail, head = tail[keep], head[keep]
    chord = np.hypot(x[tail] - x[head], y[tail] - y[head])
    w = chord * rng.uniform(1.0, 3.0, len(tail)) + rng.uniform(0.0, 5.0, len(tail))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(tail, minlength=n))])
    graph = CSRGraph(indptr, head, np.arange(len(tail)), xy=(x, y))
    m = csr_array((w, (tail, head)), shape=(n, n))
    a, b = 0, n - 1
    dist = dijkstra(m, directed=True, indices=a)
    aimed = graph.search(w, a, stop=b, toward=(x[b], y[b]), floor=1.0)
    plain = graph.search(w, a, stop=b)
    if not np.isfinite(dist[b]):
        assert aimed.hit == plain.hit == -1
        return
    assert aimed.hit == plain.hit == b
    assert aimed.dist[b] == pytest.approx(dist[b], rel=1e-12)
    arcs = aimed.arcs_to(b)
    assert float(w[arcs].sum()) == pytest.approx(dist[b], rel=1e-12)
    settled = np.isfinite(aimed.dist) & (aimed.dist <= aimed.dist[b])
    assert settled.sum() <= (np.isfinite(plain.dist) & (plain.dist <= plain.dist[b])).sum()


def test_infinite_weights_close_arcs_and_bad_shapes_are_refused() -> None:
    graph = CSRGraph([0, 1, 2, 2], [1, 2], [0, 1])
    assert graph.search(np.array([1.0, np.inf]), 0).dist.tolist() == [0.0, 1.0, np.inf]
    assert graph.search(np.array([1.0, 2.0]), 0, limit=2.5).dist.tolist() == [0.0, 1.0,
                                                                                np.inf]
    with pytest.raises(ValueError, match="indptr ends at 2"):
        CSRGraph([0, 1, 2, 2], [1, 2, 0], [0, 1, 2])
    # the kernels do not check bounds, so every index is checked before
    with pytest.raises(ValueError, match=r"sources must lie in 0\.\.2"):
        graph.search(np.ones(2), [3])
    with pytest.raises(ValueError, match=r"stop must lie in 0\.\.2"):
        graph.search(np.ones(2), [0], stop=[-1])
    with pytest.raises(ValueError, match="1 weights, the graph's arcs need 2"):
        graph.rows(np.ones(1), [0])
    with pytest.raises(ValueError, match=r"heads must lie in 0\.\.2"):
        CSRGraph([0, 1, 2, 2], [1, 3], [0, 1])
    with pytest.raises(ValueError, match="xy holds 2 and 3 positions for 3 vertices"):
        CSRGraph([0, 1, 2, 2], [1, 2], [0, 1], xy=([0.0, 1.0], [0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="predecessors must lie below 3"):
        tree_sums(np.array([-9999, 0, 5]), np.ones(3))
    with pytest.raises(ValueError, match=r"predecessors of shape \(1, 2\), steps of shape"):
        tree_sums(np.array([-9999, 0]), np.ones(3))
    with pytest.raises(ValueError, match="toward needs the positions"):
        graph.search(np.ones(2), [0], stop=2, toward=(0.0, 0.0), floor=1.0)
    with pytest.raises(ValueError, match="2 extras for 1 sources"):
        graph.search(np.ones(2), [0], extra=[0.0, 1.0])


def _pointer_jumping(r: Router, pred: np.ndarray, reverse: bool) -> np.ndarray:
    # the vectorised sums tree_sums replaced (it must give the very same floats)
    rows = np.atleast_2d(pred).astype(np.int64)
    n = rows.shape[1]
    flat = rows.ravel()
    v = np.nonzero(flat >= 0)[0]
    node = v % n
    src, dst = (node, flat[v]) if reverse else (flat[v], node)
    acc = np.zeros(flat.size)
    acc[v] = r.length[r.edges_between(src, dst)]
    anc = np.full(flat.size, -1, dtype=np.int64)
    anc[v] = flat[v] + (v - node)
    idx = v
    while len(idx):
        a = anc[idx]
        acc[idx] += acc[a]
        anc[idx] = anc[a]
        idx = idx[anc[idx] >= 0]
    return acc.reshape(rows.shape)


def test_tree_sums_are_the_lengths_along_the_trees(science_city: Network) -> None:
    """Summed from the edges the searches recorded, in the very float order of the
    vectorised sums over edges looked up between tree nodes (the code this replaced)."""
    r = science_city.router
    rng = np.random.default_rng(3)
    sources = rng.choice(r.n_nodes, size=4, replace=False)
    dist, pred, edge = r.shortest_paths_many(sources, r.cost, limit=6000.0)
    sums = tree_sums(pred, r.length[np.maximum(edge, 0)])
    assert np.array_equal(sums, _pointer_jumping(r, pred, reverse=False))
    for k, s in enumerate(sources.tolist()):
        sp = r.shortest_paths(s, r.cost, limit=6000.0)
        for v in rng.choice(r.n_nodes, size=20, replace=False).tolist():
            want = float(r.length[r.path_edges(sp, v)].sum()) if np.isfinite(dist[k, v]) else 0.0
            assert sums[k, v] == pytest.approx(want, rel=1e-12, abs=1e-9)
    back = r.shortest_paths_to(int(sources[0]), r.cost)
    along = tree_sums(back.pred, r.length[np.maximum(back.edge, 0)])
    assert along.shape == (r.n_nodes,)
    assert np.array_equal(along, _pointer_jumping(r, back.pred, reverse=True)[0])
    v = int(np.argmax(np.where(np.isfinite(back.dist), back.dist, -1.0)))
    assert along[v] == pytest.approx(float(r.length[r.path_edges_to(back, v)].sum()))


def test_warm_up_loads_every_kernel() -> None:
    """After warm_up each compiled kernel has its one signature: nothing is compiled
    during a timed search."""
    import ringroute._search as search

    assert warm_up() >= 0.0
    for name in ("_kernel", "_rows_kernel", "_chain", "_tree_sums"):
        assert len(getattr(search, name).signatures) == 1, name


def test_reversed_turns_every_arc_round(science_city: Network) -> None:
    """CSRGraph.reversed: the router's reversed road graph is its incoming-edge
    arrays, and a search on a reversed graph gives the distances towards a vertex."""
    r = science_city.router
    back = r._fwd_graph.reversed()
    assert np.array_equal(back.indptr, r.in_indptr)
    assert np.array_equal(back.wsel, r.in_edges)
    assert np.array_equal(back.heads, r.src[r.in_edges])
    graph, m, w = _random_graph(5, 40, 140)
    towards = graph.reversed().search(w, 3).dist
    np.testing.assert_allclose(towards, dijkstra(m.T.tocsr(), directed=True, indices=3),
                               rtol=0, atol=1e-9)
