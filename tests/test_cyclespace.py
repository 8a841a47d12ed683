"""Repeat-free repair of loops through the faces of the network."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import numpy.typing as npt
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
    """A repaired loop is a closed walk from the start, rides no way twice (but
    bridges, there and back), passes every stop and is as long as asked."""
    assert loop, "empty loop"
    assert all(0 <= e < r.n_edges for e in loop)  # existing edges: one-ways respected
    assert int(r.src[loop[0]]) == stops[0] == int(r.dst[loop[-1]])
    assert all(int(r.dst[a]) == int(r.src[b]) for a, b in pairwise(loop))
    ways, counts = np.unique(cs.phys[np.asarray(loop)], return_counts=True)
    assert np.all(counts[~cs.bridge[ways]] == 1), "a way is ridden twice"
    assert np.all(counts[cs.bridge[ways]] == 2), "a bridge is not ridden there and back"
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


def _with_spur(net: Network, at: int, nodes: int, length_m: float) -> Network:
    """``net`` with a dead-end spur of ``nodes`` nodes (ids 900, 901, ...) west of ``at``."""
    g = net.graph.copy()
    lon, lat = g.nodes[at]["x"], g.nodes[at]["y"]
    prev = at
    for k in range(nodes):
        g.add_node(900 + k, x=lon - 0.002 * (k + 1), y=lat)
        attrs = {"length_m": length_m, "length": length_m, "highway": "residential",
                 "bike_factor": 1.0, "way_class": "quiet", "cycle_route": False,
                 "osmid": 900 + k}
        g.add_edge(prev, 900 + k, **attrs)
        g.add_edge(900 + k, prev, **attrs)
        prev = 900 + k
    return Network(g, "generated")


def _ridden_twice(cs: CycleSpace, loop: list[int]) -> set[int]:
    ways, counts = np.unique(cs.phys[np.asarray(loop)], return_counts=True)
    return set(ways[counts > 1].tolist())


def test_repair_rides_a_dead_end_spur_there_and_back() -> None:
    """A stop at the end of a dead end lies on no cycle: the repair rides its spur
    there and back and mends the rest (here an out-and-back along the grid's edge)."""
    net = _with_spur(_grid(5, 5), 0, 2, 180.0)
    r = net.router
    cs = CycleSpace(r, r.cost)
    spur = [r.index[0], r.index[900], r.index[901], r.index[900], r.index[0]]
    row = [r.index[j] for j in range(4)]
    walk = _walk(r, spur) + _walk(r, row + row[-2::-1])  # 720 m spur, 1.2 km along and back
    stops = [r.index[0], r.index[901], r.index[3]]
    loop = cs.repair(walk, stops, 2720.0, 15.0)
    assert loop is not None
    assert int(r.src[loop[0]]) == stops[0] == int(r.dst[loop[-1]])
    assert all(int(r.dst[a]) == int(r.src[b]) for a, b in pairwise(loop))
    assert set(stops) <= {int(r.src[e]) for e in loop}
    assert abs(float(r.length[loop].sum()) - 2720.0) <= 15.0
    # only the spur's two ways are ridden twice: 2 x 360 m of the 2720 m
    twice = _ridden_twice(cs, loop)
    assert twice == set(cs.phys[[r.edge_index(r.index[0], r.index[900]),
                                 r.edge_index(r.index[900], r.index[901])]].tolist())
    # a start at the end of the spur works the same way
    loop = cs.repair(walk[2:] + walk[:2], [r.index[901], r.index[3]], 2720.0, 15.0)
    assert loop is not None and int(r.src[loop[0]]) == r.index[901]


def test_repair_crosses_a_part_hanging_by_a_bridge_on_a_cycle() -> None:
    """A stop beyond a small block that hangs off the grid by one way: the loop rides
    that way there and back, around the block (no way of it twice) and back."""
    base = _grid(5, 5)
    g = base.graph.copy()
    lon, lat = g.nodes[0]["x"], g.nodes[0]["y"]
    d = 0.0018
    coords = {800: (lon - d, lat), 801: (lon - 2 * d, lat), 802: (lon - 2 * d, lat - d),
              803: (lon - d, lat - d), 804: (lon - 3 * d, lat - d)}
    for n, (x, y) in coords.items():
        g.add_node(n, x=x, y=y)
    for k, (u, v) in enumerate([(0, 800), (800, 801), (801, 802), (802, 803), (803, 800),
                                (802, 804)]):
        attrs = {"length_m": 200.0, "length": 200.0, "highway": "residential",
                 "bike_factor": 1.0, "way_class": "quiet", "cycle_route": False,
                 "osmid": 800 + k}
        g.add_edge(u, v, **attrs)
        g.add_edge(v, u, **attrs)
    net = Network(g, "generated")
    r = net.router
    cs = CycleSpace(r, r.cost)
    ix = r.index
    out = [ix[0], ix[800], ix[801], ix[802], ix[804]]
    walk = _walk(r, out + out[-2::-1]) + _walk(r, [ix[0], ix[1], ix[6], ix[5], ix[0]])
    stops = [ix[0], ix[804]]
    target = 2.0 * 200 + 800 + 2.0 * 200 + 1600  # bridges twice, the block, 8 grid ways
    loop = cs.repair(walk, stops, target, 15.0)
    assert loop is not None
    assert abs(float(r.length[loop].sum()) - target) <= 15.0
    assert int(r.src[loop[0]]) == ix[0] == int(r.dst[loop[-1]])
    assert all(int(r.dst[a]) == int(r.src[b]) for a, b in pairwise(loop))
    assert ix[804] in {int(r.src[e]) for e in loop}
    bridges = {int(cs.phys[r.edge_index(ix[0], ix[800])]),
               int(cs.phys[r.edge_index(ix[802], ix[804])])}
    assert _ridden_twice(cs, loop) == bridges


def _figure_eight(r: Router, cs: CycleSpace, oneway: int) -> list[int]:
    """Ride ``oneway``, back by the shortest path, ``oneway`` again, back another way."""
    u, v = int(r.src[oneway]), int(r.dst[oneway])
    back1 = r.path_edges(r.shortest_paths(v, r.length), u)
    w = r.length.copy()
    w[np.isin(cs.phys, cs.phys[np.asarray(back1)])] += 1e6
    back2 = r.path_edges(r.shortest_paths(v, w), u)
    return [oneway, *back1, oneway, *back2]


def test_repair_mends_a_one_way_ridden_twice() -> None:
    """A figure-eight whose two lobes share a one-way street ridden twice in its
    direction: dropping that street leaves a set no circuit can ride (one-way ways
    fix its ends' balance); the second ride gets another way instead."""
    net = _grid(7, 7, oneway=True)
    r = net.router
    cs = CycleSpace(r, r.cost)

    def parity(walk: list[int]) -> npt.NDArray[np.bool_]:
        return np.asarray(np.bincount(cs.phys[walk], minlength=len(cs.a)) % 2 == 1)

    walk = next(w for e in range(r.n_edges) if r.reverse[e] < 0
                for w in [_figure_eight(r, cs, e)]
                if len(_ridden_twice(cs, w)) == 1
                and cs._orient(np.nonzero(parity(w))[0])[1] > 0)
    mended = cs._reroute_same_way(parity(walk), np.asarray(walk))
    assert mended is not None
    assert cs._orient(np.nonzero(mended)[0])[1] == 0
    u = int(r.src[walk[0]])
    target = float(r.length[walk].sum())
    loop = cs.repair(walk, [u], target, 100.0)
    assert loop is not None
    _check(r, loop, [u], target, 100.0, cs)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(5, 9), m=st.integers(5, 9), oneway=st.booleans(),
    spur=st.integers(0, 3), spur_stop=st.booleans(),
    picks=st.lists(st.integers(0, 10_000), min_size=2, max_size=4),
    extra=st.floats(0.8, 2.0),
)
def test_property_repairs_are_valid_loops(n: int, m: int, oneway: bool, spur: int,
                                          spur_stop: bool, picks: list[int],
                                          extra: float) -> None:
    """Whatever the grid, one-way streets, dead-end spur and stops: a repair, when
    found, is a valid loop of the asked length riding only the spur twice (the greedy
    search may find none)."""
    net = _grid(n, m, oneway)
    if spur:
        net = _with_spur(net, next(iter(net.graph.nodes)), spur, 150.0)
    r = net.router
    cs = CycleSpace(r, r.cost)
    stops = [p % r.n_nodes for p in picks]
    if spur and spur_stop:  # a stop at the end of the dead end (the start, or later)
        stops.insert(picks[0] % 2, r.index[900 + spur - 1])
    stops = list(dict.fromkeys(stops))
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


