"""The benchmark's synthetic city generator (bench/synth.py) on a ~2k-node graph."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import networkx as nx
import numpy as np
import pytest

from ringroute._bike import WAY_CLASSES
from ringroute._geo import haversine_m
from ringroute.loop import plan_loops
from ringroute.network import Network
from ringroute.sights import Place, SnappedPlace

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def synth() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_synth", BENCH / "synth.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_synth"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def net(synth: ModuleType) -> Network:
    return synth.synth_network(2000, seed=3)


def test_size_and_strong_connectivity(net: Network) -> None:
    g = net.graph
    assert abs(g.number_of_nodes() - 2000) <= 0.05 * 2000
    assert nx.is_strongly_connected(g)
    assert g.graph["crs"] == "epsg:4326"


def test_edge_attributes_like_real_graphs(net: Network) -> None:
    g = net.graph
    classes = set()
    for u, v, k, d in g.edges(keys=True, data=True):
        assert k == 0
        for key in ("length_m", "length", "highway", "way_class", "bike_factor",
                    "cycle_route", "osmid", "name", "oneway"):
            assert key in d, (u, v, key)
        assert d["way_class"] in WAY_CLASSES
        assert d["bike_factor"] > 0
        assert isinstance(d["cycle_route"], bool)
        classes.add(d["way_class"])
        a, b = g.nodes[u], g.nodes[v]
        geo = haversine_m(a["y"], a["x"], b["y"], b["x"])
        assert d["length_m"] == d["length"]
        assert abs(d["length_m"] - geo) <= 0.01 * geo + 1e-6
    assert len(classes) >= 5
    assert any(d["cycle_route"] for _, _, d in g.edges(data=True))
    lat = np.array([d["y"] for _, d in g.nodes(data=True)])
    lon = np.array([d["x"] for _, d in g.nodes(data=True)])
    assert abs(lat.mean() - 51.48) < 0.05
    assert abs(lon.mean() - 7.22) < 0.08


def test_one_way_streets_and_dead_ends(net: Network) -> None:
    g = net.graph
    one_way = [(u, v) for u, v in g.edges() if not g.has_edge(v, u)]
    assert one_way
    dead_ends = [n for n in g.nodes if set(g.successors(n)) | set(g.predecessors(n))
                 and len(set(g.successors(n)) | set(g.predecessors(n))) == 1]
    assert dead_ends


def test_deterministic(synth: ModuleType) -> None:
    a = synth.synth_graph(500, seed=7)
    b = synth.synth_graph(500, seed=7)
    assert sorted(a.edges()) == sorted(b.edges())


def test_fast_edges_equal_add_edges_from(synth: ModuleType) -> None:
    edges = [(1, 2, {"length": 3.0}), (2, 1, {"length": 3.0}), (2, 3, {"length": 4.0})]
    ref = nx.MultiDiGraph()
    ref.add_nodes_from([1, 2, 3])
    ref.add_edges_from((u, v, 0, dict(d)) for u, v, d in edges)
    fast = nx.MultiDiGraph()
    fast.add_nodes_from([1, 2, 3])
    synth.add_edges_fast(fast, ((u, v, dict(d)) for u, v, d in edges))
    assert nx.utils.graphs_equal(ref, fast)
    assert list(fast.in_edges(2, keys=True)) == list(ref.in_edges(2, keys=True))


def test_plan_loops_runs(net: Network) -> None:
    r = net.router
    cx, cy = float(np.median(r.xm)), float(np.median(r.ym))
    d = np.hypot(r.xm - cx, r.ym - cy)
    start = int(r.node_ids[int(np.argmin(d))])
    sight = int(r.node_ids[int(np.argmin(np.abs(d - 800.0)))])

    def snapped(n: int) -> SnappedPlace:
        nd = net.graph.nodes[n]
        return SnappedPlace(place=Place(key=str(n), lat=nd["y"], lon=nd["x"]), node=n,
                            snap_m=0.0)

    loops = plan_loops(net, snapped(start), [snapped(sight)], target_km=6.0)
    loop = loops[0]
    assert abs(loop.length_m - 6000.0) <= 0.05 * 6000.0
    nodes = {u for u, _, _ in loop.edges}
    assert start in nodes and sight in nodes
