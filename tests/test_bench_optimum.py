"""The CP-SAT reference of bench/optimum.py on generated grids with known best loops."""

from __future__ import annotations

from itertools import pairwise
from types import ModuleType

import numpy as np
import pytest
from tests.test_loop import _at_node, _grid_network

from conftest import bench_module
from ringroute._metrics import TURN_ANGLE_DEG
from ringroute.loop import plan_loops
from ringroute.network import Network


@pytest.fixture(scope="module")
def optimum() -> ModuleType:
    return bench_module("optimum")


def _turns(net: Network, edges: list[int]) -> int:
    """Junction turns of a closed loop, the closing junction included."""
    r = net.router
    e = np.asarray(edges)
    return int(np.count_nonzero(r.turn_angle_deg(e, np.roll(e, -1)) > TURN_ANGLE_DEG))


def _check_loop(net: Network, edges: list[int], stops: list[int]) -> None:
    r = net.router
    assert int(r.src[edges[0]]) == stops[0]
    for a, b in pairwise([*edges, edges[0]]):
        assert r.dst[a] == r.src[b]
    assert set(stops) <= {int(r.src[e]) for e in edges}
    ways = r.ways.of_edge[np.asarray(edges)]
    assert len(set(ways.tolist())) == len(edges)  # no way twice, in either direction


@pytest.mark.parametrize("objective", ["score", "turns"])
def test_the_best_loop_round_a_grid_is_its_rim(optimum: ModuleType, objective: str) -> None:
    """3 x 3 blocks of 200 m, 2.4 km from a corner: the rim, 4 turns, is best.

    The solver finds it on its own (no loop to start from)."""
    net = _grid_network(4, 4, 200.0, [False], [1.0], [False])
    r = net.router
    start = int(r.index[0])
    sol = optimum.solve_loop(r, r.cost, [start], 2400.0, 15.0, [], seconds=20.0,
                             objective=objective, workers=1)
    assert sol.status == "OPTIMAL"
    _check_loop(net, sol.edges, [start])
    assert float(r.length[sol.edges].sum()) == pytest.approx(2400.0)
    assert _turns(net, sol.edges) == 4
    # only rim nodes: the loop is the block's outline
    rim = {int(r.index[i * 4 + j]) for i in range(4) for j in range(4)
           if i in (0, 3) or j in (0, 3)}
    assert {int(r.src[e]) for e in sol.edges} == rim


def test_the_reference_is_never_worse_than_the_planned_loop(optimum: ModuleType) -> None:
    """A grid with gaps, mixed costs and one-way streets, two sights: the solver starts
    from the planned loop, so what it returns is valid and scores no worse."""
    net = _grid_network(7, 8, 150.0, [False, False, False, True, False, False, False],
                        [1.0, 1.4, 1.0, 2.5, 1.0], [False, False, False, False, False, True])
    r = net.router
    nodes = sorted(net.graph.nodes)
    start, sights = nodes[9], [nodes[30], nodes[44]]
    loop = plan_loops(net, _at_node(net, start), [_at_node(net, s) for s in sights],
                      target_km=4.0)[0]
    assert loop.overlap_ratio == 0.0  # so it is a solution of the model
    hint = _loop_edges(net, loop)
    stops = [int(r.index[s.place.node]) for s in loop.stops]
    sol = optimum.solve_loop(r, r.cost, stops, 4000.0, 15.0, hint, seconds=10.0, workers=1)
    assert sol.status in ("OPTIMAL", "FEASIBLE")
    _check_loop(net, sol.edges, stops)
    tol = max(15.0, abs(loop.length_m - 4000.0))
    assert abs(float(r.length[sol.edges].sum()) - 4000.0) <= tol + 1.0

    def objective(edges: list[int]) -> float:
        cost = np.round(r.cost).astype(np.int64)
        return float(cost[edges].sum()) + optimum.TURN_M * _turns(net, edges)

    assert objective(sol.edges) <= objective(hint)
    assert sol.objective == pytest.approx(objective(sol.edges))


def _loop_edges(net: Network, loop: object) -> list[int]:
    r = net.router
    edges = loop.edges  # type: ignore[attr-defined]
    return r.edges_between(np.asarray([r.index[u] for u, _, _ in edges]),
                           np.asarray([r.index[v] for _, v, _ in edges])).tolist()