def _turns(r: Router, loop: list[int]) -> int:
    """Turns of more than 50° between consecutive edges of a closed loop."""
    nxt = loop[1:] + loop[:1]
    return int(np.count_nonzero(r.turn_angle_deg(loop, nxt) > 50.0))


def test_straighten_turns_a_staircase_into_a_rectangle() -> None:
    """A loop climbing a staircase of blocks and coming back around the edge: flipping
    the blocks under the stairs gives the same length with fewer turns."""
    net = _grid(6, 6)
    r = net.router
    cs = CycleSpace(r, r.cost)

    def node(i: int, j: int) -> int:
        return r.index[i * 6 + j]

    stairs = [node(0, 0)]
    for k in range(4):
        stairs += [node(k, k + 1), node(k + 1, k + 1)]
    back = [node(4, j) for j in range(3, -1, -1)] + [node(i, 0) for i in range(3, -1, -1)]
    loop = _walk(r, stairs + back)
    stops = [node(0, 0), node(4, 4)]
    length = float(r.length[loop].sum())
    assert length == pytest.approx(3200.0)
    assert _turns(r, loop) == 10
    straight = cs.straighten(loop, stops, length, 15.0)
    assert straight is not None
    _check(r, straight, stops, length, 15.0, cs)
    # flipping one block (or two) at a time ends in an L of 6 turns: the last notch
    # of the 800 m square needs 6 blocks at once, and each single flip turns more
    assert _turns(r, straight) == 6
    # a loop with nothing to gain is left alone
    assert cs.straighten(straight, stops, length, 15.0) is None


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(5, 8), m=st.integers(5, 8), oneway=st.booleans(), spur=st.integers(0, 2),
    picks=st.lists(st.integers(0, 10_000), min_size=2, max_size=4),
    extra=st.floats(1.2, 2.5),
)
def test_property_straightened_loops_are_valid(n: int, m: int, oneway: bool, spur: int,
                                               picks: list[int], extra: float) -> None:
    """Straightening a repaired loop keeps it a valid loop of the same length through
    the same stops (riding only bridges twice)."""
    net = _grid(n, m, oneway)
    if spur:
        net = _with_spur(net, next(iter(net.graph.nodes)), spur, 150.0)
    r = net.router
    cs = CycleSpace(r, r.cost)
    stops = list(dict.fromkeys(p % r.n_nodes for p in picks))
    if len(stops) < 2:
        return
    walk: list[int] = []
    for a, b in pairwise([*stops, stops[0]]):
        walk += r.path_edges(r.shortest_paths(a, r.length), b)
    target = min(max(float(r.length[walk].sum()) * extra, 1600.0),
                 0.5 * float(cs.length_m.sum()))
    loop = cs.repair(walk, stops, target, 100.0)
    if loop is None:
        return
    straight = cs.straighten(loop, stops, target, 100.0)
    if straight is not None:
        _check(r, straight, stops, target, 100.0, cs)


