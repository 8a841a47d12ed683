"""Route metrics: the turn count shared by the planner, the bench and the router."""

from __future__ import annotations

import math
from itertools import pairwise

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from ringroute._metrics import count_turns, count_turns_xy, resample_xy
from ringroute._router import BEND_COST_M
from ringroute.network import Network

_M_LAT = 111_195.0


def _latlon(xy: list[tuple[float, float]], lat0: float = 36.0) -> tuple[list[float], list[float]]:
    m_lon = _M_LAT * math.cos(math.radians(lat0))
    return [lat0 + y / _M_LAT for _, y in xy], [140.0 + x / m_lon for x, _ in xy]


def _reference(x: np.ndarray, y: np.ndarray) -> int:
    """The definition, spelled out: 10 m steps, heading 40 m ahead differs by > 50°."""
    if len(x) < 2:
        return 0
    seg = np.hypot(np.diff(x), np.diff(y))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] <= 0:
        return 0
    s = np.arange(0.0, cum[-1], 10.0)
    xs, ys = np.interp(s, cum, x), np.interp(s, cum, y)
    heading = [math.degrees(math.atan2(ys[j + 1] - ys[j], xs[j + 1] - xs[j]))
               for j in range(len(xs) - 1)]
    turns, inside = 0, False
    for j in range(len(heading) - 4):
        d = abs((heading[j + 4] - heading[j] + 180.0) % 360.0 - 180.0)
        if d > 50.0 and not inside:
            turns += 1
        inside = d > 50.0
    return turns


@pytest.mark.parametrize(("xy", "expected"), [
    ([(0, 0), (500, 0)], 0),                                    # straight
    ([(0, 0), (200, 0), (200, 200)], 1),                        # right angle
    ([(0, 0), (200, 0), (200, 100), (0, 100)], 2),              # hairpin of two corners
    ([(0, 0), (200, 0), (200, 20), (400, 20)], 2),              # a 20 m jog: two turns
    ([(0, 0), (200, 0), (400, 100)], 0),                        # 27° bend: no turn
    ([(0, 0), (100, 0), (200, 100), (300, 100), (400, 200)], 0),  # 45° steps 100 m apart
])
def test_count_turns_on_known_shapes(xy: list[tuple[float, float]], expected: int) -> None:
    lat, lon = _latlon(xy)
    assert count_turns(lat, lon) == expected
    x = np.array([p[0] for p in xy], dtype=float)
    y = np.array([p[1] for p in xy], dtype=float)
    assert _reference(x, y) == expected


@pytest.mark.parametrize(("xy", "expected"), [
    ([(0, 0), (300, 0), (300, 200), (0, 200), (0, 0)], 4),          # a block, from a corner
    ([(150, 0), (300, 0), (300, 200), (0, 200), (0, 0), (150, 0)], 4),  # from mid-side
    ([(0, 0), (300, 0), (0, 200), (0, 0)], 3),                      # a triangle
    # out 300 m and back the same way: a U-turn at each end (one across the start)
    ([(0, 0), (300, 0), (0, 0)], 2),
])
def test_a_closed_loop_is_read_round(xy: list[tuple[float, float]], expected: int) -> None:
    """The closing junction of a loop counts like any other, wherever the loop starts;
    read as an open line, the corner at the start was lost."""
    lat, lon = _latlon(xy)
    assert count_turns(lat, lon) == expected
    # the same polyline but 5 m short of closing: an open line
    lat_o, lon_o = _latlon([*xy[:-1], _towards(xy[-1], xy[-2], 5.0)])
    x = np.array([p[0] for p in xy], dtype=float)
    y = np.array([p[1] for p in xy], dtype=float)
    assert count_turns(lat_o, lon_o) == _reference(x, y)


