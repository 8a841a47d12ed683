"""Straightening loops by flipping blocks next to them."""

from __future__ import annotations

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

from ringroute._cyclespace import CycleSpace
from ringroute._repair import repair
from ringroute._straighten import straighten


def test_straighten_turns_a_staircase_into_a_rectangle() -> None:
    """A loop climbing a staircase of blocks and coming back around the edge: flipping
    the blocks under the stairs gives the same length with fewer turns."""
    net = _grid(6, 6)
    r = net.router
    cs = CycleSpace(r, r.cost)

    def node(i: int, j: int) -> int:
        return r.index[i * 6 + j]

    stairs, back = _staircase(r, 6)
    loop = _walk(r, stairs + back)
    stops = [node(0, 0), node(4, 4)]
    length = float(r.length[loop].sum())
    assert length == pytest.approx(3200.0)
    assert _turns(r, loop) == 10
    straight = straighten(cs, loop, stops, length, 15.0)
    assert straight is not None
    _check(r, straight, stops, length, 15.0, cs)
    # flipping one block (or two) at a time ends in an L of 6 turns: the last notch
    # of the 800 m square needs 6 blocks at once, and each single flip turns more
    assert _turns(r, straight) == 6
    # a loop with nothing to gain is left alone
    assert straighten(cs, straight, stops, length, 15.0) is None


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
    r, cs, stops = _space_and_stops(net, picks)
    if len(stops) < 2:
        return
    walk = _tour(r, stops)
    target = min(max(float(r.length[walk].sum()) * extra, 1600.0),
                 0.5 * float(cs.length_m.sum()))
    loop = repair(cs, walk, stops, target, 100.0)
    if loop is None:
        return
    straight = straighten(cs, loop, stops, target, 100.0)
    if straight is not None:
        _check(r, straight, stops, target, 100.0, cs)
