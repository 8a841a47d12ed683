"""Repeat-free repair of loops through the faces of the network."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.test_loop import _grid_network

from ringroute._cyclespace import CycleSpace
from ringroute._router import Router
from ringroute.network import Network


def _walk(r: Router, nodes: list[int]) -> list[int]:
    """Directed edge indices of a walk given by node indices."""
    return [r.edge_index(a, b) for a, b in pairwise(nodes)]


def _check(r: Router, loop: list[int], stops: list[int], target_m: float, tol_m: float,
           cs: CycleSpace) -> None:
    """A repaired loop is a closed walk from the start, rides no way twice, passes
    every stop and is as long as asked."""
    assert loop, "empty loop"
    assert all(0 <= e < r.n_edges for e in loop)  # existing edges: one-ways respected
    assert int(r.src[loop[0]]) == stops[0] == int(r.dst[loop[-1]])
    assert all(int(r.dst[a]) == int(r.src[b]) for a, b in pairwise(loop))
    ways = cs.phys[np.asarray(loop)]
    assert len(np.unique(ways)) == len(ways), "a way is ridden twice"
    passed = {int(r.src[e]) for e in loop}
    assert set(stops) <= passed
    assert abs(float(r.length[loop].sum()) - target_m) <= tol_m


def _grid(n: int, m: int, oneway: bool = False) -> Network:
    # every third street one-way (when asked)
    return _grid_network(n, m, 200.0, [False] * 3, [1.0], [oneway, False, False])


def test_faces_of_a_grid_are_its_blocks() -> None:
    net = _grid(6, 7)
    r = net.router
    cs = CycleSpace(r, r.cost)
    # Euler's formula: a connected plane graph has E - V + 2 faces; all but the
    # outer one (more than 30 % of all ways here) are the 5 x 6 blocks of 800 m
    n_ways = len(cs.a)
    assert cs.n_faces == n_ways - r.n_nodes + 1 == 30
    for f in range(cs.n_faces):
        ways = cs.face_phys[cs.face_ptr[f]:cs.face_ptr[f + 1]]
        assert cs.length_m[ways].sum() == pytest.approx(800.0)
        # a face is a cycle: every node on it has even degree
        deg = np.bincount(np.concatenate([cs.a[ways], cs.b[ways]]), minlength=r.n_nodes)
        assert np.all(deg % 2 == 0)


def test_repair_replaces_an_out_and_back_on_a_grid() -> None:
    """Riding 1 km east and back the same way becomes a round trip through both ends.

    The shortest cycle through both ends is 2.4 km (a 1 km x 200 m block row); the
    repair is asked for 2.8 km, one block more.
    """
    net = _grid(8, 8)
    r = net.router
    cs = CycleSpace(r, r.cost)
    node = {(i, j): r.index[i * 8 + j] for i in range(8) for j in range(8)}
    out = [node[(3, j)] for j in range(0, 6)]  # 1 km east along row 3
    walk = _walk(r, out + out[-2::-1])  # and back: 2 km, every way twice
    stops = [node[(3, 0)], node[(3, 5)]]
    assert cs.repair(walk, stops, 2000.0, 15.0) is None  # shorter than any cycle
    loop = cs.repair(walk, stops, 2800.0, 15.0)
    assert loop is not None
    _check(r, loop, stops, 2800.0, 15.0, cs)


def test_repair_gives_up_on_a_dead_end_stop() -> None:
    """A stop at the end of a dead end lies on no cycle: no repeat-free loop exists."""
    net = _grid(5, 5)
    g = net.graph.copy()
    corner = 0
    lon, lat = g.nodes[corner]["x"], g.nodes[corner]["y"]
    g.add_node(999, x=lon - 0.002, y=lat)
    attrs = {"length_m": 180.0, "length": 180.0, "highway": "residential", "bike_factor": 1.0,
             "way_class": "quiet", "cycle_route": False, "osmid": 999}
    g.add_edge(corner, 999, **attrs)
    g.add_edge(999, corner, **attrs)
    r = Network(g, "generated").router
    cs = CycleSpace(r, r.cost)
    spur = [r.index[corner], r.index[999], r.index[corner]]
    block = [r.index[corner], r.index[1], r.index[6], r.index[5], r.index[corner]]
    walk = _walk(r, block) + _walk(r, spur)
    assert cs.repair(walk, [r.index[corner], r.index[999]], 1160.0, 15.0) is None


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(5, 9), m=st.integers(5, 9), oneway=st.booleans(),
    picks=st.lists(st.integers(0, 10_000), min_size=2, max_size=4),
    extra=st.floats(0.8, 2.0),
)
def test_property_repairs_are_valid_loops(n: int, m: int, oneway: bool, picks: list[int],
                                          extra: float) -> None:
    """Whatever the grid, one-way streets and stops: a repair, when found, is a valid
    repeat-free loop of the asked length (the greedy search may find none)."""
    net = _grid(n, m, oneway)
    r = net.router
    cs = CycleSpace(r, r.cost)
    stops = list(dict.fromkeys(p % r.n_nodes for p in picks))
    if len(stops) < 2:
        return
    # the shortest tour in the given order: legs may share ways
    walk: list[int] = []
    for a, b in pairwise([*stops, stops[0]]):
        walk += r.path_edges(r.shortest_paths(a, r.length), b)
    target = max(float(r.length[walk].sum()) * extra, 1600.0)
    target = min(target, 0.5 * float(cs.length_m.sum()))
    loop = cs.repair(walk, stops, target, 100.0)
    if loop is not None:
        _check(r, loop, stops, target, 100.0, cs)
