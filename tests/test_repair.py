"""Repeat-free repair of loops through the faces of the network."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.test_cyclespace import (
    _check,
    _figure_eight,
    _grid,
    _ridden_twice,
    _space_and_stops,
    _tour,
    _walk,
    _with_spur,
)

from ringroute._cyclespace import CycleSpace
from ringroute._repair import _reroute_same_way, diverge, lengthen, repair
from ringroute._router import Router
from ringroute.network import Network


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
    assert repair(cs, walk, stops, 2000.0, 15.0) is None  # shorter than any cycle
    loop = repair(cs, walk, stops, 2800.0, 15.0)
    assert loop is not None
    _check(r, loop, stops, 2800.0, 15.0, cs)


def _block_on_grid(n: int, i: int) -> tuple[Router, CycleSpace, dict[tuple[int, int], int],
                                            list[int]]:
    """A grid of n x n nodes 200 m apart, its faces, its node indices by (row, column),
    and a loop around the block whose top left corner is (i, i)."""
    r = _grid(n, n).router
    cs = CycleSpace(r, r.cost)
    node = {(a, b): r.index[a * n + b] for a in range(n) for b in range(n)}
    corners = [(i, i), (i, i + 1), (i + 1, i + 1), (i + 1, i), (i, i)]
    return r, cs, node, _walk(r, [node[c] for c in corners])


def test_lengthen_grows_a_block_into_a_long_loop() -> None:
    """One 800 m block grown to 6 km on a grid of 200 m blocks, through two stops."""
    r, cs, node, block = _block_on_grid(9, 4)
    stops = [node[(4, 4)], node[(5, 5)]]
    reached: list[float] = []
    loop = lengthen(cs, block, stops, 6000.0, 15.0, step_m=1000.0, progress=reached.append)
    _check(r, loop, stops, 6000.0, 15.0, cs)
    # each step reports the length reached: growing, at most a step at a time
    assert reached[-1] == pytest.approx(float(r.length[loop].sum()))
    assert all(0 < b - a <= 1000.0 for a, b in pairwise([800.0, *reached]))


def test_lengthen_prefers_blocks_that_keep_the_loop_flowing() -> None:
    """Grown to 4.8 km, the block becomes a loop with at most 6 corners (an L-shaped
    outline; a rectangle has 4): each step takes, of the blocks that give the length
    asked, those that add least turn cost. Taking the one closest to the step's goal
    instead (as repairs do) gives 10 corners here."""
    r, cs, node, block = _block_on_grid(9, 4)
    loop = lengthen(cs, block, [node[(4, 4)]], 4800.0, 15.0, step_m=1000.0)
    _check(r, loop, [node[(4, 4)]], 4800.0, 15.0, cs)
    idx = np.asarray(loop)
    assert int((r.turn_angle_deg(idx, np.roll(idx, -1)) > 50.0).sum()) <= 6


def test_lengthen_returns_the_longest_loop_it_reached() -> None:
    """A grid of 3 x 3 blocks has 4.8 km of ways; no loop rides them all (its inner
    junctions have four ways, its edge ones three): 20 km is out of reach, and the
    loop returned is still valid and longer than the block it started from."""
    r, cs, node, block = _block_on_grid(4, 1)
    loop = lengthen(cs, block, [node[(1, 1)]], 20_000.0, 15.0, step_m=1000.0)
    length = float(r.length[loop].sum())
    assert 800.0 < length < 4800.0
    _check(r, loop, [node[(1, 1)]], length, 1e-6, cs)
    # a goal within one step is met exactly: two blocks
    loop = lengthen(cs, block, [node[(1, 1)]], 1200.0, 15.0, step_m=1000.0)
    _check(r, loop, [node[(1, 1)]], 1200.0, 15.0, cs)


def test_lengthen_accepts_a_loop_within_accept_m_where_none_is_exact() -> None:
    """Loops on a grid of 200 m blocks come in steps of 400 m: none is within 15 m of
    1150 m. Grown from one 800 m block, the loop stays at 800 m; allowed 100 m off,
    the last step takes the two-block loop of 1200 m."""
    r, cs, node, block = _block_on_grid(6, 2)
    stops = [node[(2, 2)]]
    exact = lengthen(cs, block, stops, 1150.0, 15.0, step_m=100.0)
    assert float(r.length[exact].sum()) == pytest.approx(800.0)
    near = lengthen(cs, block, stops, 1150.0, 15.0, step_m=100.0, accept_m=100.0)
    _check(r, near, stops, 1200.0, 1e-6, cs)


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
    loop = repair(cs, walk, stops, 2720.0, 15.0)
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
    loop = repair(cs, walk[2:] + walk[:2], [r.index[901], r.index[3]], 2720.0, 15.0)
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
    loop = repair(cs, walk, stops, target, 15.0)
    assert loop is not None
    assert abs(float(r.length[loop].sum()) - target) <= 15.0
    assert int(r.src[loop[0]]) == ix[0] == int(r.dst[loop[-1]])
    assert all(int(r.dst[a]) == int(r.src[b]) for a, b in pairwise(loop))
    assert ix[804] in {int(r.src[e]) for e in loop}
    bridges = {int(cs.phys[r.edge_index(ix[0], ix[800])]),
               int(cs.phys[r.edge_index(ix[802], ix[804])])}
    assert _ridden_twice(cs, loop) == bridges


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
                and cs.orient(np.nonzero(parity(w))[0])[1] > 0)
    mended = _reroute_same_way(cs, parity(walk), np.asarray(walk))
    assert mended is not None
    assert cs.orient(np.nonzero(mended)[0])[1] == 0
    u = int(r.src[walk[0]])
    target = float(r.length[walk].sum())
    loop = repair(cs, walk, [u], target, 100.0)
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
    walk = _tour(r, stops)
    target = max(float(r.length[walk].sum()) * extra, 1600.0)
    target = min(target, 0.5 * float(cs.length_m.sum()))
    loop = repair(cs, walk, stops, target, 100.0)
    if loop is not None:
        _check(r, loop, stops, target, 100.0, cs)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(5, 9), m=st.integers(5, 9), oneway=st.booleans(),
    picks=st.lists(st.integers(0, 10_000), min_size=2, max_size=4),
    share=st.floats(0.1, 0.6),
)
def test_property_lengthened_loops_are_valid(n: int, m: int, oneway: bool, picks: list[int],
                                             share: float) -> None:
    """Whatever the grid, one-way streets and stops: a loop through the stops grown
    towards a share of all ways stays a valid loop through them, never shorter, and
    does not overshoot. Without one-way streets it gets within 400 m of the target
    (every closed walk on a grid of 200 m blocks is a multiple of 400 m long; steps
    that fit no block size are doubled); with them the greedy search may stop earlier
    (700 m short of 7.1 km in one of 400 random grids)."""
    r, cs, stops = _space_and_stops(_grid(n, m, oneway), picks)
    if len(stops) < 2:
        return
    walk = _tour(r, stops)
    start = repair(cs, walk, stops, max(1.2 * float(r.length[walk].sum()), 1600.0), 400.0)
    if start is None:
        return
    start_m = float(r.length[start].sum())
    target = max(start_m, share * float(cs.length_m.sum()))
    grown = lengthen(cs, start, stops, target, 15.0, step_m=0.05 * target)
    length = float(r.length[grown].sum())
    _check(r, grown, stops, length, 1e-6, cs)
    assert start_m - 1e-6 <= length <= target + 15.0
    assert oneway or target - 400.0 <= length


def _shared(r: Router, cs: CycleSpace, a: list[int], b: list[int],
            alongside: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None
            ) -> float:
    """Length of loop ``a`` on ways loop ``b`` rides (or, with ``alongside``, on ways
    that run alongside one it rides), as a share of the shorter one."""
    on_b = set(cs.phys[np.asarray(b)].tolist())
    if alongside is not None:
        on_b |= {int(x) for x, y in zip(*alongside, strict=True) if int(y) in on_b}
    shared = sum(float(r.length[e]) for e in a if int(cs.phys[e]) in on_b)
    return shared / min(float(r.length[a].sum()), float(r.length[b].sum()))


def test_diverge_finds_a_loop_apart_from_the_first() -> None:
    """A 4 km loop through two stops on a grid of 200 m blocks, and another one of
    4 km sharing at most half of it, found by annealing over the blocks (the same
    one again for the same random seed)."""
    r, cs, node, _ = _block_on_grid(9, 3)
    stops = [node[(2, 2)], node[(5, 6)]]
    first = repair(cs, _tour(r, stops), stops, 4000.0, 15.0)
    assert first is not None
    _check(r, first, stops, 4000.0, 15.0, cs)
    found = diverge(cs, first, stops, 4000.0, 15.0, [first], max_shared=0.5,
                    rng=np.random.default_rng(3))
    assert found is not None
    _check(r, found, stops, 4000.0, 15.0, cs)
    assert _shared(r, cs, found, first) <= 0.5
    assert diverge(cs, first, stops, 4000.0, 15.0, [first], max_shared=0.5,
                   rng=np.random.default_rng(3)) == found


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(5, 8), m=st.integers(5, 8), oneway=st.booleans(),
    picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=3),
    share=st.floats(0.15, 0.4), max_shared=st.floats(0.2, 0.8), seed=st.integers(0, 99),
    alongside_share=st.sampled_from([0.0, 0.2, 0.5]),
)
def test_property_diverged_loops_are_valid_and_apart(n: int, m: int, oneway: bool,
                                                     picks: list[int], share: float,
                                                     max_shared: float, seed: int,
                                                     alongside_share: float) -> None:
    """Whatever the grid, one-way streets and stops: a loop diverge finds (it may
    find none) is a valid loop through the stops of the asked length that shares at
    most ``max_shared`` with the loop it started from, counting the ways alongside
    those a loop rides (a random pairing of ``alongside_share`` of the ways, standing
    in for roads and the cycle tracks beside them), measured both ways: its length in
    the first loop's corridor, and the first loop's length in its corridor."""
    r, cs, stops = _space_and_stops(_grid(n, m, oneway), picks)
    pick = np.random.default_rng(seed)
    first_way = np.flatnonzero(pick.random(len(cs.a)) < alongside_share)
    alongside = (first_way, pick.integers(0, len(cs.a), len(first_way)))
    # every closed walk on the grid is a multiple of 400 m long
    target = 400.0 * max(round(share * float(cs.length_m.sum()) / 400.0), 4)
    tour = _tour(r, stops if len(stops) > 1 else [stops[0], (stops[0] + 1) % r.n_nodes])
    first = repair(cs, tour, stops, target, 15.0)
    if first is None:
        return
    found = diverge(cs, first, stops, target, 15.0, [first], max_shared=max_shared,
                    rng=np.random.default_rng(seed), steps=1500, alongside=alongside)
    if found is not None:
        _check(r, found, stops, target, 15.0, cs)
        assert _shared(r, cs, found, first, alongside) <= max_shared + 1e-9
        assert _shared(r, cs, first, found, alongside) <= max_shared + 1e-9
