"""How far are ringroute's loops from the best loop of their kind? A CP-SAT reference.

For the bench's requests on one extract (by default the six 50 km / 4-sight probes of
the Tsukuba Science City), the loop is planned with ringroute and then handed, as a
starting solution, to Google OR-Tools' CP-SAT solver, which searches for a loop

* through the same stops (the start and every sight),
* of the same length (within the planner's tolerance, or the planned loop's error),
* riding no way twice, in either direction, nor two ways that run alongside each other
  (the cycle track beside a road): only ways the planned loop rides there and back
  (spurs to dead-end sights) may be ridden both ways, and only where it turns back
  may the loop turn back;

that is best by the planner's own measure at that length (``--objective score``: the
bike cost of its ways plus 1,000 m per turn of more than 50° at a junction, i.e.
``ringroute.loop._score`` with the length fixed, the junction where the loop closes
counted too), or that turns least with main roads at most 10 % of its length, or the
planned loop's share if that is more (``--objective turns``: the issue's targets).
The model is a circuit over the turns (one node per directed way, one arc per allowed
turn; CP-SAT's ``AddCircuit`` with the ways not ridden left out).

Both loops are then measured alike (ringroute's ``Loop``: turns per km on the track,
way classes, repeated share) and printed side by side. The solver runs for a time
limit on 2 workers, so its loops vary from run to run; the bound it reports is for
this model only.

Usage::

    python bench/optimum.py --seconds 60
    python bench/optimum.py --objective turns --seconds 120 --kinds probe50x4
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

import loops as bench
import ringroute.loop as planner_module
from ringroute._metrics import TURN_ANGLE_DEG
from ringroute._router import Router
from ringroute.network import Network

#: the planner's ranking counts a turn like this many metres of riding (1.0 per turn/km)
TURN_M = 1000.0 * planner_module._SCORE_PER_TURN_KM
#: ``--objective turns``: main roads at most this share of the length
MAIN_CAP = 0.10


@dataclass
class Solution:
    """What the solver found: a loop (directed edges from the start) or none."""

    status: str
    edges: list[int] = field(default_factory=list)
    objective: float = float("nan")
    bound: float = float("nan")
    seconds: float = float("nan")


def solve_loop(r: Router, weights: np.ndarray, stops: Sequence[int], target_m: float,
               tol_m: float, hint: Sequence[int], *, seconds: float,
               objective: str = "score", partners: tuple[np.ndarray, np.ndarray] | None = None,
               main_cap: float = MAIN_CAP, workers: int = 2) -> Solution:
    """Best loop through ``stops`` (router node indices; the first is the start).

    Parameters
    ----------
    r, weights
        The router and the bike cost of each directed edge.
    stops
        Nodes the loop must pass; it starts at ``stops[0]``.
    target_m, tol_m
        Length wanted and accepted error (widened to the hint's error).
    hint
        A loop (directed edges) to start from; its way pairs ridden both ways and
        its turns back are the only ones allowed.
    seconds
        Solver time limit.
    objective
        ``"score"``: bike cost plus :data:`TURN_M` per turn; ``"turns"``: turns,
        with main roads at most ``main_cap`` of the length (or the hint's share,
        if more).
    partners
        Pairs of ways (:attr:`Router.ways` numbers) that run alongside each other.
    """
    if objective not in ("score", "turns"):
        msg = f"objective must be 'score' or 'turns', not {objective!r}"
        raise ValueError(msg)
    n = len(r.src)
    src, dst = r.src.astype(np.int64), r.dst.astype(np.int64)
    way = r.ways.of_edge
    hint = [int(e) for e in hint]
    hint_pairs = set(zip(hint, hint[1:] + hint[:1], strict=True))
    hint_ways = np.bincount(way[hint], minlength=len(r.ways.a)) if hint else None
    length = np.round(r.length).astype(np.int64)
    m = cp_model.CpModel()
    x = [m.NewBoolVar(f"x{e}") for e in range(n)]
    arcs: list[tuple[int, int, Any]] = [(e, e, x[e].Not()) for e in range(n)]
    turn_lits = []
    order = np.argsort(src, kind="stable")
    first = np.searchsorted(src[order], np.arange(r.n_nodes + 1))
    arc_in: list[int] = []
    arc_out: list[int] = []
    for e1 in range(n):
        for e2 in order[first[dst[e1]]:first[dst[e1] + 1]].tolist():
            if way[e2] == way[e1] and (e1, e2) not in hint_pairs:
                continue  # no turning back but where the hint does
            arc_in.append(e1)
            arc_out.append(e2)
    turning = r.turn_angle_deg(np.asarray(arc_in), np.asarray(arc_out)) > TURN_ANGLE_DEG
    y = []
    for k, (e1, e2) in enumerate(zip(arc_in, arc_out, strict=True)):
        lit = m.NewBoolVar(f"y{k}")
        y.append(lit)
        arcs.append((e1, e2, lit))
        if turning[k]:
            turn_lits.append(lit)
    m.AddCircuit(arcs)
    by_way: dict[int, list[int]] = {}
    for e in range(n):
        by_way.setdefault(int(way[e]), []).append(e)
    for w, es in by_way.items():
        if len(es) > 1 and not (hint_ways is not None and hint_ways[w] > 1):
            m.Add(sum(x[e] for e in es) <= 1)
    if partners is not None:
        for w1, w2 in zip(partners[0].tolist(), partners[1].tolist(), strict=True):
            if hint_ways is not None and hint_ways[w1] and hint_ways[w2]:
                continue
            m.Add(sum(x[e] for e in by_way.get(w1, []) + by_way.get(w2, [])) <= 1)
    total = sum(int(length[e]) * x[e] for e in range(n))
    if hint:
        tol_m = max(tol_m, abs(float(r.length[hint].sum()) - target_m))
    m.Add(total >= int(np.floor(target_m - tol_m)))
    m.Add(total <= int(np.ceil(target_m + tol_m)))
    for s in dict.fromkeys(stops):
        m.AddBoolOr([x[e] for e in order[first[s]:first[s + 1]].tolist()])
    if objective == "score":
        cost = np.round(weights).astype(np.int64)
        m.Minimize(sum(int(cost[e]) * x[e] for e in range(n))
                   + int(TURN_M) * sum(turn_lits))
    else:
        main = np.asarray([c == "main" for c in r.way_class])
        if hint:  # never less than the hint rides: it must stay a solution
            main_cap = max(main_cap, float(r.length[hint][main[hint]].sum())
                           / float(r.length[hint].sum()))
        m.Add(1000 * sum(int(length[e]) * x[e] for e in np.nonzero(main)[0].tolist())
              <= int(np.ceil(1000 * main_cap)) * total)
        m.Minimize(sum(turn_lits))
    if hint:
        in_hint = set(hint)
        for e in range(n):
            m.AddHint(x[e], e in in_hint)
        for k, (e1, e2) in enumerate(zip(arc_in, arc_out, strict=True)):
            m.AddHint(y[k], (e1, e2) in hint_pairs)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = workers
    t0 = time.perf_counter()
    status = solver.Solve(m)
    out = Solution(solver.StatusName(status), seconds=time.perf_counter() - t0)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return out
    succ = {arc_in[k]: arc_out[k] for k in range(len(y)) if solver.Value(y[k])}
    e0 = next(e for e in order[first[stops[0]]:first[stops[0] + 1]].tolist()
              if solver.Value(x[e]))
    edges = [e0]
    while succ[edges[-1]] != e0:
        edges.append(succ[edges[-1]])
    out.edges = edges
    out.objective = solver.ObjectiveValue()
    out.bound = solver.BestObjectiveBound()
    return out


def measure(net: Network, planner: Any, places: Any, edges: list[int],
            target_m: float) -> dict[str, float]:
    """A loop's figures, measured as the planner measures its own."""
    cand = planner_module._Candidate(edges, "reference", length_m=planner.length(edges))
    loop = planner_module._make_loop(net, planner, cand, places, target_m)
    shares = loop.way_class_share()
    return {"km": loop.length_m / 1000.0, "turns_per_km": loop.turns_per_km,
            "main": shares.get("main", 0.0), "quiet": shares.get("quiet", 0.0),
            "repeated": loop.overlap_ratio,
            "score": planner_module._score(net, planner, edges, target_m)}


def run(extract: str, kinds: Sequence[str], seconds: float, objective: str,
        n_requests: int, out_csv: Path | None) -> list[dict[str, Any]]:
    """Plan each request, solve it, print and return both loops' figures."""
    info = bench.load_extract(bench._extract_path(extract), bench.OUT / "cache")
    net = info.net
    r = net.router
    partners = planner_module._way_partners(r, net.alongside)
    rows: list[dict[str, Any]] = []
    for req in bench.make_requests(info, n_requests, 1):
        if req.kind not in kinds:
            continue
        loop = bench._plan(net, req)[0]
        stops = [int(r.index[s.place.node]) for s in loop.stops]
        edges = r.edges_between(np.asarray([r.index[u] for u, _, _ in loop.edges]),
                                np.asarray([r.index[v] for _, v, _ in loop.edges])).tolist()
        target_m = req.target_km * 1000.0
        tol_m = max(min(0.002 * target_m, 100.0), 15.0)  # as plan_loops
        planner = planner_module._Planner(r, r.cost, tol_m, alongside=partners)
        places = [s.place for s in loop.stops]
        sol = solve_loop(r, r.cost, stops, target_m, tol_m, edges, seconds=seconds,
                         objective=objective, partners=partners)
        row: dict[str, Any] = {"index": req.index, "kind": req.kind,
                               "target_km": req.target_km, "status": sol.status,
                               "solve_s": round(sol.seconds, 1)}
        row.update({f"planned_{k}": v for k, v in
                    measure(net, planner, places, edges, target_m).items()})
        if sol.edges:
            row.update({f"cp_{k}": v for k, v in
                        measure(net, planner, places, sol.edges, target_m).items()})
        rows.append(row)
        _print_row(row)
    _print_summary(rows)
    if out_csv is not None:
        with out_csv.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=sorted({k for row in rows for k in row}))
            writer.writeheader()
            writer.writerows(rows)
    return rows


