"""Ways that run alongside each other (ringroute._alongside)."""

from __future__ import annotations

import math
from itertools import pairwise

import networkx as nx
from shapely.geometry import LineString

from conftest import bench_module
from ringroute._alongside import alongside_ways, way_key
from ringroute.loop import plan_loops
from ringroute.network import Network
from ringroute.sights import Place, snap

_M_LAT = 1.0 / 111_195.0  # degrees of latitude per metre
_LAT0, _LON0 = 36.0, 140.0
_M_LON = _M_LAT / math.cos(math.radians(_LAT0))


def _graph(ways: dict[tuple[int, int], list[tuple[float, float]]]) -> nx.MultiDiGraph:
    """Ways given as polylines in metres (east, north) between numbered nodes."""
    g = nx.MultiDiGraph(crs="epsg:4326")
    for (u, v), pts in ways.items():
        lonlat = [(_LON0 + x * _M_LON, _LAT0 + y * _M_LAT) for x, y in pts]
        for n, (lon, lat) in ((u, lonlat[0]), (v, lonlat[-1])):
            g.add_node(n, x=lon, y=lat)
        length = sum(math.dist(a, b) for a, b in pairwise(pts))
        attrs = {"length_m": length, "length": length}
        if len(pts) > 2:
            attrs["geometry"] = LineString(lonlat)
        g.add_edge(u, v, **attrs)
        g.add_edge(v, u, **{**attrs, **({"geometry": LineString(lonlat[::-1])}
                                         if len(pts) > 2 else {})})
    return g


def test_a_cycle_track_beside_a_road_runs_alongside_it() -> None:
    """A 300 m road, a cycle track 6 m beside it (split in two, drawn the other way),
    a street 25 m off, a street crossing the road and one meeting it at its end."""
    g = _graph({
        (1, 2): [(0, 0), (150, 0), (300, 0)],            # the road
        (12, 11): [(160, 6), (0, 6)],                     # track, first half (reversed)
        (12, 13): [(160, 6), (300, 6)],                   # track, second half
        (21, 22): [(0, 25), (300, 25)],                   # a street 25 m off
        (31, 32): [(150, -100), (150, 100)],              # crossing the road
        (2, 41): [(300, 0), (300, 200)],                  # meeting the road at its end
    })
    near = alongside_ways(g)
    road, track1, track2 = way_key(1, 2), way_key(11, 12), way_key(12, 13)
    assert near[road] == {track1, track2}
    assert near[track1] == {road}
    assert near[track2] == {road}
    for far in (way_key(21, 22), way_key(31, 32), way_key(2, 41)):
        assert far not in near
        assert all(far not in others for others in near.values())


def test_a_short_stretch_side_by_side_is_not_alongside() -> None:
    """Two 400 m streets that run 5 m apart for only 60 m of their length."""
    g = _graph({
        (1, 2): [(0, 0), (400, 0)],
        (3, 4): [(340, 5), (400, 5), (400, 405)],
    })
    assert alongside_ways(g) == {}


def test_heidelberg_has_carriageways_and_tracks_alongside(heidelberg: Network) -> None:
    """The Heidelberg extract: some hundreds of its 24,000 ways run alongside others;
    mostly both ways of a pair find each other (a carriageway and its twin)."""
    near = heidelberg.alongside
    assert 300 <= len(near) <= 3000
    mutual = sum(1 for k, others in near.items() if any(k in near.get(o, ()) for o in others))
    assert mutual >= 0.5 * len(near)


def _near_itself(lat: list[float], lon: list[float]) -> float:
    """Share of a closed track within 8 m of a part of it more than 60 m further on
    (the bench's geometric repeated share)."""
    return float(bench_module("routino_peer").geometric_repeated_share(lat, lon))


def test_no_ride_back_beside_the_way_out(heidelberg: Network) -> None:
    """From Ziegelhausen in the Neckar valley through one sight, 10.17 km: the loop
    rode 2.5 km up the valley road and came back on the cycle track beside it (49 %
    of it within 8 m of itself, though each way was ridden once). Ranked with such
    pairs counted like a way ridden twice, it comes back another way."""
    start = snap(Place(key="start", lat=49.3918607, lon=8.8052982), heidelberg,
                 max_snap_m=500.0)
    via = [snap(Place(key="sight", lat=49.3957011, lon=8.7963307), heidelberg,
                max_snap_m=500.0)]
    loop = plan_loops(heidelberg, start, via, target_km=10.17, seed=7)[0]
    assert abs(loop.length_error) <= 0.05
    assert loop.overlap_ratio < 0.02
    assert _near_itself(loop.lat, loop.lon) < 0.05
    # without the ways alongside, ranking takes the ride back beside the way out
    unaware = Network(heidelberg.graph, heidelberg.source)
    unaware.__dict__["alongside"] = {}  # the cached property, as if none were found
    plain = plan_loops(unaware, start, via, target_km=10.17, seed=7)[0]
    assert _near_itself(plain.lat, plain.lon) > 0.3