def test_join_takes_in_a_stop_by_a_detour_from_the_loop() -> None:
    """A stop off a block loop is joined by swapping one of the loop's ways for a
    detour through the stop: one connected even set, no way shared."""
    net = _grid(6, 6)
    r = net.router
    cs = CycleSpace(r, r.cost)

    def node(i: int, j: int) -> int:
        return r.index[i * 6 + j]

    block = _walk(r, [node(1, 1), node(1, 2), node(2, 2), node(2, 1), node(1, 1)])
    used = np.bincount(cs.phys[block], minlength=len(cs.a)) % 2 == 1
    stop = node(1, 4)
    joined = cs._join(used, [node(1, 1), stop])
    assert joined is not None
    ways = np.nonzero(joined)[0]
    nodes, labels = cs._components(ways)
    assert labels.max() == 0 and stop in nodes.tolist()
    degree = np.bincount(np.concatenate([cs.a[ways], cs.b[ways]]), minlength=r.n_nodes)
    assert np.all(degree % 2 == 0)
    # the detour replaced one way of the block: three of its four ways are kept
    assert int((joined & used).sum()) == 3
    # the block's east way (200 m) swapped for 400 m out to the stop and 600 m back
    # by the next row: 800 - 200 + 1000 m
    assert float(cs.length_m[ways].sum()) == pytest.approx(1600.0)
