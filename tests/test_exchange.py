"""Exchanging stretches of a loop for smoother ones, in pairs that keep its length."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.test_cyclespace import (
    _check,
    _grid,
    _space_and_stops,
    _staircase,
    _tour,
    _turns,
    _walk,
    _with_spur,
)
from tests.test_loop import _place

import ringroute._exchange as exchange_module
from ringroute._cyclespace import CycleSpace
from ringroute._exchange import OFF_TARGET, TURN_M, Exchange
from ringroute._repair import repair
from ringroute._router import Router
from ringroute.loop import (
    _Candidate,
    _make_loop,
    _Planner,
    _repeated_share,
    _ride_back_share,
    _way_partners,
    plan_loops,
)
from ringroute.network import Network

NO_PAIRS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))


def _cost(r: Router, loop: list[int], target_m: float) -> float:
    """What the exchange lowers: bike cost plus TURN_M per turn (the loop read round)
    plus OFF_TARGET per metre off the target length."""
    idx = np.asarray(loop)
    return (float(r.cost[idx].sum()) + TURN_M * _turns(r, loop)
            + OFF_TARGET * abs(float(r.length[idx].sum()) - target_m))


def _staircase_loop() -> tuple[Router, list[int], list[int]]:
    """A 6 x 6 grid's router, the staircase's node indices and the loop (see
    tests.test_cyclespace._staircase)."""
    r = _grid(6, 6).router
    stairs, back = _staircase(r, 6)
    return r, stairs, _walk(r, stairs + back)


def _in_order(r: Router, before: list[int], after: list[int], stops: list[int]) -> bool:
    """Whether ``after`` passes the stops in the order ``before`` first passes them."""
    nodes = [int(r.src[e]) for e in before]
    wanted = sorted(stops, key=nodes.index)
    k = 0
    for v in (int(r.src[e]) for e in after):
        if k < len(wanted) and v == wanted[k]:
            k += 1
    return k == len(wanted)


def test_exchange_turns_a_staircase_into_the_square() -> None:
    """The staircase that block flips leave as an L of 6 turns (see test_straighten)
    becomes the 800 m square: 4 turns, the same 3.2 km, through both stops."""
    r, _, loop = _staircase_loop()

    def node(i: int, j: int) -> int:
        return r.index[i * 6 + j]

    stops = [node(0, 0), node(4, 4)]
    ex = Exchange(r, r.cost, NO_PAIRS)
    smooth = ex.improve(loop, stops, 3200.0, 15.0)
    assert smooth is not None
    _check(r, smooth, stops, 3200.0, 15.0, CycleSpace(r, r.cost))
    assert _turns(r, loop) == 10
    assert _turns(r, smooth) == 4
    square = ([node(0, j) for j in range(5)] + [node(i, 4) for i in range(1, 5)]
              + [node(4, j) for j in range(3, -1, -1)] + [node(i, 0) for i in range(3, 0, -1)])
    assert [int(r.src[e]) for e in smooth] == square
    # nothing left to gain
    assert ex.improve(smooth, stops, 3200.0, 15.0) is None


def test_exchange_pairs_a_shortcut_with_a_longer_stretch_far_away() -> None:
    """A 4.8 km loop round a 2 km x 400 m strip of blocks with a notch of one block
    near its west end. Cutting the notch saves 400 m and 4 turns; no single stretch
    of 2 km or less (MAX_ARC_M) can be re-routed to keep the length, so the cut is paired with
    the east side moved one block out (400 m more, no turn more): the 2000 m x 400 m
    rectangle."""
    net = _grid(3, 11)
    r = net.router

    def node(i: int, j: int) -> int:
        return r.index[i * 11 + j]

    top = [node(0, 0), node(0, 1), node(1, 1), node(1, 2)] + [node(0, j) for j in range(2, 10)]
    rest = [node(1, 9), node(2, 9)] + [node(2, j) for j in range(8, -1, -1)] + [node(1, 0),
                                                                                 node(0, 0)]
    loop = _walk(r, top + rest)
    stops = [node(0, 0)]
    assert float(r.length[loop].sum()) == pytest.approx(4800.0)
    assert _turns(r, loop) == 8
    smooth = Exchange(r, r.cost, NO_PAIRS).improve(loop, stops, 4800.0, 15.0)
    assert smooth is not None
    _check(r, smooth, stops, 4800.0, 15.0, CycleSpace(r, r.cost))
    rectangle = ([node(0, j) for j in range(11)] + [node(1, 10)]
                 + [node(2, j) for j in range(10, -1, -1)] + [node(1, 0)])
    assert [int(r.src[e]) for e in smooth] == rectangle
    assert _turns(r, smooth) == 4


def test_exchange_keeps_stops_spurs_and_tolerance() -> None:
    """A loop off its tolerance, or a walk there and back, is left alone; windows hold
    no stop inside, so a staircase with a stop at every corner stays as it is; the
    spur to a dead-end sight, ridden there and back, is kept while the rest becomes
    the square."""
    r, stairs, loop = _staircase_loop()
    start = stairs[0]
    ex = Exchange(r, r.cost, NO_PAIRS)
    assert ex.improve(loop, [start], 3400.0, 15.0) is None  # 200 m off
    assert ex.improve(_walk(r, stairs[:2] + stairs[:1]), [start], 400.0, 15.0) is None
    assert ex.improve(loop, stairs[:-1], 3200.0, 15.0) is None

    spur = _with_spur(_grid(6, 6), 2 * 6, 2, 150.0)  # 300 m west of (2, 0) to node 901
    r2 = spur.router
    ids = {int(v): k for k, v in r2.index.items()}
    # node ids: (i, j) is i * 6 + j; the staircase, the south side, up the west side
    # with the spur there and back from (2, 0)
    climb = [0] + [x for k in range(4) for x in (k * 6 + k + 1, (k + 1) * 6 + k + 1)]
    west = [12, 900, 901, 900, 12]
    walk = _walk(r2, [r2.index[k] for k in [*climb, 27, 26, 25, 24, 18, *west, 6, 0]])
    stops = [r2.index[0], r2.index[901]]
    assert float(r2.length[walk].sum()) == pytest.approx(3800.0)
    smooth = Exchange(r2, r2.cost, NO_PAIRS).improve(walk, stops, 3800.0, 15.0)
    assert smooth is not None
    _check(r2, smooth, stops, 3800.0, 15.0, CycleSpace(r2, r2.cost))
    assert [ids[int(r2.src[e])] for e in smooth] == [0, 1, 2, 3, 4, 10, 16, 22, 28, 27, 26,
                                                     25, 24, 18, *west[:-1], 12, 6]


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(5, 9), m=st.integers(5, 9), oneway=st.booleans(),
    picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=4),
    extra=st.floats(1.2, 3.0),
)
def test_property_exchanged_loops_are_valid_and_cheaper(n: int, m: int, oneway: bool,
                                                        picks: list[int], extra: float) -> None:
    """On grids (some streets one-way), a repaired loop after exchanges is a closed walk
    through the same stops in the same order, within the tolerance, riding no way
    twice, and costs less (bike cost, turns and metres off the target), every time
    something was exchanged."""
    net = _grid(n, m, oneway)
    r, cs, stops = _space_and_stops(net, picks)
    if len(stops) < 2:
        return
    walk = _tour(r, stops)
    target = min(max(float(r.length[walk].sum()) * extra, 1600.0), 0.5 * float(cs.length_m.sum()))
    loop = repair(cs, walk, stops, target, 100.0)
    if loop is None:
        return
    smooth = Exchange(r, r.cost, NO_PAIRS).improve(loop, stops, target, 100.0)
    if smooth is None:
        return
    _check(r, smooth, stops, target, 100.0, cs)
    assert _cost(r, smooth, target) < _cost(r, loop, target)
    assert _in_order(r, loop, smooth, stops)


def _science_city_loop(net: Network, monkeypatch: pytest.MonkeyPatch
                       ) -> tuple[list[int], list[int], float]:
    """A 25 km loop through two sights, planned with the exchange switched off."""
    r = net.router
    ids = r.node_ids
    start, a, b = (int(ids[k]) for k in (100, 700, 1100))
    with monkeypatch.context() as m:
        m.setattr(Exchange, "improve", lambda *args, **kwargs: None)
        loop = plan_loops(net, _place(net, start, "start"),
                          [_place(net, a, "a"), _place(net, b, "b")], target_km=25.0)[0]
    edges = r.edges_between(np.asarray([r.index[u] for u, _, _ in loop.edges]),
                            np.asarray([r.index[v] for _, v, _ in loop.edges])).tolist()
    stops = [int(r.index[s.place.node]) for s in loop.stops]
    return edges, stops, loop.turns_per_km


def test_exchange_smooths_a_science_city_loop(science_city: Network,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """On the real Tsukuba Science City network a planned loop turns less after the
    exchanges, measured on its track as the bench does, and stays valid: the same
    stops in order, within the planner's 50 m tolerance, no way ridden twice or beside
    another of its ways that was not so before."""
    r = science_city.router
    edges, stops, turns_before = _science_city_loop(science_city, monkeypatch)
    partners = _way_partners(r, science_city.alongside)
    planner = _Planner(r, r.cost, 50.0, alongside=partners)
    smooth = Exchange(r, r.cost, partners).improve(edges, stops, 25_000.0, 50.0)
    assert smooth is not None
    assert int(r.src[smooth[0]]) == stops[0] == int(r.dst[smooth[-1]])
    assert all(int(r.dst[x]) == int(r.src[y]) for x, y in pairwise(smooth))
    assert abs(planner.length(smooth) - 25_000.0) <= 50.0
    assert _in_order(r, edges, smooth, stops)
    # metres ridden twice, or beside another way of the loop: no more than before
    for share in (_repeated_share, _ride_back_share):
        assert (share(planner, smooth) * planner.length(smooth)
                <= share(planner, edges) * planner.length(edges) + 1e-6)
    assert _cost(r, smooth, 25_000.0) < _cost(r, edges, 25_000.0)
    places = [_place(science_city, int(r.node_ids[s]), f"s{k}") for k, s in enumerate(stops)]
    after = _make_loop(science_city, planner,
                       _Candidate(smooth, "exchanged", length_m=planner.length(smooth)),
                       places, 25_000.0)
    assert after.turns_per_km < turns_before


def test_kept_searches_give_what_fresh_ones_give(science_city: Network,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Searches are kept from round to round while the ways they reached are unchanged:
    the loop comes out exactly as with every search run afresh each round."""
    r = science_city.router
    edges, stops, _ = _science_city_loop(science_city, monkeypatch)
    partners = _way_partners(r, science_city.alongside)
    kept = Exchange(r, r.cost, partners).improve(edges, stops, 25_000.0, 50.0)
    rows = exchange_module._Searches.rows

    def fresh(self: exchange_module._Searches, sources: np.ndarray,
              corridor: np.ndarray) -> np.ndarray:
        self._free.extend(self._slot.values())
        self._slot.clear()
        return rows(self, sources, corridor)

    monkeypatch.setattr(exchange_module._Searches, "rows", fresh)
    again = Exchange(r, r.cost, partners).improve(edges, stops, 25_000.0, 50.0)
    assert kept is not None
    assert again == kept