def _towards(a: tuple[float, float], b: tuple[float, float], d: float) -> tuple[float, float]:
    """The point ``d`` metres from ``a`` towards ``b``."""
    n = math.hypot(b[0] - a[0], b[1] - a[1])
    return a[0] + (b[0] - a[0]) * d / n, a[1] + (b[1] - a[1]) * d / n


@settings(max_examples=100, deadline=None, derandomize=True)
@given(w=st.floats(100, 600), h=st.floats(100, 600), at=st.floats(0.1, 0.9),
       side=st.integers(0, 3))
def test_a_closed_loop_counts_the_same_from_any_start(w: float, h: float, at: float,
                                                      side: int) -> None:
    """A rectangular block turns four times whichever point of a side it starts at."""
    corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]
    a, b = corners[side], corners[(side + 1) % 4]
    start = (a[0] + at * (b[0] - a[0]), a[1] + at * (b[1] - a[1]))
    ring = [start, *corners[side + 1:], *corners[:side + 1], start]
    lat, lon = _latlon(ring)
    assert count_turns(lat, lon) == 4


_lines = st.lists(
    st.lists(st.tuples(st.floats(-60, 60), st.floats(-60, 60)), min_size=0, max_size=25),
    min_size=1, max_size=8)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(lines=_lines)
def test_batched_count_equals_one_by_one(lines: list[list[tuple[float, float]]]) -> None:
    """Many polylines at once give each one's own count (no window spans two lines)."""
    arrays = []
    for steps in lines:
        pts = np.cumsum(np.array(steps, dtype=float).reshape(-1, 2), axis=0)
        arrays.append((pts[:, 0], pts[:, 1]))
    got = count_turns_xy(arrays)
    assert got.tolist() == [_reference(x, y) for x, y in arrays]


def test_resample_keeps_the_step() -> None:
    lat, lon = _latlon([(0, 0), (95, 0)])
    x, y = resample_xy(lat, lon)
    assert len(x) == 10
    assert np.allclose(np.hypot(np.diff(x), np.diff(y)), 10.0, atol=0.05)


def test_router_charges_bends_of_a_winding_way() -> None:
    """A serpentine way between two junctions costs its bends; a straight one does not."""
    m_lon = _M_LAT * math.cos(math.radians(36.0))

    def ll(x: float, y: float) -> tuple[float, float]:
        return 140.0 + x / m_lon, 36.0 + y / _M_LAT

    g = nx.MultiDiGraph(crs="epsg:4326")
    for n, (x, y) in {1: (0.0, 0.0), 2: (600.0, 0.0)}.items():
        lon, lat = ll(x, y)
        g.add_node(n, x=lon, y=lat)
    # three switchbacks of 100 m legs between the same ends
    zig = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (300.0, 100.0), (300.0, -100.0),
           (500.0, -100.0), (500.0, 0.0), (600.0, 0.0)]
    zig_m = sum(math.dist(a, b) for a, b in pairwise(zig))
    for k, (pts, length) in enumerate([(zig, zig_m), ([(0.0, 0.0), (600.0, 0.0)], 600.0)]):
        for u, v, seq in ((1, 2, pts), (2, 1, pts[::-1])):
            g.add_edge(u, v, key=k, length_m=length, length=length, highway="track",
                       bike_factor=1.0, way_class="quiet", cycle_route=False, osmid=k,
                       geometry=LineString([ll(x, y) for x, y in seq]))
    g2 = g.copy()
    g2.remove_edges_from([(1, 2, 1), (2, 1, 1)])  # only the serpentine is left
    r = Network(g2, "generated").router
    e = r.edge_index(r.index[1], r.index[2])
    assert r.bends[e] == 6  # every corner of the serpentine (its ends are junctions)
    assert r.cost[e] == pytest.approx(zig_m + 6 * BEND_COST_M)
    straight = Network(g, "generated").router  # the straight way is cheaper: kept
    e = straight.edge_index(straight.index[1], straight.index[2])
    assert straight.bends[e] == 0 and straight.cost[e] == pytest.approx(600.0)