def _print_row(row: dict[str, Any]) -> None:
    def fig(p: str) -> str:
        if f"{p}_km" not in row:
            return "-"
        return (f"{row[f'{p}_km']:.2f} km, {row[f'{p}_turns_per_km']:.2f} turns/km, "
                f"main {100 * row[f'{p}_main']:.1f} %, "
                f"repeated {100 * row[f'{p}_repeated']:.1f} %, "
                f"score {row[f'{p}_score']:.3f}")
    print(f"#{row['index']} {row['kind']} {row['target_km']:g} km | ringroute {fig('planned')} "
          f"| CP-SAT ({row['status']}, {row['solve_s']} s) {fig('cp')}", flush=True)


def _print_summary(rows: Sequence[dict[str, Any]]) -> None:
    both = [row for row in rows if "cp_km" in row]
    if not both:
        print("no request solved")
        return
    def med(key: str) -> float:
        return statistics.median(row[key] for row in both)
    print(f"{len(both)} of {len(rows)} requests solved; medians, ringroute -> CP-SAT:")
    for key, unit, scale in (("turns_per_km", "", 1.0), ("main", " %", 100.0),
                             ("score", "", 1.0)):
        print(f"  {key}: {scale * med('planned_' + key):.2f}{unit} -> "
              f"{scale * med('cp_' + key):.2f}{unit}")
    gain = statistics.median(1 - row["cp_score"] / row["planned_score"] for row in both)
    print(f"  score lower by {100 * gain:.1f} % (median)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--extract", default="tsukuba-science-city")
    ap.add_argument("--kinds", nargs="*", default=["probe50x4"],
                    help="request kinds of bench/loops.py (probe50x4, long, random)")
    ap.add_argument("--seconds", type=float, default=60.0, help="solver limit per request")
    ap.add_argument("--objective", choices=("score", "turns"), default="score")
    ap.add_argument("--requests", type=int, default=30, help="as bench/loops.py --requests")
    ap.add_argument("--csv", type=Path, default=None)
    args = ap.parse_args(argv)
    run(args.extract, args.kinds, args.seconds, args.objective, args.requests, args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