def test_stale_searches_found_backwards(science_city: Network) -> None:
    """Which kept searches a change touches is found by one search backwards from the
    changed ways: the same edges as searching forwards from every edge and reading
    whether it reached one of them."""
    r = science_city.router
    ex = Exchange(r, r.cost, _way_partners(r, science_city.alongside))
    rng = np.random.default_rng(3)
    corridor = np.zeros(r.n_edges, dtype=bool)
    corridor[rng.choice(r.n_edges, size=r.n_edges // 10, replace=False)] = True
    searches = exchange_module._Searches(ex, capacity=r.n_edges)
    every = np.arange(r.n_edges, dtype=np.int64)
    searches._search(every, corridor)
    dist = searches.dist[searches.rows(every, corridor)]
    for size in (1, 5, 40):
        cols = np.sort(rng.choice(r.n_edges, size=size, replace=False))
        forwards = np.isfinite(dist[:, cols]).any(axis=1)
        backwards = searches._reaching(cols, corridor)
        assert forwards.any() and not forwards.all()
        assert np.array_equal(backwards, forwards)


def test_exchange_leaves_large_searches_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Searches cost time and memory in proportion to the network and the loop: above
    MAX_CELLS (rows of the turn graph, one per edge of the loop and 64 more) nothing is
    tried."""
    r, stairs, loop = _staircase_loop()
    start = stairs[0]
    ex = Exchange(r, r.cost, NO_PAIRS)
    assert ex.improve(loop, [start], 3200.0, 15.0) is not None
    monkeypatch.setattr(exchange_module, "MAX_CELLS", (len(loop) + 64) * r.n_edges - 1)
    assert ex.improve(loop, [start], 3200.0, 15.0) is None
    # nor is anything built for it (the turn graph's costs and its reverse took 33 ms
    # per plan on the 100k-node synthetic city, where 50 km loops are too long)
    fresh = Exchange(r, r.cost, NO_PAIRS)
    assert fresh.improve(loop, [start], 3200.0, 15.0) is None
    assert "_graph" not in fresh.__dict__
    assert "_reverse" not in fresh.__dict__
