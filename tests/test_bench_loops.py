"""The loop benchmark (bench/loops.py) on the Tsukuba Science City extract, with Routino."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import SCIENCE_CITY, bench_module
from ringroute._bike import WAY_CLASSES


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return bench_module("loops")


@pytest.fixture(scope="module")
def info(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return bench.load_extract(SCIENCE_CITY, tmp_path_factory.mktemp("cache"))


def test_requests_are_deterministic_and_snapped_like_the_cli(bench: ModuleType,
                                                             info: Any) -> None:
    a = bench.make_requests(info, 6, 1)
    assert a == bench.make_requests(info, 6, 1)
    core = info.net.router.core
    idx = info.net.router.index
    # a start on a dead end gives way to a loop-able node within 100 m where there is one
    assert sum(bool(core[idx[q.start]]) for q in a) >= 4


@pytest.mark.peer
@pytest.mark.skipif(shutil.which("routino-router") is None, reason="routino not installed")
def test_routino_reference_loop_way_classes(bench: ModuleType, info: Any,
                                            tmp_path: Path) -> None:
    reqs = [q for q in bench.make_requests(info, 10, 1) if len(q.sights) >= 2]
    assert reqs
    db = bench.routino_peer.build_database(SCIENCE_CITY, tmp_path, "tsukuba")
    res = bench.run_request(info, reqs[0], 120.0, [])
    assert res.status == "planned"
    assert 0.0 <= res.forced <= res.repeated + 1e-9
    assert bench.avoidable(res) == pytest.approx(res.repeated - res.forced)
    bench.run_peer(db, info, res)
    assert res.peer is not None and res.peer.error is None, res.peer
    # Routino's shortest loop through the same stops is shorter than the planned one
    assert res.peer.length_m < res.length_m
    # its way classes come from matching its track onto ringroute's graph
    assert res.peer_matched >= 0.95
    assert set(res.peer_class_share) <= set(WAY_CLASSES)
    assert sum(res.peer_class_share.values()) == pytest.approx(1.0)
    row = res.row()
    assert row["routino_share_quiet"] == pytest.approx(res.peer_class_share.get("quiet", 0.0),
                                                       abs=1e-5)


def _grid_with_main_row(main_row: int | None) -> Any:
    from tests.test_loop import _grid_network

    net = _grid_network(4, 5, 200.0, [False], [1.0], [False])
    if main_row is not None:
        for u, v, d in net.graph.edges(data=True):
            if u // 5 == v // 5 == main_row:
                d["way_class"] = "main"
    return type(net)(net.graph, "generated")


def test_straight_runs_of_a_grid_are_its_streets(bench: ModuleType) -> None:
    """A 4 x 5 grid of 200 m blocks: 4 streets of 800 m one way, 5 of 600 m the other;
    a main road is no run, and crossing it straight on is no turn."""
    runs = sorted(bench.straight_runs_m(_grid_with_main_row(None).router).tolist())
    assert runs == pytest.approx([600.0] * 5 + [800.0] * 4)
    runs = sorted(bench.straight_runs_m(_grid_with_main_row(1).router).tolist())
    # the second street is a main road: the cross streets go straight over it
    assert runs == pytest.approx([600.0] * 5 + [800.0] * 3)


def _star(bearings_deg: list[float], lengths_m: list[float] | None = None) -> Any:
    """Ways from one junction towards compass bearings (0° = north), 300 m unless given."""
    import math

    import networkx as nx

    from ringroute.network import Network

    g = nx.MultiDiGraph(crs="epsg:4326")
    lat0, lon0 = 36.0, 140.0
    g.add_node(0, x=lon0, y=lat0)
    for k, b in enumerate(bearings_deg, start=1):
        m = 300.0 if lengths_m is None else lengths_m[k - 1]
        dn, de = m * math.cos(math.radians(b)), m * math.sin(math.radians(b))
        g.add_node(k, x=lon0 + de / (111_195.0 * math.cos(math.radians(lat0))),
                   y=lat0 + dn / 111_195.0)
        attrs = {"length_m": m, "length": m, "highway": "residential",
                 "bike_factor": 1.0, "way_class": "quiet", "cycle_route": False, "osmid": k}
        g.add_edge(0, k, **attrs)
        g.add_edge(k, 0, **attrs)
    return Network(g, "generated")


def test_straight_runs_go_on_within_50_degrees_straightest_first(bench: ModuleType) -> None:
    # from the south, on north-east (45° off straight): one run of 600 m
    assert sorted(bench.straight_runs_m(_star([180.0, 45.0]).router).tolist()) == \
        pytest.approx([600.0])
    # on east instead (90°): a turn ends the run
    assert sorted(bench.straight_runs_m(_star([180.0, 90.0]).router).tolist()) == \
        pytest.approx([300.0, 300.0])
    # a fork 10° (200 m) and 40° (500 m) off: the straighter way goes on, the other is
    # a run of its own
    runs = bench.straight_runs_m(_star([180.0, 10.0, 320.0], [300.0, 200.0, 500.0]).router)
    assert sorted(runs.tolist()) == pytest.approx([500.0, 500.0])


def test_alternatives_probe_measures_distinct_loops(bench: ModuleType, info: Any) -> None:
    probe = next(q for q in bench.make_requests(info, 10, 1) if q.kind == "probe50x4")
    alt = bench.run_alternatives(info, probe, 2)
    assert alt is not None and alt.found == 2
    assert 0.0 < alt.shared_max <= 0.5  # loops through the same sights share some ways
    assert alt.abs_err_max <= bench.TOLERANCE
    assert 0.0 <= alt.repeated_max < 0.1
    # just above the shortest loop through the same sights
    near_km = 1.05 * bench.shortest_loop_m(
        info.net, bench._snapped(info.net, probe.start),
        [bench._snapped(info.net, s) for s in probe.sights]) / 1000
    near = bench.run_alternatives(info, probe, 2, target_km=near_km)
    assert near is not None and near.found >= 1
    assert near.abs_err_max <= bench.TOLERANCE and near.shared_max <= 0.5
    # a loop shares all of its ways with itself
    loop = bench.plan_loops(info.net, bench._snapped(info.net, probe.start), [],
                            target_km=10.0)[0]
    assert bench._shared_share(info.net, loop, loop) == pytest.approx(1.0)


def test_refusals_are_told_apart(bench: ModuleType, info: Any) -> None:
    """A target beyond what the ways can hold and one beyond the longest loop found
    are different refusals; the bench reports which (real messages of the planner)."""
    from ringroute.errors import InfeasibleLoopError
    from ringroute.loop import plan_loops

    req = bench.make_requests(info, 30, 1)[0]
    start = bench._snapped(info.net, req.start)
    reasons = set()
    for km in (1000.0, 150.0):
        with pytest.raises(InfeasibleLoopError) as exc:
            plan_loops(info.net, start, [], target_km=km)
        reasons.add(bench.refusal_reason(exc.value))
    assert reasons == {"target above what the ways can hold", "target above longest loop found"}
