"""Benchmark of the loop planner on real extracts and synthetic cities.

For every shared OSM extract and every synthetic size the benchmark loads the
network (cold parse + build, and from the prepared-graph cache), builds the
router, then plans many random requests and reports quality and speed:

* requests planned / refused (refusal reasons counted), errors and timeouts;
* |length error|, repeated share, share of loops passing every requested stop,
  turns/km, share per way class (``main`` = trunk/primary/secondary without a
  cycle track), planning time (median, p95);
* the median time of a 50 km loop through 4 sights, of one run and of the best of 3
  runs of each request (the same loop each time);
* for the extracts, the 50 km / 4-sight requests again with 3 alternatives, and once
  more at 1.05 times the shortest loop through their sights (pairwise shared length
  counted by corridor: a way and the ways alongside it);
* for the extracts, Routino's shortest loop through the same sights in the same
  order (see ``routino_peer.py``) side by side, and the ratio of turns/km;
* the log-log slope of planning time against node count over the synthetic sizes.

Requests: a random start node inside the central 80 % of the network's node box,
0–5 sights drawn from that box within ``0.12 × target`` of the start (so that the
shortest tour through them usually fits the target), targets log-uniform from
3 km up to what the network holds (``min(100 km, 30 % of its way length)``);
Tsukuba Science City adds 50 km targets, Heidelberg 30–80 km loops through 4–5
sights, and every network gets "50 km through 4 sights" probes. Results go to ``bench/out/`` as CSV.

Usage::

    python bench/loops.py --quick
    python bench/loops.py --requests 30 --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import csv
import gc
import math
import os
import signal
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import pairwise
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

import routino_peer
from ringroute._bike import WAY_CLASSES
from ringroute._mapmatch import match_track
from ringroute._router import Router
from ringroute.compare import measure_path
from ringroute.errors import DisconnectedSightsError, InfeasibleLoopError, InputError
from ringroute.loop import Loop, plan_loops, shortest_loop_m
from ringroute.network import Network, network_from_file
from ringroute.settings import Settings
from ringroute.sights import Place, SnappedPlace, snap
from routino_peer import PeerRoute, RoutinoDB
from synth import network_km, synth_network

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
SHARED = Path(os.environ.get("RINGROUTE_SHARED", ROOT.parent / "shared"))
OSM_DIR = SHARED / "data" / "osm"
DEFAULT_EXTRACTS = ("tsukuba-science-city", "tsukuba-university", "heidelberg")
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
TOLERANCE = 0.05
MIN_KM = 3.0
TURN_RATIO_TARGET = 1.2
#: loops asked for when the 50 km / 4-sight requests of an extract are planned again
ALTERNATIVES = 3
#: ... and planned again once more, for this many times the shortest loop through
#: their sights: just above it, where any other loop must be nearly as short
NEAR_SHORTEST = 1.05
#: the 50 km / 4-sight requests are timed this many times (the best counts too): one
#: run on a shared virtual machine varies by a fifth from run to run
PROBE_RUNS = 3
#: Sights lie within this share of the target of the start (straight line), so that
#: the shortest tour through up to 5 of them usually fits the target.
SIGHT_RADIUS = 0.12


# ------------------------------------------------------------------ data types
@dataclass
class NetInfo:
    """A loaded network and how long loading took."""

    name: str
    kind: str  # "extract" or "synthetic"
    net: Network
    cold_s: float
    cold_detail: str
    cached_s: float | None
    router_s: float
    km: float
    osm_file: Path | None = None
    core_s: float | None = None
    nodes: int = 0
    edges: int = 0

    def __post_init__(self) -> None:
        self.nodes = int(self.net.graph.number_of_nodes())
        self.edges = int(self.net.graph.number_of_edges())


@dataclass(frozen=True)
class Request:
    """One planning request: start and sight node ids, target."""

    network: str
    index: int
    kind: str  # "random", "long", "probe50x4"
    start: int
    sights: tuple[int, ...]
    target_km: float


@dataclass
class Result:
    """Outcome and metrics of one request (plus the Routino peer's metrics)."""

    req: Request
    status: str = ""  # planned, refused, error, timeout
    reason: str = ""
    seconds: float = math.nan
    #: for the 50 km / 4-sight requests: the fastest of :data:`PROBE_RUNS` runs
    best_s: float = math.nan
    length_m: float = math.nan
    abs_err: float = math.nan
    repeated: float = math.nan
    forced: float = math.nan
    repeated_geom: float = math.nan
    passes_all: bool | None = None
    closed: bool | None = None
    turns_per_km: float = math.nan
    class_share: dict[str, float] = field(default_factory=dict)
    visit_order: tuple[int, ...] = ()
    peer: PeerRoute | None = None
    #: way-class shares of the Routino loop, map-matched onto ringroute's network
    peer_class_share: dict[str, float] = field(default_factory=dict)
    peer_matched: float = math.nan

    def row(self) -> dict[str, Any]:
        """Flat CSV row."""
        r = self.req
        p = self.peer
        row: dict[str, Any] = {
            "network": r.network, "index": r.index, "kind": r.kind, "start": r.start,
            "sights": " ".join(map(str, r.sights)), "n_sights": len(r.sights),
            "target_km": round(r.target_km, 3), "status": self.status, "reason": self.reason,
            "seconds": _r(self.seconds, 4), "best_of_runs_s": _r(self.best_s, 4),
            "length_m": _r(self.length_m, 1),
            "abs_length_error": _r(self.abs_err, 6), "repeated_share": _r(self.repeated, 5),
            "forced_repeated_share": _r(self.forced, 5),
            "repeated_share_geometric": _r(self.repeated_geom, 5),
            "passes_all_stops": self.passes_all, "closed": self.closed,
            "turns_per_km": _r(self.turns_per_km, 4),
            "visit_order": " ".join(map(str, self.visit_order)),
        }
        for c in WAY_CLASSES:
            row[f"share_{c}"] = _r(self.class_share.get(c, math.nan), 5)
        row.update({
            "routino_error": p.error if p else "",
            "routino_length_m": _r(p.length_m, 1) if p else "",
            "routino_repeated_share_geometric": _r(p.repeated_share, 5) if p else "",
            "routino_turns_per_km": _r(p.turns_per_km, 4) if p else "",
            "routino_seconds": _r(p.seconds, 4) if p else "",
            "routino_mode": p.mode if p else "",
            "routino_matched_share": _r(self.peer_matched, 4),
        })
        for c in WAY_CLASSES:
            row[f"routino_share_{c}"] = _r(self.peer_class_share.get(c, math.nan), 5)
        return row


def _r(x: float, nd: int) -> float | str:
    return "" if x is None or not math.isfinite(x) else round(float(x), nd)


# ------------------------------------------------------------------ helpers
def log(msg: str) -> None:
    """Progress line on stderr."""
    print(msg, file=sys.stderr, flush=True)


class PlanTimeoutError(Exception):
    """The planner exceeded the per-request time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`PlanTimeoutError` in the main thread after ``seconds`` (SIGALRM)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise PlanTimeoutError

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def quantiles(values: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile of the finite values (NaN if none)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) == 0:
        return math.nan, math.nan
    return float(np.median(v)), float(np.percentile(v, 95))


def fmt(x: float | None, spec: str = ".2f", unit: str = "") -> str:
    """Format a number, ``–`` for NaN/None."""
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:{spec}}{unit}"


def pct(x: float | None, nd: int = 1) -> str:
    """Format a share as per cent."""
    return fmt(None if x is None else 100 * x, f".{nd}f", " %")


def refusal_reason(exc: InputError) -> str:
    """Short category of a refusal message."""
    msg = str(exc)
    if isinstance(exc, DisconnectedSightsError):
        return "sights not connected"
    if isinstance(exc, InfeasibleLoopError):
        for needle, label in (
            ("too short", "target below shortest loop through sights"),
            ("rides no way twice", "target above what the ways can hold"),
            ("too long for this network", "target above longest loop found"),
            ("no loop within", "no loop within tolerance"),
            ("dead end", "start in a dead end"),
            ("too small", "network around start too small"),
        ):
            if needle in msg:
                return label
    return f"{type(exc).__name__}: {msg[:60]}"


# ------------------------------------------------------------ network supply
#: a straight run goes on through a junction where it turns by less than this (°),
#: the angle from which the quality target counts a turn
RUN_TURN_DEG = 50.0


def straight_runs_m(router: Router) -> np.ndarray:
    """Lengths (m) of the network's straight runs off main roads.

    A run chains ways -- not main roads, and without bends of their own -- through
    junctions where it turns by less than :data:`RUN_TURN_DEG`; at each junction the
    straightest pairs of ways are chained first, each way end once. A loop that turns
    at most twice per km rides 500 m between turns on average: the kilometres of runs
    of 500 m and more tell how much of it the network can offer such stretches.
    """
    r = router
    ways = r.ways
    n_ways = len(ways.a)
    skip = np.zeros(n_ways, dtype=bool)
    skip[ways.of_edge[np.asarray([c == "main" for c in r.way_class], dtype=bool)]] = True
    skip[ways.of_edge[r.bends > 0]] = True
    # the ends of each way (2k: at node a, 2k + 1: at b), heading away from the node
    node = np.column_stack([ways.a, ways.b]).ravel()
    head = np.column_stack([ways.leave_a, ways.leave_b]).ravel()
    ends = np.nonzero(~skip[np.arange(2 * n_ways) // 2])[0]
    ends = ends[np.argsort(node[ends], kind="stable")]
    pairs_i: list[np.ndarray] = []
    pairs_j: list[np.ndarray] = []
    for off in range(1, 12):  # every pair of ends at one node (degree < 13)
        i, j = ends[:-off], ends[off:]
        same = (node[i] == node[j]) & (i // 2 != j // 2)
        pairs_i.append(i[same])
        pairs_j.append(j[same])
    i, j = np.concatenate(pairs_i), np.concatenate(pairs_j)
    # leaving in opposite directions is straight on
    bend = 180.0 - np.abs((head[i] - head[j] + 180.0) % 360.0 - 180.0)
    keep = bend < RUN_TURN_DEG
    i, j, bend = i[keep], j[keep], bend[keep]
    taken = np.zeros(2 * n_ways, dtype=bool)
    link_a: list[int] = []
    link_b: list[int] = []
    for k in np.argsort(bend, kind="stable").tolist():  # greedy: straightest first
        x, y = int(i[k]), int(j[k])
        if not (taken[x] or taken[y]):
            taken[x] = taken[y] = True
            link_a.append(x // 2)
            link_b.append(y // 2)
    graph = coo_array((np.ones(len(link_a)), (link_a, link_b)), shape=(n_ways, n_ways))
    _, label = connected_components(graph, directed=False)
    runs = np.bincount(label[~skip], weights=ways.length_m[~skip])
    return runs[runs > 0]


# ------------------------------------------------------------------ loading
def load_extract(path: Path, cache_dir: Path) -> NetInfo:
    """Load an extract cold (parse + build) and from the prepared-graph cache."""
    cached_settings = Settings(cache_dir=cache_dir)
    net = network_from_file(path, settings=cached_settings)
    if net.from_cache:
        cached_s: float | None = net.timings_s.get("cache_load")
        with tempfile.TemporaryDirectory() as tmp:
            cold = network_from_file(path, settings=Settings(cache_dir=Path(tmp), use_cache=False))
        timings = cold.timings_s
        del cold
    else:
        timings = net.timings_s
        net = network_from_file(path, settings=cached_settings)
        cached_s = net.timings_s.get("cache_load")
    cold_s = timings.get("parse", 0.0) + timings.get("build", 0.0)
    detail = f"parse {timings.get('parse', 0.0):.2f} s + build {timings.get('build', 0.0):.2f} s"
    router_s, core_s = build_router(net)
    name = path.name.split(".")[0]
    return NetInfo(name, "extract", net, cold_s, detail, cached_s, router_s,
                   net.total_length_m / 1000.0, osm_file=path, core_s=core_s)


def load_synthetic(n: int, seed: int) -> NetInfo:
    """Generate a synthetic network and build its router."""
    net = synth_network(n, seed=seed)
    gen_s = net.timings_s["generate"]
    router_s, core_s = build_router(net)
    return NetInfo(f"synth-{n // 1000}k", "synthetic", net, gen_s, "generated", None, router_s,
                   network_km(net.graph), core_s=core_s)


def build_router(net: Network) -> tuple[float, float | None]:
    """Seconds to build ``net.router`` and, where they exist, its lazy parts.

    The planner computes ``Router.core`` (the 2-edge-connected part), the bound on
    what a loop rides once in each part (``Router.part_trail_m``) and
    ``Network.alongside`` (ways alongside each other) on first use, and loads its
    compiled searches (``ringroute._search``) on the first search in a process;
    timing them here keeps those one-off costs out of the first request's planning
    time.
    """
    t0 = time.perf_counter()
    router = net.router
    router_s = time.perf_counter() - t0
    if not hasattr(type(router), "core"):
        return router_s, None
    t0 = time.perf_counter()
    _ = router.core
    if hasattr(type(router), "part_trail_m"):
        _ = router.part_trail_m
    if hasattr(type(net), "alongside"):
        _ = net.alongside
    try:
        from ringroute._search import warm_up  # not in versions before the compiled searches
    except ImportError:
        pass
    else:
        warm_up()
    return router_s, time.perf_counter() - t0


# ------------------------------------------------------------------ requests
def _central_nodes(net: Network) -> np.ndarray:
    r = net.router
    lat0, lat1 = float(r.lat.min()), float(r.lat.max())
    lon0, lon1 = float(r.lon.min()), float(r.lon.max())
    dl, dn = 0.1 * (lat1 - lat0), 0.1 * (lon1 - lon0)
    inside = ((r.lat >= lat0 + dl) & (r.lat <= lat1 - dl)
              & (r.lon >= lon0 + dn) & (r.lon <= lon1 - dn))
    return np.nonzero(inside)[0]


def _pick_sights(net: Network, central: np.ndarray, start: int, k: int, target_km: float,
                 rng: np.random.Generator) -> tuple[int, ...]:
    """``k`` distinct central nodes (router indices) within reach of ``start``."""
    if k == 0:
        return ()
    r = net.router
    d = np.hypot(r.xm[central] - r.xm[start], r.ym[central] - r.ym[start])
    radius = SIGHT_RADIUS * target_km * 1000.0
    pool = central[(d <= radius) & (central != start)]
    if len(pool) >= k:
        return tuple(int(i) for i in rng.choice(pool, size=k, replace=False))
    nearest = central[np.argsort(d)]
    nearest = nearest[nearest != start][:k]
    return tuple(int(i) for i in nearest)


def make_requests(info: NetInfo, n: int, seed: int) -> list[Request]:
    """The request mix of one network (deterministic for a seed and network name)."""
    rng = np.random.default_rng([seed, zlib.crc32(info.name.encode())])
    net = info.net
    r = net.router
    central = _central_nodes(net)
    max_km = max(MIN_KM + 2.0, min(100.0, 0.3 * info.km))
    n_probe = min(n, max(2, round(n / 5)))
    out: list[Request] = []
    for i in range(n):
        if i < n_probe:
            kind, target, k = "probe50x4", 50.0, 4
        elif info.name == "heidelberg" and i % 2 == 0:
            kind, target, k = "long", float(rng.uniform(30.0, 80.0)), int(rng.integers(4, 6))
        elif info.name == "tsukuba-science-city" and i % 3 == 0:
            kind, target, k = "long", 50.0, int(rng.integers(0, 6))
        else:
            kind = "random"
            target = float(math.exp(rng.uniform(math.log(MIN_KM), math.log(max_km))))
            k = int(rng.integers(0, 6))
        start = int(rng.choice(central))
        sights = _pick_sights(net, central, start, k, target, rng)
        ids = r.node_ids
        # the drawn positions enter as a user's "lat,lon" would: snapped by the CLI's rule
        # (a node on a dead-end spur gives way to a loop-able one within 100 m)
        start_id = _as_user_would(net, int(ids[start]))
        sight_ids = tuple(dict.fromkeys(
            s for s in (_as_user_would(net, int(ids[x])) for x in sights) if s != start_id))
        out.append(Request(info.name, i, kind, start_id, sight_ids, round(target, 2)))
    return out


def _as_user_would(net: Network, node: int) -> int:
    g = net.graph.nodes[node]
    place = Place(key=f"n{node}", lat=float(g["y"]), lon=float(g["x"]))
    return snap(place, net, max_snap_m=500.0).node


# ------------------------------------------------------------------ running
def _snapped(net: Network, node: int) -> SnappedPlace:
    g = net.graph.nodes[node]
    lat, lon = float(g["y"]), float(g["x"])
    return SnappedPlace(place=Place(key=f"n{node}", lat=lat, lon=lon), node=node, snap_m=0.0)


def _check_loop(loop: Loop, stops: Sequence[int]) -> tuple[bool, bool]:
    """(passes every stop node, edges form one closed walk from the start)."""
    on_route = {u for u, _, _ in loop.edges} | {v for _, v, _ in loop.edges}
    passes = all(s in on_route for s in stops)
    e = loop.edges
    closed = bool(e) and e[0][0] == stops[0] and e[-1][1] == stops[0] and all(
        a[1] == b[0] for a, b in pairwise(e))
    return passes, closed


def _plan(net: Network, req: Request, *, alternatives: int = 1,
          target_km: float | None = None) -> list[Loop]:
    """Plan ``req`` on ``net`` as the bench does (for ``target_km``, default the request's)."""
    return plan_loops(net, _snapped(net, req.start), [_snapped(net, s) for s in req.sights],
                      target_km=req.target_km if target_km is None else target_km,
                      tolerance=TOLERANCE, alternatives=alternatives, seed=req.index)


def run_request(info: NetInfo, req: Request, timeout_s: float,
                failures: list[str]) -> Result:
    """Plan one request and measure the loop."""
    net = info.net
    res = Result(req)
    t0 = time.perf_counter()
    try:
        with time_limit(timeout_s):
            loops = _plan(net, req)
    except PlanTimeoutError:
        res.status, res.reason = "timeout", f"over {timeout_s:.0f} s"
        failures.append(_repro(req, f"timeout after {timeout_s:.0f} s"))
    except InputError as exc:
        res.status, res.reason = "refused", refusal_reason(exc)
    except Exception as exc:  # noqa: BLE001 - a planner crash is a finding, not fatal
        res.status, res.reason = "error", f"{type(exc).__name__}: {str(exc)[:120]}"
        failures.append(_repro(req, traceback.format_exc()))
    res.seconds = time.perf_counter() - t0
    if res.status:
        return res
    if not loops:
        res.status, res.reason = "error", "plan_loops returned no loop"
        failures.append(_repro(req, res.reason))
        return res
    loop = loops[0]
    res.status = "planned"
    res.length_m = loop.length_m
    res.abs_err = abs(loop.length_m - loop.target_m) / loop.target_m
    res.repeated = loop.overlap_ratio
    res.forced = loop.forced_overlap_ratio
    res.repeated_geom = routino_peer.geometric_repeated_share(loop.lat, loop.lon)
    res.turns_per_km = loop.turns_per_km
    res.class_share = loop.way_class_share()
    stops = [req.start, *dict.fromkeys(s for s in req.sights if s != req.start)]
    res.passes_all, res.closed = _check_loop(loop, stops)
    res.visit_order = tuple(s.place.node for s in loop.stops)
    problems = []
    if not res.passes_all:
        missing = [s for s in stops if s not in {u for u, _, _ in loop.edges}]
        problems.append(f"loop misses stop nodes {missing}")
    if not res.closed:
        problems.append("edges do not form a closed walk from the start")
    if res.abs_err > TOLERANCE:
        problems.append(f"length error {res.abs_err:.1%} above tolerance {TOLERANCE:.0%}")
    if problems:
        failures.append(_repro(req, "; ".join(problems)))
    return res


def time_again(info: NetInfo, res: Result, failures: list[str]) -> None:
    """Plan a planned request :data:`PROBE_RUNS` − 1 times more: the fastest run.

    Each run must give the same loop (length and turns); one that does not is a
    failure (planning is seeded, so results are reproducible).
    """
    req = res.req
    best = res.seconds
    for _ in range(PROBE_RUNS - 1):
        t0 = time.perf_counter()
        loop = _plan(info.net, req)[0]
        best = min(best, time.perf_counter() - t0)
        if (loop.length_m, loop.turns_per_km) != (res.length_m, res.turns_per_km):
            failures.append(_repro(req, f"planned again: {loop.length_m:.1f} m, "
                                        f"{loop.turns_per_km:.3f} turns/km instead of "
                                        f"{res.length_m:.1f} m, {res.turns_per_km:.3f}"))
    res.best_s = best


@dataclass(frozen=True)
class AltResult:
    """Outcome of one ``--alternatives`` request (see :func:`run_alternatives`)."""

    req: Request
    found: int
    #: largest share of a loop's length on ways another loop of the set rides
    shared_max: float
    #: largest repeated share and length error among the loops
    repeated_max: float
    abs_err_max: float
    seconds: float


def _shared_share(net: Network, a: Loop, b: Loop) -> float:
    """Share of the shorter loop's length in the other's corridor.

    A way is in a loop's corridor if the loop rides it (either direction) or a way it
    runs alongside (``Network.alongside``: a road and the cycle track beside it, two
    carriageways). Each loop's shared length is measured on its own ways; the larger
    counts.
    """
    g = net.graph

    def on_other(x: Loop, y: Loop) -> float:
        rides = {(min(u, v), max(u, v)) for u, v, _ in y.edges}
        return sum(float(g.edges[u, v, k]["length_m"]) for u, v, k in x.edges
                   if (key := (min(u, v), max(u, v))) in rides
                   or not rides.isdisjoint(net.alongside.get(key, ())))

    return max(on_other(a, b), on_other(b, a)) / min(a.length_m, b.length_m)


def run_alternatives(info: NetInfo, req: Request, n: int, *, target_km: float | None = None
                     ) -> AltResult | None:
    """Plan ``req`` with ``n`` alternatives (for ``target_km``, default the request's);
    ``None`` if it is refused."""
    net = info.net
    t0 = time.perf_counter()
    try:
        loops = _plan(net, req, alternatives=n, target_km=target_km)
    except InputError:
        return None
    seconds = time.perf_counter() - t0
    shared = [_shared_share(net, a, b) for i, a in enumerate(loops) for b in loops[i + 1:]]
    return AltResult(req, len(loops), max(shared, default=0.0),
                     max(lp.overlap_ratio for lp in loops),
                     max(abs(lp.length_m - lp.target_m) / lp.target_m for lp in loops), seconds)


def _repro(req: Request, what: str) -> str:
    return (f"network={req.network} request={req.index} kind={req.kind} start={req.start} "
            f"sights={list(req.sights)} target_km={req.target_km} seed={req.index}\n"
            f"  {what.strip()}")


def run_peer(db: RoutinoDB, info: NetInfo, res: Result) -> None:
    """Route Routino's shortest loop through ringroute's stops in ringroute's order."""
    if res.status != "planned" or len(res.visit_order) < 2:
        return
    g = info.net.graph
    pts = [(float(g.nodes[n]["y"]), float(g.nodes[n]["x"])) for n in res.visit_order]
    res.peer = routino_peer.route_loop(db, pts, keep_track=True)
    peer = res.peer
    if peer.error is None and peer.lat:
        # the reference loop's way classes, by matching its track onto the same graph
        lat, lon = np.asarray(peer.lat), np.asarray(peer.lon)
        path = match_track(info.net, lat, lon, np.zeros(len(lat), dtype=np.int64))
        if path.runs:
            m = measure_path(info.net, path, name="routino", source="routino")
            total = sum(m.way_class_m.values()) or 1.0
            res.peer_class_share = {c: v / total for c, v in m.way_class_m.items()}
            res.peer_matched = m.matched_share
    peer.lat = peer.lon = None  # the track is not kept for the report


# ------------------------------------------------------------------ reporting
@dataclass
class Summary:
    """Per-network aggregate."""

    info: NetInfo
    results: list[Result]
    routino_build_s: float | None = None
    #: km of straight runs off main roads at least 500 m and 1 km long
    #: (see :func:`straight_runs_m`)
    runs_km: dict[int, float] = field(default_factory=dict)
    #: the 50 km / 4-sight requests planned again with :data:`ALTERNATIVES` loops
    alts: list[AltResult] = field(default_factory=list)
    #: ... and for :data:`NEAR_SHORTEST` times the shortest loop through their sights
    alts_near: list[AltResult] = field(default_factory=list)

    def planned(self) -> list[Result]:
        """Results with a loop."""
        return [r for r in self.results if r.status == "planned"]

    def stats(self) -> dict[str, float]:
        """Aggregate numbers (NaN where there is nothing to aggregate)."""
        p = self.planned()
        out: dict[str, float] = {}
        for name, vals in (
            ("abs_length_error", [r.abs_err for r in p]),
            ("repeated_share", [r.repeated for r in p]),
            ("avoidable_repeated_share", [avoidable(r) for r in p]),
            ("repeated_share_geometric", [r.repeated_geom for r in p]),
            ("turns_per_km", [r.turns_per_km for r in p]),
            ("plan_s", [r.seconds for r in p]),
            ("probe50x4_s", [r.seconds for r in p if r.req.kind == "probe50x4"]),
            ("probe50x4_best_s", [r.best_s for r in p if r.req.kind == "probe50x4"]),
        ):
            out[f"{name}_median"], out[f"{name}_p95"] = quantiles(vals)
        out["passes_all_share"] = (float(np.mean([bool(r.passes_all) for r in p])) if p
                                   else math.nan)
        for c in WAY_CLASSES:
            vals = [r.class_share.get(c, 0.0) for r in p]
            out[f"share_{c}_median"] = quantiles(vals)[0]
            out[f"share_{c}_mean"] = float(np.mean(vals)) if vals else math.nan
        peers = [r for r in p if r.peer is not None and r.peer.error is None]
        out["routino_routes"] = float(len(peers))
        for name, a in (("alternatives", self.alts), ("alternatives_near", self.alts_near)):
            out[f"{name}_requests"] = float(len(a))
            out[f"{name}_all_found"] = float(sum(x.found == ALTERNATIVES for x in a))
            out[f"{name}_loops"] = float(sum(x.found for x in a))
            out[f"{name}_shared_max"] = max((x.shared_max for x in a), default=math.nan)
            out[f"{name}_repeated_max"] = max((x.repeated_max for x in a), default=math.nan)
            out[f"{name}_s_median"] = quantiles([x.seconds for x in a])[0]
            out[f"{name}_s_max"] = max((x.seconds for x in a), default=math.nan)
        out["turns_ratio_median"], out["turns_ratio_of_medians"] = turn_ratio(peers)
        return out

    def row(self) -> dict[str, Any]:
        """Flat CSV row of the aggregate."""
        i = self.info
        row: dict[str, Any] = {
            "network": i.name, "kind": i.kind, "nodes": i.nodes, "edges": i.edges,
            "km": round(i.km, 1), "load_cold_s": round(i.cold_s, 3),
            "load_cached_s": "" if i.cached_s is None else round(i.cached_s, 3),
            "router_s": round(i.router_s, 3),
            "router_core_s": "" if i.core_s is None else round(i.core_s, 3),
            "straight_runs_500m_km": _r(self.runs_km.get(500, math.nan), 1),
            "straight_runs_1km_km": _r(self.runs_km.get(1000, math.nan), 1),
            "requests": len(self.results),
            "planned": len(self.planned()),
            "refused": sum(r.status == "refused" for r in self.results),
            "errors": sum(r.status == "error" for r in self.results),
            "timeouts": sum(r.status == "timeout" for r in self.results),
            "routino_build_s": "" if self.routino_build_s is None
            else round(self.routino_build_s, 3),
        }
        row.update({k: _r(v, 5) for k, v in self.stats().items()})
        return row


def avoidable(r: Result) -> float:
    """Repeated share beyond what any loop of its length through its stops repeats.

    Every closed walk through a stop at the end of a dead end rides the spur twice,
    and a walk longer than the ways near its stops hold also rides the single links
    to farther parts there and back, or the near ways twice:
    :attr:`ringroute.loop.Loop.forced_overlap_ratio` is that lower bound.
    """
    return max(0.0, r.repeated - r.forced)


def turn_ratio(peers: Sequence[Result]) -> tuple[float, float]:
    """Median of per-request ratios and ratio of medians of turns/km (ringroute / Routino)."""
    per = [r.turns_per_km / r.peer.turns_per_km for r in peers
           if r.peer is not None and r.peer.turns_per_km > 0]
    med_rr = quantiles([r.turns_per_km for r in peers])[0]
    med_pe = quantiles([r.peer.turns_per_km for r in peers if r.peer is not None])[0]
    of_medians = med_rr / med_pe if med_pe and math.isfinite(med_pe) and med_pe > 0 else math.nan
    return quantiles(per)[0], of_medians


def print_network(s: Summary) -> None:
    """Print the table of one network."""
    i = s.info
    res = s.results
    p = s.planned()
    print()
    print(f"== {i.name} ({i.kind}): {i.nodes:,} nodes, {i.edges:,} directed edges, "
          f"{i.km:,.0f} km of ways")
    cached = "n/a" if i.cached_s is None else f"{i.cached_s:.2f} s"
    what = "generate" if i.kind == "synthetic" else "cold"
    core = ("" if i.core_s is None
            else f" (+ lazy core, trail bounds, ways alongside and compiled searches "
                  f"{i.core_s:.2f} s)")
    print(f"   load: {what} {i.cold_s:.2f} s ({i.cold_detail}); cached {cached}; "
          f"router build {i.router_s:.2f} s{core}")
    if s.runs_km:
        print(f"   straight runs off main roads (no turn > {RUN_TURN_DEG:g}°): "
              + ", ".join(f"≥ {m:g} m {km:,.0f} km" for m, km in s.runs_km.items())
              + " (a loop of ≤ 2 turns/km rides ≥ 500 m between turns on average)")
    n_ref = sum(r.status == "refused" for r in res)
    n_err = sum(r.status == "error" for r in res)
    n_to = sum(r.status == "timeout" for r in res)
    print(f"   requests {len(res)}: planned {len(p)}, refused {n_ref}, errors {n_err}, "
          f"timeouts {n_to}")
    reasons = Counter(r.reason for r in res if r.status != "planned")
    for reason, count in reasons.most_common():
        print(f"     {count:3d} × {reason}")
    if not p:
        return
    rows: list[tuple[str, str, str]] = []

    def add(label: str, vals: Sequence[float], f: Callable[[float], str]) -> None:
        med, p95 = quantiles(vals)
        rows.append((label, f(med), f(p95)))

    add("|length error|", [r.abs_err for r in p], lambda x: pct(x, 2))
    add("repeated share", [r.repeated for r in p], lambda x: pct(x, 1))
    add("  unavoidable at its length", [r.forced for r in p], lambda x: pct(x, 1))
    add("  avoidable (repeated − that)", [avoidable(r) for r in p], lambda x: pct(x, 1))
    add("repeated share (geometric)", [r.repeated_geom for r in p], lambda x: pct(x, 1))
    add("turns/km", [r.turns_per_km for r in p], lambda x: fmt(x, ".2f"))
    add("planning time", [r.seconds for r in p], lambda x: fmt(x, ".2f", " s"))
    probe = [r.seconds for r in p if r.req.kind == "probe50x4"]
    n_probe = sum(r.req.kind == "probe50x4" for r in res)
    add(f"50 km / 4 sights time ({len(probe)}/{n_probe})", probe,
        lambda x: fmt(x, ".2f", " s"))
    add(f"  best of {PROBE_RUNS} runs", [r.best_s for r in p if r.req.kind == "probe50x4"],
        lambda x: fmt(x, ".2f", " s"))
    print(f"   {'metric':34s} {'median':>10s} {'p95':>10s}")
    for label, med, p95 in rows:
        print(f"   {label:34s} {med:>10s} {p95:>10s}")
    passes = sum(bool(r.passes_all) for r in p)
    print(f"   {'passes all sights':34s} {pct(passes / len(p), 0):>10s} ({passes}/{len(p)})")
    shares = "  ".join(
        f"{c} {pct(quantiles([r.class_share.get(c, 0.0) for r in p])[0], 1)}"
        f"/{pct(float(np.mean([r.class_share.get(c, 0.0) for r in p])), 1)}"
        for c in WAY_CLASSES)
    print(f"   way classes (median/mean share): {shares}")
    bands = []
    for lo, hi in ((0.0, 10.0), (10.0, 25.0), (25.0, 45.0), (45.0, math.inf)):
        sel = [r for r in p if lo <= r.req.target_km < hi]
        if sel:
            name = f"{lo:g}–{hi:g} km" if math.isfinite(hi) else f"≥ {lo:g} km"
            turns = fmt(quantiles([r.turns_per_km for r in sel])[0])
            bands.append(
                f"{name}: {len(sel)} loops, turns/km {turns}, "
                f"main {pct(quantiles([r.class_share.get('main', 0.0) for r in sel])[0], 1)}, "
                f"repeated {pct(quantiles([r.repeated for r in sel])[0], 1)}")
    if bands:
        print("   by target (medians): " + "; ".join(bands))
    for what, a in (("50 km / 4 sights", s.alts),
                    (f"{NEAR_SHORTEST:g} x the shortest loop through the same sights",
                     s.alts_near)):
        if not a:
            continue
        full = sum(x.found == ALTERNATIVES for x in a)
        print(f"   --alternatives {ALTERNATIVES} ({what}): {ALTERNATIVES} loops in "
              f"{full}/{len(a)} requests ({sum(x.found for x in a)} of "
              f"{ALTERNATIVES * len(a)}); pairwise shared at most "
              f"{pct(max(x.shared_max for x in a), 0)} (limit 50 %, corridors); repeated "
              f"share at most {pct(max(x.repeated_max for x in a), 1)}; |length error| at "
              f"most {pct(max(x.abs_err_max for x in a), 2)}; time median "
              f"{fmt(quantiles([x.seconds for x in a])[0], '.2f', ' s')}, max "
              f"{fmt(max(x.seconds for x in a), '.2f', ' s')}")
    peers_all = [r for r in p if r.peer is not None]
    if not peers_all:
        return
    peers = [r for r in peers_all if r.peer is not None and r.peer.error is None]
    build = "" if s.routino_build_s is None else f", database built in {s.routino_build_s:.2f} s"
    n_legs = sum(r.peer is not None and r.peer.mode == "legs" for r in peers)
    legs = f" ({n_legs} leg by leg after a combined-route failure)" if n_legs else ""
    print(f"   Routino peer (shortest bicycle --loop through the same stops in ringroute's order"
          f"{build}): {len(peers)} of {len(peers_all)} routed{legs}")
    for reason, count in Counter(r.peer.error for r in peers_all
                                 if r.peer is not None and r.peer.error).most_common():
        print(f"     {count:3d} × {reason}")
    if not peers:
        return
    print(f"   {'(same requests, medians)':34s} {'ringroute':>10s} {'Routino':>10s}")

    def pair(label: str, a: Sequence[float], b: Sequence[float],
             f: Callable[[float], str]) -> None:
        print(f"   {label:34s} {f(quantiles(a)[0]):>10s} {f(quantiles(b)[0]):>10s}")

    pk = [r.peer for r in peers if r.peer is not None]
    pair("length", [r.length_m / 1000 for r in peers], [q.length_m / 1000 for q in pk],
         lambda x: fmt(x, ".1f", " km"))
    pair("|length error| vs target", [r.abs_err for r in peers],
         [abs(q.length_m / 1000 - r.req.target_km) / r.req.target_km
          for r, q in zip(peers, pk, strict=True)], lambda x: pct(x, 1))
    pair("repeated share (geometric)", [r.repeated_geom for r in peers],
         [q.repeated_share for q in pk], lambda x: pct(x, 1))
    pair("turns/km", [r.turns_per_km for r in peers], [q.turns_per_km for q in pk],
         lambda x: fmt(x, ".2f"))
    pair("time", [r.seconds for r in peers], [q.seconds for q in pk],
         lambda x: fmt(x, ".3f", " s"))
    matched = [r for r in peers if r.peer_class_share]
    pair("main roads share", [r.class_share.get("main", 0.0) for r in matched],
         [r.peer_class_share.get("main", 0.0) for r in matched], lambda x: pct(x, 1))
    if matched:
        shares = "  ".join(
            f"{c} {pct(float(np.mean([r.class_share.get(c, 0.0) for r in matched])), 1)}"
            f" / {pct(float(np.mean([r.peer_class_share.get(c, 0.0) for r in matched])), 1)}"
            for c in WAY_CLASSES)
        print(f"   way classes, mean share ringroute / Routino ({len(matched)} loops, Routino "
              f"map-matched {pct(quantiles([r.peer_matched for r in matched])[0], 0)}): "
              f"{shares}")
    med_ratio, of_medians = turn_ratio(peers)
    per = [r.turns_per_km / r.peer.turns_per_km for r in peers
           if r.peer is not None and r.peer.turns_per_km > 0]
    ok = sum(x <= TURN_RATIO_TARGET for x in per)
    verdict = "meets" if math.isfinite(of_medians) and of_medians <= TURN_RATIO_TARGET \
        else "misses"
    print(f"   turns/km ratio ringroute/Routino: median of ratios {fmt(med_ratio)}, "
          f"ratio of medians {fmt(of_medians)} ({verdict} target ≤ {TURN_RATIO_TARGET}); "
          f"≤ {TURN_RATIO_TARGET} in {ok}/{len(per)} requests")


def print_overview(summaries: Sequence[Summary]) -> None:
    """One line per network."""
    print()
    print("== overview")
    head = (f"   {'network':22s} {'nodes':>9s} {'load':>8s} {'cached':>7s} {'router':>7s} "
            f"{'plan/req':>8s} {'refused':>7s} {'|err| med':>9s} {'rep med':>7s} {'rep p95':>7s} "
            f"{'avoidable rep med/p95':>21s} "
            f"{'turns/km':>8s} {'main':>6s} {'t med':>7s} {'t p95':>7s} {'50km/4':>7s} "
            f"{'best':>6s} {'turn ratio':>10s}")
    print(head)
    for s in summaries:
        st = s.stats()
        i = s.info
        n_plan = len(s.planned())
        avoid = (f"{pct(st['avoidable_repeated_share_median'], 1)} / "
                 f"{pct(st['avoidable_repeated_share_p95'], 1)}")
        cached = "n/a" if i.cached_s is None else fmt(i.cached_s, ".2f", "s")
        print(
            f"   {i.name:22s} {i.nodes:>9,d} {fmt(i.cold_s, '.1f', 's'):>8s} {cached:>7s} "
            f"{fmt(i.router_s, '.1f', 's'):>7s} {n_plan:>3d}/{len(s.results):<4d} "
            f"{len(s.results) - n_plan:>7d} "
            f"{pct(st['abs_length_error_median'], 2):>9s} "
            f"{pct(st['repeated_share_median'], 1):>7s} "
            f"{pct(st['repeated_share_p95'], 1):>7s} "
            f"{avoid:>21s} "
            f"{fmt(st['turns_per_km_median']):>8s} "
            f"{pct(st['share_main_median'], 1):>6s} "
            f"{fmt(st['plan_s_median'], '.2f', 's'):>7s} "
            f"{fmt(st['plan_s_p95'], '.2f', 's'):>7s} "
            f"{fmt(st['probe50x4_s_median'], '.2f', 's'):>7s} "
            f"{fmt(st['probe50x4_best_s_median'], '.2f', 's'):>6s} "
            f"{fmt(st['turns_ratio_of_medians']):>10s}"
        )


def scaling(summaries: Sequence[Summary]) -> dict[str, float]:
    """Log-log slopes of median planning time against node count (synthetic sizes)."""
    syn = [s for s in summaries if s.info.kind == "synthetic" and s.planned()]
    out: dict[str, float] = {}
    if len(syn) < 2:
        return out
    n = np.log([s.info.nodes for s in syn])
    for label, pick, secs in (
        ("all planned requests", lambda r: True, lambda r: r.seconds),
        ("50 km / 4 sights", lambda r: r.req.kind == "probe50x4", lambda r: r.seconds),
        (f"  best of {PROBE_RUNS} runs", lambda r: r.req.kind == "probe50x4",
         lambda r: r.best_s),
    ):
        meds = [quantiles([secs(r) for r in s.planned() if pick(r)])[0] for s in syn]
        if all(math.isfinite(m) and m > 0 for m in meds):
            out[label] = float(np.polyfit(n, np.log(meds), 1)[0])
    router = [s.info.router_s for s in syn]
    out["router build"] = float(np.polyfit(n, np.log(router), 1)[0])
    return out


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write dict rows with the union of their keys as header."""
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


# ------------------------------------------------------------------ main
def _extract_path(name: str) -> Path:
    p = Path(name)
    if p.is_file():
        return p
    for suffix in (".osm.pbf", ".osm", ".osm.bz2", ".osm.gz"):
        cand = OSM_DIR / f"{name}{suffix}"
        if cand.is_file():
            return cand
    msg = f"extract {name!r} not found (looked in {OSM_DIR})"
    raise SystemExit(msg)


def bench_network(info: NetInfo, n_requests: int, args: argparse.Namespace,
                  failures: list[str]) -> Summary:
    """Run all requests of one network (and the Routino peer for extracts)."""
    reqs = make_requests(info, n_requests, args.seed)
    runs = straight_runs_m(info.net.router)
    summary = Summary(info, [], runs_km={m: float(runs[runs >= m].sum()) / 1000.0
                                         for m in (500, 1000)})
    db: RoutinoDB | None = None
    if info.osm_file is not None and not args.no_routino:
        try:
            db = routino_peer.build_database(info.osm_file, OUT / "routino", info.name)
            summary.routino_build_s = db.build_s
            log(f"[{info.name}] Routino database built in {db.build_s:.2f} s")
        except (RuntimeError, OSError) as exc:
            log(f"[{info.name}] Routino database failed: {exc}")
    for req in reqs:
        res = run_request(info, req, args.timeout, failures)
        if req.kind == "probe50x4" and res.status == "planned":
            time_again(info, res, failures)
        if db is not None:
            run_peer(db, info, res)
        summary.results.append(res)
        what = (f"{res.length_m / 1000:.2f} km, rep {res.repeated:.1%} "
                f"(unavoidable {res.forced:.1%}), "
                f"{res.turns_per_km:.2f} turns/km" if res.status == "planned"
                else res.reason)
        peer = ""
        if res.peer is not None:
            peer = (f" | Routino {res.peer.length_m / 1000:.2f} km, "
                    f"{res.peer.turns_per_km:.2f} turns/km" if res.peer.error is None
                    else f" | Routino: {res.peer.error}")
        log(f"[{info.name} {req.index + 1}/{len(reqs)}] {req.kind} {req.target_km:g} km, "
            f"{len(req.sights)} sights: {res.status} in {res.seconds:.2f} s ({what}){peer}")
    if info.kind == "extract":
        for req in (q for q in reqs if q.kind == "probe50x4"):
            alt = run_alternatives(info, req, ALTERNATIVES)
            if alt is not None:
                summary.alts.append(alt)
                log(f"[{info.name} {req.index + 1}] {ALTERNATIVES} alternatives: {alt.found} "
                    f"found in {alt.seconds:.2f} s, shared at most {alt.shared_max:.0%}")
            net = info.net
            near_km = round(NEAR_SHORTEST * shortest_loop_m(
                net, _snapped(net, req.start), [_snapped(net, x) for x in req.sights]) / 1000, 2)
            alt = run_alternatives(info, req, ALTERNATIVES, target_km=near_km)
            if alt is not None:
                summary.alts_near.append(alt)
            log(f"[{info.name} {req.index + 1}] {ALTERNATIVES} alternatives at {near_km:g} km "
                f"({NEAR_SHORTEST:g} x the shortest loop): " + (
                    "refused" if alt is None else
                    f"{alt.found} found in {alt.seconds:.2f} s, shared at most "
                    f"{alt.shared_max:.0%}"))
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true",
                    help="few requests, synthetic sizes up to 100k (a few minutes)")
    ap.add_argument("--requests", type=int, default=None,
                    help="requests per network (default 30, quick 6; 1M nodes: a sixth, ≥ 4)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--extracts", nargs="*", default=list(DEFAULT_EXTRACTS),
                    help="names in the shared osm folder or paths (none: skip)")
    ap.add_argument("--sizes", nargs="*", type=int, default=None,
                    help="synthetic node counts (default 10000 100000 1000000; quick "
                         "10000 100000; none: skip)")
    ap.add_argument("--no-routino", action="store_true", help="skip the Routino peer")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per planning request (default 300, quick 120)")
    ap.add_argument("--csv", type=Path, default=None,
                    help="per-request CSV (default bench/out/loops[-quick].csv); the "
                         "per-network summary goes beside it as *-summary.csv")
    args = ap.parse_args(argv)
    n_req = args.requests if args.requests is not None else (6 if args.quick else 30)
    sizes = args.sizes if args.sizes is not None else (
        [s for s in DEFAULT_SIZES if s < 1_000_000] if args.quick else list(DEFAULT_SIZES))
    args.timeout = args.timeout if args.timeout is not None else (120.0 if args.quick else 300.0)
    if not args.no_routino and not routino_peer.available():
        log("Routino not installed: skipping the peer run")
        args.no_routino = True
    csv_path = args.csv or OUT / ("loops-quick.csv" if args.quick else "loops.csv")
    t_start = time.perf_counter()
    failures: list[str] = []
    summaries: list[Summary] = []
    results: list[Result] = []
    jobs: list[tuple[str, Callable[[], NetInfo], int]] = [
        (name, partial(load_extract, _extract_path(name), OUT / "cache"), n_req)
        for name in args.extracts
    ]
    jobs += [
        (f"synthetic {n:,}", partial(load_synthetic, n, args.seed),
         max(4, n_req // 6) if n >= 1_000_000 else n_req)
        for n in sizes
    ]
    print(f"ringroute loop benchmark: {n_req} requests per network, seed {args.seed}, "
          f"tolerance ±{TOLERANCE:.0%}, timeout {args.timeout:.0f} s per request, "
          f"Routino peer {'off' if args.no_routino else 'on'}")
    for label, loader, n in jobs:
        log(f"loading {label} …")
        info = loader()
        log(f"[{info.name}] {info.nodes:,} nodes; load {info.cold_s:.2f} s, router "
            f"{info.router_s:.2f} s")
        summary = bench_network(info, n, args, failures)
        summaries.append(summary)
        results += summary.results
        print_network(summary)
        sys.stdout.flush()
        # free the network before loading the next (1M nodes take several GB)
        summary.info.net = Network(info.net.graph.__class__(), info.net.source)
        del info
        gc.collect()
    print_overview(summaries)
    slopes = scaling(summaries)
    if slopes:
        sizes_txt = ", ".join(f"{s.info.nodes:,}" for s in summaries
                              if s.info.kind == "synthetic")
        print()
        print(f"== scaling over synthetic sizes ({sizes_txt} nodes): log-log slope of "
              "median time vs node count")
        for label, slope in slopes.items():
            print(f"   {label:24s} {slope:.2f}")
    if failures:
        print()
        print(f"== planner failures / anomalies ({len(failures)})")
        for f in failures:
            print("   " + f.replace("\n", "\n   "))
    write_csv(csv_path, [r.row() for r in results])
    summary_path = csv_path.with_name(csv_path.stem + "-summary.csv")
    write_csv(summary_path, [s.row() for s in summaries])
    print()
    print(f"wrote {csv_path} and {summary_path}; total {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
