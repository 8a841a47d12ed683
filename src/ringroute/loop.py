"""The loop planner.

A loop starts and ends at the start, passes every requested sight (the planner
chooses the order) and is close to a target length, preferring bike-friendly
ways and avoiding riding a way twice.

How it works
------------
1. Shortest paths from the start and every sight give the *shortest loop*
   through all of them (exact over all orders for up to 7 sights, else nearest
   neighbour + 2-opt). If even that loop is longer than the target allows, the
   request is refused with the feasible minimum.
2. *Shaping*: the loop is laid along a circle through the start whose size is
   searched (secant method) until the routed length is near the target. Sights
   are visited in angular order around the circle's centre; evenly spaced
   shaping points fill the gaps. Consecutive points are joined by bike-cost
   shortest paths in which ways already used cost several times more, so the
   loop does not ride back the way it came. Several circle directions and both
   riding directions are tried; the order-optimal tour is one more candidate.
3. *Length tuning*: arcs of the loop between two of its nodes (never skipping a
   sight) are replaced by alternative paths through nodes the loop does not use
   yet, chosen so the length error shrinks, until it is within a fraction of a
   percent.
4. Candidates are scored on length error, repeated share, bike cost and turns;
   ``alternatives`` distinct loops (pairwise shared length ≤ 50 %) are returned.
5. Each chosen loop is polished: mended where it rides a way twice that no dead end
   forces (:mod:`ringroute._repair`), straightened by flipping blocks
   (:mod:`ringroute._straighten`) and smoothed by exchanging stretches for ones that
   turn less, in pairs that keep its length (:mod:`ringroute._exchange`).

A loop that fills much of its network may stay too short after tuning (there are
no unused nodes left to detour through): then the longest candidates are grown by
blocks of the street map (:func:`ringroute._repair.lengthen`). A target longer than
every way ridden once (dead ends to sights there and back) is refused at once.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from ringroute._alongside import WayKey, beside
from ringroute._arrays import ranks
from ringroute._bike import check_avoid
from ringroute._cyclespace import CycleSpace
from ringroute._exchange import Exchange
from ringroute._metrics import TURN_ANGLE_DEG, class_shares, repeated_share, turns_per_km
from ringroute._repair import diverge, lengthen, repair
from ringroute._router import Router, ShortestPaths
from ringroute._search import tree_sums
from ringroute._straighten import straighten
from ringroute._types import BoolArray, FloatArray, IntArray
from ringroute.errors import DisconnectedSightsError, InfeasibleLoopError, InputError
from ringroute.network import Network
from ringroute.sights import SnappedPlace

log = logging.getLogger("ringroute")

ProgressFn = Callable[[str, float], None]

#: Loops longer than this are refused as input errors.
MAX_TARGET_KM = 1000.0
#: The largest cycleway preference (see :class:`Preferences`).
MAX_PREFER_CYCLEWAYS = 10.0
_REUSE_PENALTY = 30.0
_EXACT_TSP_MAX = 7
# length tuning: of the detours closest to the wanted length, prefer few turns (each
# weighs like this many metres of length error; 200 or 360 m gave more main roads for
# no fewer turns in the bench) and little bike cost above the length (main roads)
_DETOUR_CHOICES = 12
_DETOUR_TURN_M = 60.0
_DETOUR_SURCHARGE = 0.3
# a loop grown on plain shortest paths is re-routed minding turns, which changes its
# length by up to a few per cent either way; tuning lengthens up to this share...
_REROUTE_TOL = 0.15
_REROUTE_OVER = 0.05  # but shortens poorly: a re-routed loop may overshoot this much
# candidates are ranked on plain legs; this many more than are tuned are then routed
# minding turns, since that may change their rank (with none more, 8 of the Science
# City's 30 bench loops changed, and their main-road median rose from 9.1 to 9.7 %)
_TURN_MARGIN = 1
# untangling: windows (edges on each side of a repeated run) to re-route, and the
# largest change of the loop's length a replacement may make (or 1 km)
_UNTANGLE_WINDOWS = (0, 2, 5, 10, 20)
_UNTANGLE_MAX_CHANGE = 0.1
#: on networks this small (directed edges x candidates) every candidate is repaired
_REPAIR_ALL_EDGES = 10_000
#: distinct loops share at most this part of the shorter one's length
_MAX_SHARED = 0.5
#: an alternative rides at most this share of its length twice (dead ends to stops
#: aside): a loop that doubles back more is no option beside a clean one
_MAX_ALT_REPEATED = 0.1
#: the shortest loops through the sights for further alternatives count the first
#: loops' corridors this much longer (see ``_apart_tours``)
_APART_PENALTIES = (0.1, 0.3, 1.0)
#: ... and are tried where they are at least this share of the target long
_APART_NEAR = 0.9
#: a further alternative over this share of the target is not tuned: of 153 such
#: tunings (Heidelberg and Science City, four sights, 25-33 km) none came within 2 %,
#: and they took three quarters of the tuning time
_ALT_TUNE_OVER = 1.2
#: multiples of the target at which a loop riding nothing twice is sought when the
#: best loop doubles back (see ``_hint_clean_length``)
_CLEAN_FACTORS = (1.1, 1.25, 1.5, 2.0)
#: and below it, where no longer one is found (the target near the longest loops)
_CLEAN_SHORTER = (0.9, 0.8, 0.7)
#: shares of the tolerance off the target at which a loop riding nothing twice is
#: sought when the best loop rides much twice (see ``_clean_within``)
_CLEAN_WITHIN = (0.25, 0.5, 0.75)
#: weight of turns per km in a loop's score (see ``_score``; bike cost per metre is 1
#: on a quiet street), and a step for riding any way twice that a loop could avoid (a
#: loop turning less must not win by riding a few hundred metres back). Measured on
#: the bench's requests of two seeds (30 per extract each), against 0.3 and no step:
#: median turns/km Science City 2.78 -> 2.70 and 2.71 -> 2.71, University strip
#: 4.70 -> 4.52 and 4.92 -> 4.61, Heidelberg 1.96 -> 1.87 and 1.96 -> 1.76; loops
#: riding more than 0.1 % twice beyond what is unavoidable 5 -> 4 and 3 -> 2, 5 -> 5 and
#: 6 -> 5, 6 -> 3 and 7 -> 3; main roads on the Science City 8.8 -> 9.1 % and 8.5 ->
#: 8.8 %. A turn weight of 1.5 turned no less and missed the length more; 1.0 without
#: the step rode more twice
_SCORE_PER_TURN_KM = 1.0
_SCORE_ANY_REPEAT = 0.5
#: and the turns are counted per km of at least this many km: a loop round a block or
#: two must turn at each corner, and must not rank below a ride out and back for it
_SCORE_TURN_KM = 2.0
#: where every loop found is too short, longer ones are sought in these bands (times
#: the longest length accepted; see ``_longer_than``)
_LONGER_BANDS = (1.0, 1.1, 1.25, 1.5, 2.0)
#: loops grown by faces when no detour makes any long enough, and the share of the
#: target added per step (see :func:`ringroute._repair.lengthen`)
_LENGTHEN_TRIES = 3
#: a target no loop was found for is called too long for the network above this share
#: of what the network can hold (the bound on a loop riding nothing twice, ``_ridable_m``)
_FULL_SHARE = 0.5
_LENGTHEN_STEP = 0.05
#: searches over blocks per alternative still missing (see
#: :func:`ringroute._repair.diverge`), and a salt for their random sources
_DIVERGE_TRIES = 2
_DIVERGE_SEED = 7919


@dataclass(frozen=True, kw_only=True)
class Preferences:
    """Routing preferences.

    Attributes
    ----------
    prefer_cycleways
        Extra weight for cycleways and cycle routes: 0 keeps the default costs,
        1 makes them half as expensive again.
    avoid
        Way classes (see :data:`ringroute._bike.WAY_CLASSES`) or OSM highway values
        (:data:`ringroute._bike.AVOIDABLE_HIGHWAYS`; a road's links included) to
        avoid (cost × 10).

    Raises
    ------
    InputError
        For an unknown name in ``avoid`` or a weight outside 0–10.
    """

    prefer_cycleways: float = 0.0
    avoid: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.prefer_cycleways)
                and 0 <= self.prefer_cycleways <= MAX_PREFER_CYCLEWAYS):
            msg = (f"prefer_cycleways={self.prefer_cycleways:g} is out of range: "
                   f"valid is 0 to {MAX_PREFER_CYCLEWAYS:g}")
            raise InputError(msg)
        check_avoid(self.avoid)


@dataclass(frozen=True, kw_only=True)
class Stop:
    """A place the loop passes, with the distance at which it is passed."""

    place: SnappedPlace
    at_m: float

    @property
    def key(self) -> str:
        """The place key (sight key or ``lat,lon``)."""
        return self.place.place.key


@dataclass(kw_only=True)
class Loop:
    """A planned loop.

    Attributes
    ----------
    target_m
        Requested length.
    length_m
        Actual length along the ways.
    stops
        Start, then each sight in visit order (the finish is the start again).
    edges
        Graph edges ``(u, v, key)`` in riding order.
    lat, lon
        Full-resolution track, closed (first point = last point).
    overlap_ratio
        Share of the length on ways used more than once (either direction).
    forced_overlap_ratio
        The part of ``overlap_ratio`` that no loop of this length through the same
        stops can avoid: ways on dead-end spurs (bridges) leading to a stop must be
        ridden back (see :meth:`ringroute._router.Router.forced_repeat_m`), and where
        the parts of the network near the stops hold less than the length, so must
        the single links to farther parts -- or near ways are ridden twice (see
        :meth:`ringroute._router.Router.least_repeat_m`).
    way_class_m
        Metres per way class.
    turns_per_km
        Heading changes of more than 50° within 40 m, per km.
    cost
        Bike cost of the loop (length weighted by way quality).
    cum_m
        Distance along the loop at each track vertex.
    node_vertex
        Track vertex index of each graph node passed: the start of each edge, then the
        finish.
    label
        How the loop was shaped (for diagnostics).
    ele
        Elevation (m) per track vertex, when known (DEM or OSM ``ele`` tags).
    """

    target_m: float
    length_m: float
    stops: list[Stop]
    edges: list[tuple[int, int, int]]
    lat: list[float]
    lon: list[float]
    overlap_ratio: float
    way_class_m: dict[str, float]
    forced_overlap_ratio: float = 0.0
    turns_per_km: float
    cost: float
    cum_m: list[float] = field(default_factory=list)
    node_vertex: list[int] = field(default_factory=list)
    label: str = ""
    ele: list[float | None] | None = None

    @property
    def sights(self) -> list[Stop]:
        """The sight stops in visit order (without the start)."""
        return self.stops[1:]

    @property
    def length_error(self) -> float:
        """Signed relative length error."""
        return (self.length_m - self.target_m) / self.target_m

    def way_class_share(self) -> dict[str, float]:
        """Share of the length per way class."""
        total = sum(self.way_class_m.values()) or 1.0
        return {k: v / total for k, v in sorted(self.way_class_m.items())}


# ---------------------------------------------------------------------- costs
def edge_weights(router: Router, prefs: Preferences | None) -> FloatArray:
    """Bike cost per router edge under ``prefs``."""
    w = router.cost.copy()
    if prefs is None:
        return w
    if prefs.prefer_cycleways > 0:
        good = np.array([c == "cycleway" for c in router.way_class]) | router.cycle_route
        w[good] = w[good] / (1.0 + prefs.prefer_cycleways)
    if prefs.avoid:
        avoid = set(prefs.avoid)
        bad = np.fromiter((c in avoid or h.removesuffix("_link") in avoid
                           for c, h in zip(router.way_class, router.highway, strict=True)),
                          bool, len(router.way_class))
        w[bad] = w[bad] * 10.0
    return w


# ---------------------------------------------------------------------- planner
class _Planner:
    def __init__(self, router: Router, weights: FloatArray, tol_m: float, *,
                 alongside: tuple[IntArray, IntArray] | None = None) -> None:
        self.r = router
        self.w = weights
        self.tol_m = tol_m
        self.phys = router.way_code
        #: pairs of physical ways (:attr:`Router.ways` numbers): way ``first[i]`` runs
        #: alongside way ``second[i]`` (see :func:`_way_partners`)
        empty = np.zeros(0, dtype=np.int64)
        self.alongside: tuple[IntArray, IntArray] = alongside or (empty, empty)

    def derived(self, weights: FloatArray) -> _Planner:
        """A planner on the same network and ways alongside, with other weights."""
        return _Planner(self.r, weights, self.tol_m, alongside=self.alongside)

    @cached_property
    def floor(self) -> float:
        """:meth:`Router.floor` of the weights: the aim of searches with them or dearer."""
        return self.r.floor(self.w)

    @cached_property
    def cycles(self) -> CycleSpace:
        """The network's faces, for repeat-free repairs (built on first use)."""
        return CycleSpace(self.r, self.w)

    @cached_property
    def exchange(self) -> Exchange:
        """Window exchanges on the network, for smoothing loops (built on first use)."""
        return Exchange(self.r, self.w, self.alongside)

    def corridor(self, edges: Sequence[int]) -> BoolArray:
        """The physical ways the loop ``edges`` rides or runs alongside (a mask).

        Another loop on these ways follows the same corridor: on the same road, on the
        cycle track beside it or on the other carriageway.
        """
        ways = self.r.ways
        mask = np.zeros(len(ways.a), dtype=bool)
        mask[ways.of_edge[np.asarray(edges, dtype=np.int64)]] = True
        return mask | beside(mask, self.alongside)

    # -- routing ---------------------------------------------------------------
    def route(self, controls: Sequence[int]) -> list[int]:
        """Join control nodes by shortest paths that avoid reusing ways."""
        return [e for leg in self.route_legs(controls) for e in leg]

    def shunning(self, edges: Sequence[int], penalty: float = _REUSE_PENALTY) -> _Planner:
        """A planner on which the corridor of ``edges`` is ``1 + penalty`` times dearer.

        The corridor is the ways ridden and the ways alongside them (see
        :meth:`corridor`): a loop that shuns it takes another route, not the cycle
        track beside the same road.
        """
        w = self.w.copy()
        if edges:
            near = self.corridor(edges)[self.r.ways.of_edge]
            w[near] = self.w[near] * (1.0 + penalty)
        return self.derived(w)

    def penalized(self, edges: Sequence[int], penalty: float = _REUSE_PENALTY) -> FloatArray:
        """Weights with the ways of ``edges`` (both directions) ``1 + penalty`` times dearer."""
        w = self.w.copy()
        if edges:
            touched = self.r.both_ways(edges)
            w[touched] = self.w[touched] * (1.0 + penalty)
        return w

    def route_legs(self, controls: Sequence[int], *, turns: bool = True) -> list[list[int]]:
        """Shortest paths between consecutive controls, each avoiding earlier legs' ways.

        With ``turns`` the paths also minimise turning (edge-based search); without,
        a faster node-based search is used (for length estimates).
        """
        r = self.r
        used = np.zeros(r.n_edges, dtype=bool)
        w = self.w.copy()
        legs: list[list[int]] = []
        for a, b in pairwise(controls):
            if a == b:
                legs.append([])
                continue
            # each search stops at b (see Router.path, Router.route_with_turns)
            found = r.route_with_turns(a, b, w, floor=self.floor) if turns else None
            if found is None:  # plain search, or only a U-turn reaches b
                found = r.path(a, b, w, floor=self.floor)
                if found is None:
                    raise KeyError(b)
            path = found
            legs.append(path)
            if path:
                touched = r.both_ways(path)
                fresh = touched[~used[touched]]
                used[fresh] = True
                w[fresh] = self.w[fresh] * (1.0 + _REUSE_PENALTY)
        return legs

    def untangle(self, edges: list[int], protected: set[int], max_fixes: int = 6) -> list[int]:
        """Replace stretches ridden a second time by paths off the loop's other ways.

        A stretch that leads to or from a sight on a dead end cannot be replaced
        (no search finds another way) and stays; the length is re-tuned afterwards.
        A second pass works on the loop rotated by half, so that repeats next to
        the start (leaving and coming home by the same way) can be re-routed too.
        """
        edges = self._untangle_pass(edges, protected, max_fixes)
        if len(edges) > 3 and _repeats(self, edges, avoidable=True):
            start = int(self.r.src[edges[0]])
            h = len(edges) // 2
            rot = self._untangle_pass(edges[h:] + edges[:h], protected, max_fixes)
            # the start is a stop, so the re-routed loop still passes it
            k = next((i for i, e in enumerate(rot) if int(self.r.src[e]) == start), None)
            if k is not None:
                edges = rot[k:] + rot[:k]
        return edges

    def _untangle_pass(self, edges: list[int], protected: set[int],
                       max_fixes: int) -> list[int]:
        r = self.r
        for _ in range(max_fixes):
            idx = np.asarray(edges, dtype=np.int64)
            phys = self.phys[idx]
            # later occurrences only: keep the first ride of every way
            seen: set[int] = set()
            later = np.zeros(len(idx), dtype=bool)
            for k, ph in enumerate(phys.tolist()):
                later[k] = ph in seen
                seen.add(ph)
            if not later.any():
                break
            nodes = self.nodes_of(edges)
            runs: list[tuple[int, int]] = []
            k = 0
            while k < len(later):
                if later[k]:
                    j = k
                    while j < len(later) and later[j]:
                        j += 1
                    runs.append((k, j))
                    k = j
                else:
                    k += 1
            prot_pos = [p for p, nd in enumerate(nodes) if nd in protected]
            fixed = False
            # a run all on bridges (a spur to a dead-end stop) has no other way
            runs = [(i, j) for i, j in runs if not r.bridge_edge[idx[i:j]].all()]
            for i0, j0 in sorted(runs, key=lambda ij: -(ij[1] - ij[0])):
                new_edges = self._replace_run(edges, idx, nodes, prot_pos, i0, j0)
                if new_edges is not None:
                    edges = new_edges
                    fixed = True
                    break
            if not fixed:
                break
        return edges

    def _replace_run(self, edges: list[int], idx: npt.NDArray[np.int64], nodes: list[int],
                     prot_pos: list[int], i0: int, j0: int) -> list[int] | None:
        """Re-route a window around the repeated run ``edges[i0:j0]``, or ``None``.

        Windows of several sizes are tried (a repeat at a junction whose every way
        the loop already rides can only be avoided further out) and the one that
        changes the loop's length least, counting added turns like tuning does, is
        taken; one that would change it by more than a tenth (and 1 km) is not. A
        window may take in stops: the new stretch passes them in order, so a sight
        entered and left by the same way is approached from another side. It may
        cross the loop at junctions but never rides one of the loop's other ways.
        """
        r = self.r
        best: tuple[float, list[int]] | None = None  # (length change and turns, new loop)
        for d in _UNTANGLE_WINDOWS:
            i, j = max(0, i0 - d), min(len(nodes) - 1, j0 + d)
            via = [nodes[i], *[nodes[p] for p in prot_pos if i < p < j], nodes[j]]
            if len(via) == 2 and via[0] == via[1]:
                continue
            w = self.w.copy()
            w[r.both_ways(idx[:i])] = np.inf
            w[r.both_ways(idx[j:])] = np.inf
            arc = float(r.length[idx[i:j]].sum())
            new: list[int] = []
            for a, b in pairwise(via):
                if a == b:
                    continue
                leg = r.path(a, b, w, limit=3.0 * arc + 2000.0, floor=self.floor)
                if leg is None:
                    break
                new += leg
                w[r.both_ways(leg)] = np.inf
            else:
                new_phys = self.phys[np.asarray(new, dtype=np.int64)]
                if new and len(set(new_phys.tolist())) == len(new):
                    change = abs(self.length(new) - arc)
                    if change > max(_UNTANGLE_MAX_CHANGE * self.length(edges), 1000.0):
                        continue  # a shortcut tuning could not make up for
                    change += _DETOUR_TURN_M * _added_turns(self, edges, i, j, new)
                    if best is None or change < best[0]:
                        best = (change, edges[:i] + new + edges[j:])
        # the replacement that changes the loop's length least (tuning must mend it)
        return None if best is None else best[1]

    def split_legs(self, controls: Sequence[int], edges: Sequence[int]) -> list[list[int]] | None:
        """Cut a routed loop into its legs between consecutive controls."""
        legs: list[list[int]] = []
        k = 1
        cur: list[int] = []
        for e in edges:
            cur.append(e)
            if k < len(controls) and int(self.r.dst[e]) == controls[k]:
                legs.append(cur)
                cur = []
                k += 1
        if cur or k != len(controls):
            return None
        return legs

    def grow(self, controls: list[int], target_m: float, edges: Sequence[int] | None = None,
             max_insert: int = 12, *, turn_routed: bool = True,
             reroute: bool = True) -> tuple[list[int], list[int]]:
        """Insert via points into the longest legs until the loop nears ``target_m``.

        Starts from ``edges`` (the candidate's own route) when given; with ``reroute``
        the result is routed minding turns (see :meth:`reroute`) when via points were
        inserted or ``turn_routed`` is false. Without, the new legs stay plain.
        """
        r = self.r
        split = self.split_legs(controls, edges) if edges else None
        legs = split if split is not None else self.route_legs(controls)
        if not any(legs):
            return controls, []
        grown = False
        for _ in range(max_insert):
            edges = [e for leg in legs for e in leg]
            length = self.length(edges)
            need = target_m - length
            if need <= 0.03 * target_m:
                break
            leg_len = [self.length(leg) for leg in legs]
            t = int(np.argmax(leg_len))
            a, b = controls[t], controls[t + 1]
            others = [e for k, leg in enumerate(legs) if k != t for e in leg]
            w = self.penalized(others)
            # via points of interest lie within about the new leg's length of both ends
            reach = 1.5 * (leg_len[t] + need) + 1000.0
            fwd = r.shortest_paths(a, w, limit=reach)
            bwd = r.shortest_paths_to(b, w, limit=reach)
            la = self.tree_lengths(fwd)
            lb = self.tree_lengths(bwd)
            ok = np.isfinite(fwd.dist) & np.isfinite(bwd.dist) & r.core
            ext = np.where(ok, la + lb - leg_len[t], -np.inf)
            route_nodes = np.unique(np.asarray(self.nodes_of(edges), dtype=np.int64))
            tree = cKDTree(np.column_stack([r.xm[route_nodes], r.ym[route_nodes]]))
            # via points lie clear of the route by at least this
            clear_m = min(600.0, max(150.0, need / 10.0))
            want = need
            # overshooting costs more than falling short (tuning shortens poorly)
            # cost per metre of the way there and back through each node
            quality = (fwd.dist + bwd.dist) / np.maximum(la + lb, 1.0)
            cand = np.nonzero(ok & (ext >= 0.75 * want) & (ext <= want + 0.01 * target_m))[0]
            picks = _clear_of(tree, r, cand[np.argsort(quality[cand], kind="stable")], clear_m)
            if not len(picks):
                # none lengthens the leg enough: those that lengthen it most
                # (of those alike, the one whose ways cost least for their length)
                pool = np.nonzero(ok & (ext > 0) & (ext < want))[0]
                picks = _clear_of(tree, r, pool[np.lexsort((quality[pool], -ext[pool]))],
                                  clear_m)
                if not len(picks):
                    break
            # the via point whose way there and way back (first guess: the search
            # tree back to b) share least; the way back is then routed off the way there
            best: tuple[float, int, list[int]] | None = None
            for v in picks.tolist():
                leg1 = r.path_edges(fwd, int(v))
                both = np.asarray(leg1 + r.path_edges_to(bwd, int(v)), dtype=np.int64)
                rep = repeated_share(self.phys[both].tolist(), r.length[both].tolist())
                if best is None or rep < best[0] - 1e-9:
                    best = (rep, int(v), leg1)
            if best is None:
                break
            _, v, leg1 = best
            w2 = self.penalized([*others, *leg1])
            leg2 = r.path(v, b, w2, floor=self.floor)
            if leg2 is None:
                raise KeyError(b)
            controls = [*controls[: t + 1], v, *controls[t + 1:]]
            legs = [*legs[:t], leg1, leg2, *legs[t + 1:]]
            grown = True
        out = [e for leg in legs for e in leg]
        if reroute and (grown or not turn_routed):
            out = self.reroute(controls, out, target_m)
        return controls, out

    def reroute(self, controls: Sequence[int], edges: list[int], target_m: float) -> list[int]:
        """The grown loop ``edges`` through ``controls`` routed once more, minding turns.

        The new route is taken only if its length stays fit for tuning, which
        lengthens a loop cheaply (detours) but shortens it poorly.
        """
        rerouted = self.route(controls)
        over = self.length(rerouted) - target_m
        was = self.length(edges) - target_m
        if -max(abs(was), _REROUTE_TOL * target_m) <= over <= max(was, _REROUTE_OVER * target_m):
            return rerouted
        return edges

    def length(self, edges: Sequence[int]) -> float:
        return float(self.r.length[np.asarray(edges, dtype=np.int64)].sum()) if edges else 0.0

    def nodes_of(self, edges: Sequence[int]) -> list[int]:
        """The nodes the route ``edges`` passes: its first edge's start, then each end."""
        r = self.r
        ends: list[int] = r.dst[np.asarray(edges, dtype=np.int64)].tolist()
        return [int(r.src[edges[0]]), *ends]

    def tree_lengths(self, sp: ShortestPaths) -> FloatArray:
        """Length (not cost) along the search tree to (or from) every reached node."""
        return self._tree_lengths(sp.pred, sp.edge)

    def _tree_lengths(self, pred_rows: npt.NDArray[np.int32], edge_rows: IntArray
                      ) -> FloatArray:
        """Tree lengths for one search, or for each row of 2-D arrays.

        ``pred_rows`` and ``edge_rows`` are as :class:`ShortestPaths` holds them.
        """
        # the edge each node was reached by (-1 at roots and nodes not reached, whose
        # steps tree_sums does not read)
        return tree_sums(pred_rows, self.r.length[np.maximum(edge_rows, 0)])

    # -- length tuning -----------------------------------------------------------
    def tune(self, edges: list[int], protected: set[int], target_m: float,
             max_rounds: int = 8, *, closest: bool = False) -> list[int]:
        """Replace arcs of the loop by detours through unused nodes to fix its length.

        Searches start local (short arcs, bounded Dijkstra) and widen only when no
        local replacement improves the length. Detours first avoid every node of the
        loop; when none helps (a long loop that fills its network), they may cross
        the loop at junctions, still never riding one of its ways. Of the detours
        that fix the length about equally well, the smoothest and most bike-friendly
        is taken (:meth:`_pick_detour`); with ``closest``, the one that fixes it best.
        """
        r = self.r
        reach = 1.0
        cross = False
        for _ in range(max_rounds + 6):  # + the widening steps
            length = self.length(edges)
            err = target_m - length
            if abs(err) <= self.tol_m:
                break
            nodes = self.nodes_of(edges)
            seg = r.length[np.asarray(edges, dtype=np.int64)]
            cum = np.concatenate([[0.0], np.cumsum(seg)])
            loop_nodes = np.unique(np.asarray(nodes, dtype=np.int64))
            on_loop = np.zeros(r.n_nodes, dtype=bool)
            on_loop[loop_nodes] = True
            w = self.w.copy()
            if cross:
                w[r.both_ways(edges)] = np.inf
            else:
                w[on_loop[r.dst]] = np.inf
            prot_pos = np.asarray([i for i, nd in enumerate(nodes) if nd in protected],
                                  dtype=np.int64)
            max_arc = reach * max(800.0, min(0.1 * target_m, 1.2 * abs(err) + 600.0))
            n_anchor = 32
            step = length / n_anchor
            anchors: list[int] = []
            nxt = 0.0
            for i in range(len(nodes) - 1):
                if cum[i] >= nxt:
                    anchors.append(i)
                    nxt = cum[i] + step
            # a detour is at most max_arc + err long (shorter than its arc when err < 0)
            limit_cost = 1.6 * (max_arc + max(err, 0.0))
            dist_all, pred_all, edge_all = r.shortest_paths_many(
                [nodes[i] for i in anchors], w, limit=limit_cost)
            rows = [ShortestPaths(nodes[i], dist_all[k], pred_all[k], edge_all[k])
                    for k, i in enumerate(anchors)]
            found = self._detours(nodes, cum, np.asarray(anchors, dtype=np.int64),
                                  prot_pos, max_arc, err, dist_all,
                                  self._tree_lengths(pred_all, edge_all),
                                  on_loop if not cross else np.zeros_like(on_loop), edges)
            best = self._pick_detour(edges, nodes, found, rows, abs(err),
                                     choices=1 if closest else _DETOUR_CHOICES)
            if best is None:
                if reach < 3.0:
                    reach *= 2.0
                    continue
                if not cross and err > 0:
                    cross, reach = True, 1.0
                    continue
                break
            i, j, detour = best
            edges = edges[:i] + detour + edges[j:]
        return edges

    def _detours(self, nodes: list[int], cum: FloatArray, anchors: IntArray,
                 prot_pos: IntArray, max_arc: float, err: float, dist: FloatArray,
                 lens: FloatArray, blocked: npt.NDArray[np.bool_],
                 edges: list[int]) -> FloatArray:
        """List every detour that may replace an arc of the loop.

        The arc runs from ``anchors[k]`` to a later node ``j`` (at most ``max_arc``
        long, not across a protected stop); the detour follows the search tree of row
        ``k`` to a node ``wn`` (not ``blocked``) and a way ``e`` from it into ``nodes[j]``.

        Returns rows ``(remaining error, i, j, wn, e, k)`` (see :meth:`_pick_detour`).
        """
        r = self.r
        node_arr = np.asarray(nodes, dtype=np.int64)
        on_loop_way = np.zeros(r.n_edges, dtype=bool)
        on_loop_way[r.both_ways(edges)] = True
        # the last arc end: the next protected stop, and no farther than max_arc
        ends = np.append(prot_pos, len(nodes) - 1)
        jmax = ends[np.searchsorted(prot_pos, anchors, side="right")]
        jend = np.minimum(jmax, np.searchsorted(cum, cum[anchors] + max_arc, side="right") - 1)
        cnt = np.maximum(jend - anchors, 0)
        row = np.repeat(np.arange(len(anchors)), cnt)
        js = anchors[row] + 1 + ranks(cnt)
        # every way into nodes[j] may end the detour
        k, e = r.arriving(node_arr[js])
        row, js = row[k], js[k]
        wn = r.src[e].astype(np.int64)
        i = anchors[row]
        direct = wn == node_arr[i]
        ok = ~on_loop_way[e] & (direct | (np.isfinite(dist[row, wn]) & ~blocked[wn]))
        new_len = np.where(direct, 0.0, lens[row, wn]) + r.length[e]
        rest = np.abs(err - (new_len - (cum[js] - cum[i])))
        out: FloatArray = np.column_stack([rest, i, js, wn, e, row])[ok]
        return out

    def _pick_detour(self, edges: list[int], nodes: list[int], found: FloatArray,
                     rows: Sequence[ShortestPaths], abs_err: float, *,
                     choices: int = _DETOUR_CHOICES) -> tuple[int, int, list[int]] | None:
        """Choose among detours that fix the length about equally well.

        Each row of ``found`` is ``(remaining error, i, j, wn, e, row)``: replace the
        arc ``nodes[i]..nodes[j]`` by the search tree path of ``rows[row]`` to ``wn``
        and edge ``e``. Of the ``choices`` closest to the target, the one that adds
        the fewest turns (:data:`_DETOUR_TURN_M` metres of error each) and the least
        bike cost above the length (weighted :data:`_DETOUR_SURCHARGE`) wins.
        Returns ``(i, j, detour edges)``, or ``None`` if no detour reduces the error.
        """
        order = np.argsort(found[:, 0], kind="stable")[:choices]
        r = self.r
        best: tuple[float, int, int, list[int]] | None = None
        for rest_m, fi, fj, fwn, fe, frow in found[order].tolist():
            if rest_m >= abs_err - 1.0:
                break
            i, j, wn, e, row = int(fi), int(fj), int(fwn), int(fe), int(frow)
            detour = ([] if wn == nodes[i] else r.path_edges(rows[row], wn)) + [e]
            added_turns = _added_turns(self, edges, i, j, detour)
            new = np.asarray(detour, dtype=np.int64)
            old = np.asarray(edges[i:j], dtype=np.int64)
            surcharge = (float((self.w[new] - r.length[new]).sum())
                         - float((self.w[old] - r.length[old]).sum()))
            key = rest_m + _DETOUR_TURN_M * added_turns + _DETOUR_SURCHARGE * surcharge
            if best is None or key < best[0]:
                best = (key, i, j, detour)
        return None if best is None else best[1:]


def _tour_order(dist: FloatArray) -> list[int]:
    """Best visiting order of points 1..k starting and ending at 0."""
    k = dist.shape[0] - 1
    if k <= 0:
        return []
    if k <= _EXACT_TSP_MAX:
        best_order: tuple[int, ...] = ()
        best_len = math.inf
        for perm in itertools.permutations(range(1, k + 1)):
            total = dist[0, perm[0]] + dist[perm[-1], 0]
            total += sum(dist[a, b] for a, b in pairwise(perm))
            if total < best_len:
                best_len, best_order = total, perm
        return list(best_order)
    order: list[int] = []
    left = set(range(1, k + 1))
    cur = 0
    while left:
        cur = min(left, key=lambda j: dist[cur, j])
        order.append(cur)
        left.remove(cur)
    improved = True
    while improved:
        improved = False
        seq = [0, *order, 0]
        for i in range(1, len(seq) - 2):
            for j in range(i + 1, len(seq) - 1):
                before = dist[seq[i - 1], seq[i]] + dist[seq[j], seq[j + 1]]
                after = dist[seq[i - 1], seq[j]] + dist[seq[i], seq[j + 1]]
                if after + 1e-9 < before:
                    seq[i:j + 1] = reversed(seq[i:j + 1])
                    improved = True
        order = seq[1:-1]
    return order


def _tour_length(dist: FloatArray, order: Sequence[int]) -> float:
    seq = [0, *order, 0]
    return float(sum(dist[a, b] for a, b in pairwise(seq)))


@dataclass
class _Candidate:
    edges: list[int]
    label: str
    controls: list[int] = field(default_factory=list)
    score: float = math.inf
    length_m: float = 0.0
    #: False while the legs are plain shortest paths (turns not yet minded)
    turn_routed: bool = True
    #: a repair of these edges was tried already (see :func:`ringroute._repair.repair`)
    repair_tried: bool = False
    #: grown by via points already (see :func:`_route_turns`)
    grown: bool = False


def shortest_loop_m(network: Network, start: SnappedPlace,
                    via: Sequence[SnappedPlace]) -> float:
    """Length of the shortest loop from ``start`` through all ``via`` places."""
    r = network.router
    pts = _unique_nodes(r, start, via)
    if len(pts) == 1:
        return _shortest_cycle(r, pts[0])[0]
    dist = _distance_matrix(r, pts, r.length)
    return _tour_length(dist, _tour_order(dist))


def _shortest_cycle(r: Router, s: int) -> tuple[float, list[int]]:
    """Shortest loop from node ``s`` that does not only turn back the way it came.

    From a dead end the loop rides out to the nearest node where a real loop
    begins, rides that loop and comes back (a "lollipop").
    """
    best, best_edges = _proper_cycle(r, s)
    if math.isfinite(best):
        return best, best_edges
    out = r.shortest_paths(s, r.length)
    back = r.shortest_paths_to(s, r.length)
    both = out.dist + back.dist
    for v in np.argsort(both)[1:40].tolist():
        if not math.isfinite(both[v]) or both[v] >= best:
            break
        cyc, cyc_edges = _proper_cycle(r, int(v))
        if both[v] + cyc < best:
            best = float(both[v] + cyc)
            to_s = []
            node = int(v)
            while node != s:
                nxt = int(back.pred[node])
                to_s.append(r.edge_index(node, nxt))
                node = nxt
            best_edges = [*r.path_edges(out, int(v)), *cyc_edges, *to_s]
    return best, best_edges


def _proper_cycle(r: Router, s: int) -> tuple[float, list[int]]:
    """Shortest loop from ``s`` that does not leave and return by the same way."""
    best, best_edges = math.inf, []
    for e in range(int(r.indptr[s]), int(r.indptr[s + 1])):
        v = int(r.dst[e])
        w = r.length.copy()
        w[e] = np.inf
        if r.reverse[e] >= 0:
            w[r.reverse[e]] = np.inf
        sp = r.shortest_paths(v, w)
        total = float(r.length[e] + sp.dist[s])
        if total < best:
            best, best_edges = total, [e, *r.path_edges(sp, s)]
    return best, best_edges


def _unique_nodes(r: Router, start: SnappedPlace, via: Sequence[SnappedPlace]) -> list[int]:
    pts = [r.index[start.node]]
    for v in via:
        i = r.index[v.node]
        if i not in pts:
            pts.append(i)
    return pts


def _distance_matrix(r: Router, pts: Sequence[int], weights: FloatArray) -> FloatArray:
    k = len(pts)
    dist = np.zeros((k, k))
    for i, p in enumerate(pts):
        sp = r.shortest_paths(p, weights)
        dist[i] = sp.dist[list(pts)]
    return dist


def plan_loops(
    network: Network,
    start: SnappedPlace,
    via: Sequence[SnappedPlace] = (),
    *,
    target_km: float = 50.0,
    tolerance: float = 0.05,
    alternatives: int = 1,
    seed: int = 0,
    prefs: Preferences | None = None,
    progress: ProgressFn | None = None,
) -> list[Loop]:
    """Plan loops from ``start`` through ``via`` of about ``target_km``.

    Parameters
    ----------
    network
        The bike network.
    start
        Start and finish.
    via
        Sights to pass (order chosen by the planner); duplicates and sights on
        the start's node are dropped.
    target_km
        Target length in kilometres.
    tolerance
        Allowed relative length error (0.05 = ±5 %); the planner aims much closer.
    alternatives
        Number of distinct loops wanted (pairwise shared length ≤ 50 %).
    seed
        Seed for the choice of directions when there is no sight to aim at.
    prefs
        Routing preferences.
    progress
        Optional callback ``(stage, fraction)``.

    Returns
    -------
    list of Loop
        Best first; fewer than ``alternatives`` if no more distinct loops exist.

    Raises
    ------
    InputError
        For an invalid target, tolerance, count or seed.
    InfeasibleLoopError
        If the shortest loop through the sights exceeds the target, or the
        network cannot hold a loop that long; the message gives the feasible range.
    DisconnectedSightsError
        If some places cannot be reached from the start.
    """
    if not (math.isfinite(target_km) and 0 < target_km <= MAX_TARGET_KM):
        msg = f"target_km={target_km} is out of range: valid is more than 0 up to {MAX_TARGET_KM:g}"
        raise InputError(msg)
    if not (math.isfinite(tolerance) and 0.001 <= tolerance <= 0.5):
        msg = f"tolerance={tolerance} is out of range: valid is 0.001 to 0.5"
        raise InputError(msg)
    if not 1 <= alternatives <= 20:
        msg = f"alternatives={alternatives} is out of range: valid is 1 to 20"
        raise InputError(msg)
    if seed < 0:
        msg = f"seed={seed} is out of range: valid is 0 or more"
        raise InputError(msg)
    full = network.router
    s_idx, v_idx = full.index[start.node], [full.index[v.node] for v in via]
    # a loop shaped around a circle through the start (radius about L / 7.9) reaches
    # about 0.25 L from it: plan within 0.25 L + 2 km of riding first (cheaper
    # searches); only if that fails, in the exact disk of half the tolerated length,
    # which no loop can leave
    local = _reachable_router(full, s_idx, v_idx, 0.25 * target_km * 1000.0 + 2000.0)
    if local is not full:
        try:
            return _plan_on(network, local, start, via, target_km=target_km,
                            tolerance=tolerance, alternatives=alternatives, seed=seed,
                            prefs=prefs, progress=progress)
        except InfeasibleLoopError as exc:
            log.info("no loop in the near part of the network (%s); searching wider", exc)
    exact = _reachable_router(full, s_idx, v_idx, 0.55 * target_km * 1000.0 + 500.0)
    return _plan_on(network, exact, start, via, target_km=target_km, tolerance=tolerance,
                    alternatives=alternatives, seed=seed, prefs=prefs, progress=progress)


def _plan_on(
    network: Network,
    r: Router,
    start: SnappedPlace,
    via: Sequence[SnappedPlace],
    *,
    target_km: float,
    tolerance: float,
    alternatives: int,
    seed: int,
    prefs: Preferences | None,
    progress: ProgressFn | None,
) -> list[Loop]:
    """Plan on router ``r`` (the whole network or a part of it); see :func:`plan_loops`."""
    target_m = target_km * 1000.0
    weights = edge_weights(r, prefs)
    places = [start, *[v for v in via if v.node != start.node]]
    uniq: list[SnappedPlace] = []
    for p in places:
        if all(p.node != q.node for q in uniq):
            uniq.append(p)
    pts = [r.index[p.node] for p in uniq]
    if progress is not None:
        progress("shortest paths between sights", 0.0)
    len_dist = _distance_matrix(r, pts, r.length)
    unreachable = [uniq[j].place.key for j in range(1, len(pts))
                   if not (math.isfinite(len_dist[0, j]) and math.isfinite(len_dist[j, 0]))]
    if unreachable:
        msg = f"no connection by bike between the start and {', '.join(unreachable)}"
        raise DisconnectedSightsError(msg)
    order = _tour_order(len_dist)
    cycle_m, cycle_edges = (_shortest_cycle(r, pts[0]) if len(pts) == 1
                            else (math.nan, []))
    min_m = cycle_m if len(pts) == 1 else _tour_length(len_dist, order)
    if not math.isfinite(min_m):
        msg = "no loop is possible from the start: every way from it is a dead end"
        raise InfeasibleLoopError(msg)
    if min_m > target_m * (1 + tolerance):
        what = "through the requested sights" if len(pts) > 1 else "from the start"
        msg = (
            f"target {target_km:g} km is too short: the shortest loop {what} "
            f"is {_km(min_m, 1)}; choose --km of at least "
            f"{math.ceil(min_m / (1 + tolerance) / 100) / 10:.1f}"
        )
        raise InfeasibleLoopError(msg)

    # what every loop through the stops rides twice: the dead ends to them
    forced_m = r.forced_repeat_m(pts)
    most_m = _ridable_m(r, pts, forced_m)
    if target_m * (1 - tolerance) > most_m:
        msg = (
            f"target {target_km:g} km is too long for this network: a loop that rides no "
            f"way twice (dead ends to sights aside) is at most {_km(most_m, 1)} "
            f"long here (feasible range at most {_km(min_m, 1, unit=False)}–{_km(most_m, 1)})"
        )
        raise InfeasibleLoopError(msg)
    # what every loop through the stops within the tolerance rides twice
    unavoidable_m = _unavoidable_m(r, pts, target_m * (1 - tolerance))
    tol_m = max(min(0.002 * target_m, 100.0), 15.0)
    if progress is not None and "alongside" not in network.__dict__:
        progress("finding ways that run alongside each other", 0.05)
    planner = _Planner(r, weights, tol_m, alongside=_way_partners(r, network.alongside))
    protected = set(pts)
    rng = np.random.default_rng(seed)
    candidates = _shape_candidates(planner, pts, order, target_m, rng, alternatives, progress)
    if cycle_edges:
        candidates.append(_Candidate(cycle_edges, "shortest", [pts[0], int(r.dst[cycle_edges[0]]),
                                                               pts[0]],
                                     length_m=planner.length(cycle_edges)))
    if not candidates:
        msg = "no loop could be formed from the start: the network around it is too small"
        raise InfeasibleLoopError(msg)
    if progress is not None:
        progress("tuning lengths", 0.7)
    keep = max(3, alternatives + 2)
    # growing costs searches too: grow only the best-shaped short candidates
    short = [c for c in candidates if c.length_m < 0.97 * target_m]
    if len(short) > keep + 1:
        short.sort(key=lambda c: _shape_score(planner, c.edges))
        dropped = {id(c) for c in short[keep:] if c.label != "shortest"}
        candidates = [c for c in candidates if id(c) not in dropped]
    # grown on plain legs first: turn-aware searches cost most on a big network, and
    # only the loops chosen for tuning below are then routed minding turns
    candidates = _distinct_routes(planner, candidates, target_m, turns=False)
    candidates = _promising(planner, candidates, keep + _TURN_MARGIN)
    candidates = _distinct_routes(planner, candidates, target_m, turns=True)
    # tune the promising ones only: tuning costs dozens of searches per candidate
    candidates = _promising(planner, candidates, keep)

    def rank(e: list[int]) -> tuple[bool, float]:
        off = abs(planner.length(e) - target_m) > tolerance * target_m
        return off, _score(network, planner, e, target_m)

    for k, c in enumerate(candidates):
        if progress is not None:
            progress(f"tuning loop {k + 1}/{len(candidates)}",
                     0.7 + 0.08 * k / len(candidates))
        tuned = planner.tune(planner.untangle(c.edges, protected), protected, target_m)
        if abs(planner.length(tuned) - target_m) > 0.5 * tolerance * target_m:
            # untangling can lengthen a loop beyond repair (e.g. the shortest one)
            plain = planner.tune(c.edges, protected, target_m)
            if rank(plain) < rank(tuned):
                tuned = plain
        if (_repeats(planner, tuned, avoidable=True)
                or abs(planner.length(tuned) - target_m) > planner.tol_m):
            # tuning moved the loop: a repeat that could not be re-routed before may be
            # now (only a way to a dead-end stop cannot), and a loop far from the
            # target gets a second round of detours
            again = planner.tune(planner.untangle(tuned, protected), protected, target_m)
            if rank(again) < rank(tuned):
                tuned = again
        if abs(planner.length(tuned) - target_m) > tolerance * target_m:
            # the smoothest detours overshot and no detour shortens the loop again:
            # those that fix the length best may still land within the tolerance
            closest = planner.tune(c.edges, protected, target_m, closest=True)
            if rank(closest) < rank(tuned):
                tuned = closest
        if rank(c.edges) < rank(tuned):
            # tuning towards the exact length can cost more than it gains (e.g. a
            # lollipop within the tolerance traded for an out-and-back of the length)
            tuned = c.edges
        c.edges = tuned
        c.length_m = planner.length(c.edges)
        c.score = _score(network, planner, c.edges, target_m)
    candidates.sort(key=lambda c: c.score)
    # the best loops that still ride some way twice although no dead end forces it
    # are mended as edge sets (see ringroute._repair): the ways ridden twice are
    # dropped and blocks added; spurs to dead-end stops are ridden there and back
    # (costly on a big network: there in order of rank, until enough are free of them)
    cheap = r.n_edges * len(candidates) <= _REPAIR_ALL_EDGES
    clean, tries = 0, 0
    for c in candidates:
        if not cheap and (clean >= alternatives or tries > alternatives + 1):
            break
        if _repeats(planner, c.edges, avoidable=True):
            tries += 1
            c.repair_tried = True
            mended = _mended(planner, c.edges, pts, target_m, rank)
            if mended is not None:
                c.edges = mended
                c.length_m = planner.length(c.edges)
                c.score = _score(network, planner, c.edges, target_m)
        clean += not _repeats(planner, c.edges, avoidable=True)
    candidates.sort(key=lambda c: c.score)
    feasible = [c for c in candidates if abs(c.length_m - target_m) <= tolerance * target_m]
    if not feasible and max(c.length_m for c in candidates) < target_m:
        # detours could not lengthen any loop enough (a long loop fills its network):
        # grow the longest ones by faces instead
        longest_first = sorted(candidates, key=lambda c: -c.length_m)[:_LENGTHEN_TRIES]
        for k, c in enumerate(longest_first):

            def reached(length_m: float, k: int = k) -> None:
                if progress is not None:
                    progress(f"lengthening loop {k + 1}/{len(longest_first)}: "
                             f"{length_m / 1000:.1f} of {target_km:g} km",
                             0.78 + 0.02 * (k + min(length_m / target_m, 1.0))
                             / len(longest_first))

            reached(c.length_m)
            c.edges = lengthen(planner.cycles, c.edges, pts, target_m, planner.tol_m,
                               step_m=_LENGTHEN_STEP * target_m,
                               accept_m=tolerance * target_m, progress=reached)
            c.length_m = planner.length(c.edges)
            c.score = _score(network, planner, c.edges, target_m)
            if abs(c.length_m - target_m) <= tolerance * target_m:
                feasible.append(c)
                if len(feasible) >= alternatives:
                    break
    if not feasible:
        longest = max(candidates, key=lambda c: c.length_m)
        shorter = [c.length_m for c in candidates if c.length_m < target_m]
        longer = [c.length_m for c in candidates if c.length_m >= target_m]
        if not longer:
            # is the network full, or do its loops come in steps larger than the
            # tolerance (a small network)?
            grown_m = _longer_than(planner, longest.edges, pts, target_m * (1 + tolerance))
            longer = [] if grown_m is None else [grown_m]
        if longer:
            longer_km = _km(min(longer), 2)
            nearest = (f"are {_km(max(shorter), 2)} and {longer_km}" if shorter
                       else f"is {longer_km}")
            msg = (
                f"no loop within ±{tolerance:.0%} of {target_km:g} km found; the nearest "
                f"found {nearest}; choose --km near {'one of them' if shorter else 'it'} "
                f"or a larger --tolerance"
            )
        elif target_m > _FULL_SHARE * most_m:
            msg = (
                f"target {target_km:g} km is too long for this network: the longest loop "
                f"found is {_km(longest.length_m, 1)} (feasible range about "
                f"{_km(min_m, 1, unit=False)}–{_km(longest.length_m, 1)})"
            )
        else:
            # far below what the network holds: loops that double back grow badly by
            # blocks, so this is no evidence that the network holds no longer loop
            msg = (
                f"no loop within ±{tolerance:.0%} of {target_km:g} km found; the longest "
                f"found is {_km(longest.length_m, 2)}; choose --km near it or a "
                f"larger --tolerance"
            )
        raise InfeasibleLoopError(msg)
    chosen: list[_Candidate] = []
    for c in feasible:
        if _distinct(planner, c.edges, chosen) and (
                not chosen or _fair_alternative(planner, c, chosen, pts, target_m, unavoidable_m,
                                                rank)):
            chosen.append(c)
        if len(chosen) == alternatives:
            break
    done = 0.8
    apart_for = 0  # the number of loops chosen when apart tours were last tried
    for attempt in range(2 * (alternatives - len(chosen))):
        if len(chosen) >= alternatives:
            break
        done = 0.8 + 0.1 * attempt / (2 * alternatives)
        if progress is not None:
            progress(f"searching alternative {len(chosen) + 1}/{alternatives}", done)
        extra = _alternative(network, planner, pts, order, target_m, protected, chosen,
                             np.random.default_rng(seed + 1 + attempt), turn=attempt,
                             apart_tours=len(chosen) != apart_for,
                             unavoidable_m=unavoidable_m)
        apart_for = len(chosen)
        if extra is not None and extra.length_m < (1 - tolerance) * target_m:
            # as above, grown by blocks; those with the chosen loops' ways cost more
            shun = planner.shunning([e for c in chosen for e in c.edges])
            grown = lengthen(shun.cycles, _pruned(planner, extra.edges, pts), pts, target_m,
                             planner.tol_m, step_m=_LENGTHEN_STEP * target_m,
                             accept_m=tolerance * target_m)
            if _distinct(planner, grown, chosen):
                extra.edges, extra.length_m = grown, planner.length(grown)
        if (extra is not None and abs(extra.length_m - target_m) <= tolerance * target_m
                and _fair_alternative(planner, extra, chosen, pts, target_m, unavoidable_m,
                                   rank)):
            chosen.append(extra)
    # detours shaped around the network found too few (the loops chosen fill a small
    # network): anneal over its blocks from each loop chosen in turn
    tries = _DIVERGE_TRIES * (alternatives - len(chosen))
    for attempt in range(tries):
        if len(chosen) >= alternatives:
            break
        if progress is not None:
            progress(f"searching alternative {len(chosen) + 1}/{alternatives} by blocks",
                     done + (0.99 - done) * attempt / tries)
        found = diverge(planner.cycles, chosen[attempt % len(chosen)].edges, pts, target_m,
                        planner.tol_m, [c.edges for c in chosen], max_shared=_MAX_SHARED,
                        alongside=planner.alongside,
                        rng=np.random.default_rng([seed, _DIVERGE_SEED, attempt]))
        if found is None:
            continue
        extra = _Candidate(found, "alternative (blocks)", length_m=planner.length(found))
        extra.score = _score(network, planner, found, target_m)
        if (abs(extra.length_m - target_m) <= tolerance * target_m
                and _distinct(planner, found, chosen)
                and _fair_alternative(planner, extra, chosen, pts, target_m, unavoidable_m,
                                   rank)):
            chosen.append(extra)
    if len(chosen) < alternatives:
        log.warning("found %d distinct loop%s of the %d asked for; no other loop of that "
                    "length was found that shares at most %.0f%% with each and rides at "
                    "most %.0f%% twice",
                    len(chosen), "" if len(chosen) == 1 else "s", alternatives,
                    100 * _MAX_SHARED, 100 * _MAX_ALT_REPEATED)
    best = chosen[0]
    if _avoidable_share(planner, best.edges, unavoidable_m) > _MAX_ALT_REPEATED:
        # near the longest loops the network holds, the loop of the very length asked
        # may ride much twice where one a little shorter or longer rides nothing twice
        once = _clean_within(planner, best.edges, pts, target_m, tolerance, unavoidable_m)
        if once is not None and rank(once) < rank(best.edges) and _distinct(
                planner, once, chosen[1:]):
            best.edges, best.length_m = once, planner.length(once)
    for k, c in enumerate(chosen):
        others = chosen[:k] + chosen[k + 1:]
        for better in _polish(planner, c.edges, pts, target_m, rank,
                              mend=not c.repair_tried):
            if _distinct(planner, better, others):
                c.edges = better
                c.length_m = planner.length(c.edges)
    _hint_clean_length(planner, chosen[0], pts, target_m, forced_m, min_m, most_m)
    if progress is not None:
        progress("done", 1.0)
    return [_make_loop(network, planner, c, uniq, target_m) for c in chosen]


def _km(length_m: float, decimals: int, *, unit: bool = True) -> str:
    """``length_m`` in km for a message: ``decimals`` places, three below 1 km.

    A loop round a small block must not read "0.0 km". Without ``unit``, no " km"
    (the first end of a range).
    """
    return f"{length_m / 1000:.{3 if length_m < 1000 else decimals}f}" + (" km" if unit else "")


def _longer_than(planner: _Planner, edges: list[int], pts: Sequence[int], above_m: float
                 ) -> float | None:
    """The length of a loop longer than ``above_m``, a repair of ``edges`` by blocks.

    Used where no loop of the length asked was found and all were shorter: a loop
    found beyond the length shows that the network holds longer loops, and how long
    the nearest one is. Repairs (see :func:`~ringroute._repair.repair`) are sought in
    the bands :data:`_LONGER_BANDS` times ``above_m``, nearest first. ``None`` where
    none is found (the network is full).
    """
    for lo, hi in pairwise(_LONGER_BANDS):
        grown = repair(planner.cycles, edges, pts, 0.5 * (lo + hi) * above_m,
                       0.5 * (hi - lo) * above_m)
        if grown is not None and planner.length(grown) > above_m:
            return planner.length(grown)
    return None


def _polish(planner: _Planner, edges: list[int], pts: Sequence[int], target_m: float,
            rank: Callable[[list[int]], tuple[bool, float]], *, mend: bool = True
            ) -> Iterator[list[int]]:
    """Better versions of a chosen loop, each improving on the one before.

    A loop that rides a way twice although no dead end forces it is mended as an
    edge set (see :func:`~ringroute._repair.repair`; with ``mend`` false because that was
    tried on these edges already, it is not); then it is straightened -- blocks
    flipped where that turns less and rides better ways at the same length (see
    :func:`~ringroute._straighten.straighten`) -- and smoothed -- stretches exchanged in
    pairs that keep the length (see :mod:`ringroute._exchange`) -- each if that ranks
    better and turns no more often.
    """
    if mend and _repeats(planner, edges, avoidable=True):
        mended = _mended(planner, edges, pts, target_m, rank)
        if mended is not None:
            edges = mended
            yield edges
    if abs(planner.length(edges) - target_m) <= planner.tol_m:
        straight = straighten(planner.cycles, edges, pts, target_m, planner.tol_m)
        if (straight is not None and rank(straight) < rank(edges)
                and _turn_count(planner, straight) <= _turn_count(planner, edges)):
            edges = straight
            yield edges
        smooth = planner.exchange.improve(edges, pts, target_m, planner.tol_m)
        if (smooth is not None and rank(smooth) < rank(edges)
                and _turn_count(planner, smooth) <= _turn_count(planner, edges)):
            yield smooth


def _mended(planner: _Planner, edges: list[int], pts: Sequence[int], target_m: float,
            rank: Callable[[list[int]], tuple[bool, float]]) -> list[int] | None:
    """The loop repaired (see :func:`~ringroute._repair.repair`), if that ranks better."""
    mended = repair(planner.cycles, edges, pts, target_m, planner.tol_m)
    return mended if mended is not None and rank(mended) < rank(edges) else None


def _alternative(network: Network, planner: _Planner, pts: Sequence[int],
                 order: Sequence[int], target_m: float, protected: set[int],
                 chosen: Sequence[_Candidate], rng: np.random.Generator, *, turn: int = 0,
                 apart_tours: bool = True, unavoidable_m: float = 0.0) -> _Candidate | None:
    """One more loop that avoids the ways of the loops already chosen.

    Attempt ``turn`` (0, 1, ...) shapes its loops in directions turned by a sixth of a
    circle each time, so that a failed attempt is not repeated. With ``apart_tours``
    the shortest loops through the sights away from the chosen ones (see
    :func:`_apart_tours`), the tour and the shortest loop are tried too; they do not
    change with ``turn``, so later attempts with the same loops chosen leave them out.
    Of the loops found, the best ranked that rides at most :data:`_MAX_ALT_REPEATED`
    twice beyond ``unavoidable_m`` is returned, else the best ranked.
    """
    used = [e for c in chosen for e in c.edges]
    alt = planner.shunning(used)
    # the loops chosen may fill much of a small network: where detours that shun their
    # ways cannot lengthen the new loop enough, detours may share some of them
    tuners = [alt, planner.shunning(used, 1.0), planner]
    best: _Candidate | None = None
    best_key = (True, math.inf)
    shapes = _shape_candidates(alt, pts, order, target_m, rng, 1, None,
                               turn_rad=turn * math.pi / 3, tours=apart_tours)
    apart = _apart_tours(planner, pts, used, _APART_NEAR * target_m) if apart_tours else []
    for c in [*apart, *shapes]:
        _route_turns(alt, c, target_m)
        routed = c.edges
        base = alt.untangle(routed, protected)
        tuned: list[int] | None = None
        # detours shorten a loop far over the target too little (see _ALT_TUNE_OVER)
        if planner.length(base) <= _ALT_TUNE_OVER * target_m:
            for tuner in tuners:
                tuned = tuner.tune(base, protected, target_m)
                if (abs(planner.length(tuned) - target_m) <= planner.tol_m
                        and _distinct(planner, tuned, chosen)):
                    break
        # untangling and tuning can cost more than they gain (a loop near the target
        # that rides a little twice, grown much too long by untangling it)
        c.edges, c.score = [], math.inf
        for option in (tuned, base, routed):
            if not option:
                continue
            score = _score(network, planner, option, target_m)
            if score < c.score and _distinct(planner, option, chosen):
                c.edges, c.score = option, score
        if not c.edges:
            continue
        c.length_m = planner.length(c.edges)
        key = (_avoidable_share(planner, c.edges, unavoidable_m) > _MAX_ALT_REPEATED, c.score)
        if best is None or key < best_key:
            best, best_key = c, key
    if best is not None:
        best.label = f"alternative ({best.label})"
    return best


def _apart_tours(p: _Planner, pts: Sequence[int], used: Sequence[int], min_m: float
                 ) -> list[_Candidate]:
    """The shortest loops through the stops where the corridor of ``used`` is dearer.

    For each factor f of :data:`_APART_PENALTIES`, the ways ridden by the loops chosen
    and the ways alongside them count 1 + f times their length; the best visiting order is
    chosen again on those lengths (a loop through the sights in another order often
    shares little with the first), exactly for up to :data:`_EXACT_TSP_MAX` stops.
    Near the shortest loop through the sights, detours shaped around the network are
    all too long; these are not. The loops may ride some ways twice where their legs
    meet; tuning and repairs mend that. Only loops of at least ``min_m`` are kept:
    a loop much shorter than the target would be grown by detours, as the loops
    shaped around the network are. None for a loop through the start alone.
    """
    if len(pts) < 2 or not used:
        return []
    r = p.r
    near = p.corridor(used)[r.ways.of_edge]
    out: list[_Candidate] = []
    for penalty in _APART_PENALTIES:
        w = r.length * (1.0 + penalty * near)
        paths = {a: r.shortest_paths(a, w) for a in dict.fromkeys(pts)}
        dist = np.asarray([paths[a].dist[list(pts)] for a in pts])
        tour = [pts[0], *[pts[i] for i in _tour_order(dist)], pts[0]]
        edges = [e for a, b in pairwise(tour) if a != b for e in r.path_edges(paths[a], b)]
        if edges and p.length(edges) >= min_m and all(edges != c.edges for c in out):
            out.append(_Candidate(edges, f"apart {penalty:g}", tour,
                                  length_m=p.length(edges)))
    return out


def _fair_alternative(planner: _Planner, c: _Candidate, chosen: Sequence[_Candidate],
                      pts: Sequence[int], target_m: float, unavoidable_m: float,
                      rank: Callable[[list[int]], tuple[bool, float]]) -> bool:
    """Whether loop ``c`` may be offered beside ``chosen``.

    It may if it rides at most :data:`_MAX_ALT_REPEATED` of its length twice beyond
    what every loop of about its length through the stops rides twice
    (``unavoidable_m``, see :func:`_unavoidable_m`). A loop over that is repaired first
    (see :func:`~ringroute._repair.repair`) if no repair was tried on it; the repair
    is kept if it ranks better and stays distinct.
    """
    if (_avoidable_share(planner, c.edges, unavoidable_m) > _MAX_ALT_REPEATED
            and not c.repair_tried):
        c.repair_tried = True
        mended = _mended(planner, c.edges, pts, target_m, rank)
        if mended is not None and _distinct(planner, mended, chosen):
            c.edges, c.length_m = mended, planner.length(mended)
    return _avoidable_share(planner, c.edges, unavoidable_m) <= _MAX_ALT_REPEATED


def _clean_within(planner: _Planner, edges: list[int], pts: Sequence[int], target_m: float,
                  tolerance: float, unavoidable_m: float) -> list[int] | None:
    """A loop within the tolerance that rides nothing twice beyond ``unavoidable_m``.

    Repairs of the loop (see :func:`~ringroute._repair.repair`) are sought at
    :data:`_CLEAN_WITHIN` of the tolerance below and above the target, nearest
    first; the first that rides nothing else twice is returned (``None``: none).
    """
    return _first_clean(planner, edges, pts, unavoidable_m,
                        [(target_m * (1.0 + sign * k * tolerance), 0.1 * tolerance * target_m)
                         for k in _CLEAN_WITHIN for sign in (-1.0, 1.0)])


def _first_clean(planner: _Planner, edges: list[int], pts: Sequence[int], forced_m: float,
                 wants: Sequence[tuple[float, float]]) -> list[int] | None:
    """The first repair of the loop that rides nothing twice but the dead ends to the stops.

    Repairs are sought at ``wants`` (length, tolerance; m) in order; ``None``: none.
    """
    for want_m, tol_m in wants:
        clean = repair(planner.cycles, edges, pts, want_m, tol_m)
        if clean is not None and _avoidable_share(planner, clean, forced_m) < 1e-6:
            return clean
    return None


def _hint_clean_length(planner: _Planner, best: _Candidate, pts: Sequence[int],
                       target_m: float, forced_m: float, least_m: float, most_m: float
                       ) -> None:
    """Tell how long a loop riding nothing twice would be, if the best one doubles back.

    Near the shortest loop through the stops, the only loop of the length asked may
    ride much of its way twice (an out-and-back); near the longest the network holds,
    too. If the best loop rides more than :data:`_MAX_ALT_REPEATED` of its length
    twice beyond the dead ends to the stops (``forced_m``), loops of
    :data:`_CLEAN_FACTORS`, then :data:`_CLEAN_SHORTER` times the target (between
    ``least_m`` and ``most_m``) are sought (repairs of it) and the first that rides
    nothing twice but those dead ends is named in a warning.
    """
    if _avoidable_share(planner, best.edges, forced_m) <= _MAX_ALT_REPEATED:
        return
    wants = [factor * target_m for factor in (*_CLEAN_FACTORS, *_CLEAN_SHORTER)]
    clean = _first_clean(planner, best.edges, pts, forced_m,
                         [(w, 0.05 * w) for w in wants if least_m <= w <= most_m])
    if clean is not None:
        log.warning("the loop rides %.0f%% of its length twice; a loop that rides "
                    "nothing twice (dead ends to sights aside) is about %.1f km long "
                    "here: try --km %.1f",
                    100 * _repeated_share(planner, best.edges),
                    planner.length(clean) / 1000, planner.length(clean) / 1000)


def _pruned(p: _Planner, edges: Sequence[int], stops: Sequence[int]) -> list[int]:
    """The loop without the rounds that make it ride a way twice, where no stop needs them.

    Where a loop rides a way (not a bridge) a second time, the part between the two
    rides is a round from the way's end back to it (ridden the other way) or to its
    start (the same way); the loop without that round, and without the second ride,
    is still closed. It is dropped if the rest is longer and still passes every stop
    (a loop that leaves the start and comes home by the same way keeps its round;
    the ride there and back stays). Lengthening
    (see :func:`~ringroute._repair.lengthen`) can grow the shorter loop left; it
    cannot grow one that rides ways twice where one-way streets block the repair.
    """
    cur = list(edges)
    r = p.r
    while True:
        idx = np.asarray(cur, dtype=np.int64)
        first: dict[int, int] = {}
        for j, (w, bridge) in enumerate(zip(p.phys[idx].tolist(),
                                            r.bridge_edge[idx].tolist(), strict=True)):
            if bridge:
                continue
            i = first.setdefault(w, j)
            if i == j:
                continue
            end = j if r.src[cur[i]] == r.src[cur[j]] else j + 1
            kept = cur[:i] + cur[end:]
            if (kept and p.length(kept) > p.length(cur[i:end])
                    and set(stops) <= {int(v) for v in r.src[np.asarray(kept)]}):
                cur = kept
                break
        else:
            return cur


def _avoidable_share(p: _Planner, edges: Sequence[int], forced_m: float) -> float:
    """Share of the loop's length on ways it rides more than once, less ``forced_m``."""
    return max(0.0, _repeated_share(p, edges) - forced_m / max(p.length(edges), 1.0))


def _repeated_share(p: _Planner, edges: Sequence[int]) -> float:
    """Share of the loop's length on ways it rides more than once (either direction)."""
    idx = np.asarray(edges, dtype=np.int64)
    return repeated_share(p.phys[idx].tolist(), p.r.length[idx].tolist())


def _unavoidable_m(r: Router, pts: Sequence[int], length_m: float) -> float:
    """What every closed walk of at least ``length_m`` through node indices ``pts`` repeats.

    The dead ends to the stops (:meth:`~ringroute._router.Router.forced_repeat_m`)
    and, where the parts of the network near the stops hold less than the length,
    the single links to farther parts there and back, or near ways twice
    (:meth:`~ringroute._router.Router.least_repeat_m`, which grows with the length).
    """
    return max(r.forced_repeat_m(pts), r.least_repeat_m(pts, length_m))


def _ride_back_share(p: _Planner, edges: Sequence[int]) -> float:
    """Share of the loop's length on ways ridden twice or alongside another of its ways.

    Out on a road and back on the cycle track beside it (or on the other carriageway)
    is a ride there and back for a cyclist, though each way is ridden once; ranking
    counts it like a way ridden twice (see :mod:`ringroute._alongside`).
    """
    if not len(p.alongside[0]):
        return _repeated_share(p, edges)
    idx = np.asarray(edges, dtype=np.int64)
    ways = p.r.ways.of_edge[idx]
    rides = np.bincount(ways, minlength=len(p.r.ways.a))
    back = (rides[ways] > 1) | beside(rides > 0, p.alongside)[ways]
    length = p.r.length[idx]
    return float(length[back].sum() / max(float(length.sum()), 1.0))


def _way_partners(r: Router, alongside: Mapping[WayKey, frozenset[WayKey]]
                  ) -> tuple[IntArray, IntArray]:
    """:attr:`ringroute.network.Network.alongside` as pairs of ``r``'s way numbers.

    Way ``first[i]`` runs alongside way ``second[i]`` (see :attr:`Router.ways`). Ways
    with an end off ``r`` (a part of the network) are left out.
    """
    def ends(key: WayKey) -> tuple[int, int] | None:
        i, j = r.index.get(key[0]), r.index.get(key[1])
        return None if i is None or j is None else (i, j)

    own: list[tuple[int, int]] = []
    near: list[tuple[int, int]] = []
    for key, others in alongside.items():
        mine = ends(key)
        if mine is None:
            continue
        for other in filter(None, map(ends, others)):
            own.append(mine)
            near.append(other)
    a = np.asarray(own, dtype=np.int64).reshape(-1, 2)
    b = np.asarray(near, dtype=np.int64).reshape(-1, 2)
    return r.way_of(a[:, 0], a[:, 1]), r.way_of(b[:, 0], b[:, 1])


def _ridable_m(r: Router, stops: Sequence[int], forced_m: float) -> float:
    """An upper bound (m) on a loop through ``stops`` riding nothing twice but dead ends.

    It rides at most :meth:`~ringroute._router.Router.ridable_once_m` once, and the
    dead ends to the stops (``forced_m``, there and back).
    """
    return r.ridable_once_m(stops) + forced_m


def _reachable_router(r: Router, start: int, via: Sequence[int], radius_m: float) -> Router:
    """The part of the network within ``radius_m`` of riding from and to ``start``.

    No point of a loop is farther than half its length from the start, so a radius
    of half the (tolerated) length loses nothing and makes every search on a large
    network cheaper. Small networks and radii that keep most nodes return ``r``.
    """
    if r.n_nodes < 20_000:
        return r
    out = r.shortest_paths(start, r.length, limit=radius_m)
    keep = np.isfinite(out.dist)
    if keep.all() or not all(keep[v] for v in via):
        return r
    back = r.shortest_paths_to(start, r.length, limit=radius_m)
    keep &= np.isfinite(back.dist)
    if keep.sum() > 0.8 * r.n_nodes:
        return r
    return r.subset(keep)


def _repeats(p: _Planner, edges: Sequence[int], *, avoidable: bool = False) -> int:
    """Number of traversals of ways the loop has already ridden (``avoidable``: off bridges)."""
    idx = np.asarray(edges, dtype=np.int64)
    if avoidable:
        idx = idx[~p.r.bridge_edge[idx]]
    phys = p.phys[idx]
    return len(phys) - len(np.unique(phys))


def _distinct(p: _Planner, edges: Sequence[int], others: Sequence[_Candidate]) -> bool:
    """Whether the loop ``edges`` shares at most :data:`_MAX_SHARED` with each of ``others``."""
    return all(_shared_share(p, edges, o.edges) <= _MAX_SHARED for o in others)


def _shared_share(p: _Planner, a: Sequence[int], b: Sequence[int]) -> float:
    """Share of the shorter loop's length that follows the other's corridor.

    A way counts as shared where the other loop rides it or a way it runs alongside
    (:meth:`_Planner.corridor`): two loops, one on a road and one on the cycle track
    beside it, are one route to a cyclist. Each loop's shared length is measured on
    its own ways, and the larger one counts.
    """
    ia, ib = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    of_edge, length = p.r.ways.of_edge, p.r.length
    shared = max(float(length[ia][p.corridor(b)[of_edge[ia]]].sum()),
                 float(length[ib][p.corridor(a)[of_edge[ib]]].sum()))
    return shared / max(1.0, min(p.length(a), p.length(b)))


def _quick_score(p: _Planner, edges: Sequence[int], target_m: float) -> float:
    idx = np.asarray(edges, dtype=np.int64)
    length = float(p.r.length[idx].sum())
    err = max(0.0, abs(length - target_m) / target_m - 0.02)
    rep = _ride_back_share(p, edges)
    return 3.0 * err + 10.0 * rep + float(p.w[idx].sum()) / max(length, 1.0)


def _score(network: Network, p: _Planner, edges: Sequence[int], target_m: float) -> float:
    idx = np.asarray(edges, dtype=np.int64)
    length = float(p.r.length[idx].sum())
    err = abs(length - target_m) / target_m
    rep = _ride_back_share(p, edges)
    cost_ratio = float(p.w[idx].sum()) / max(length, 1.0)
    # beyond half a per cent the length error outweighs everything: riders asked for it
    return (10.0 * err + 100.0 * max(0.0, err - 0.005) + 30.0 * rep + cost_ratio
            + _SCORE_PER_TURN_KM * _turn_count(p, edges) / max(length / 1000.0, _SCORE_TURN_KM)
            + _SCORE_ANY_REPEAT * (_repeats(p, edges, avoidable=True) > 0))


def _shape_score(p: _Planner, edges: Sequence[int]) -> float:
    """Rank loops by shape alone: repeats, bike cost and turning, not length."""
    if not edges:
        return math.inf
    idx = np.asarray(edges, dtype=np.int64)
    length = float(p.r.length[idx].sum())
    rep = _ride_back_share(p, edges)
    return 10.0 * rep + float(p.w[idx].sum()) / max(length, 1.0) + 0.1 * (
        _junction_turns_per_km(p, edges))


def _turn_count(p: _Planner, edges: Sequence[int]) -> int:
    """Turns of more than 50° where consecutive edges meet."""
    idx = np.asarray(edges, dtype=np.int64)
    if len(idx) < 2:
        return 0
    return int(np.count_nonzero(p.r.turn_angle_deg(idx[:-1], idx[1:]) > TURN_ANGLE_DEG))


def _added_turns(p: _Planner, edges: Sequence[int], i: int, j: int,
                 new: Sequence[int]) -> int:
    """Turns gained by replacing ``edges[i:j]`` of the closed loop with ``new``.

    The junctions with the loop count: the edge before the first is the last one.
    """
    before, after = edges[i - 1], edges[j % len(edges)]
    return (_turn_count(p, [before, *new, after])
            - _turn_count(p, [before, *edges[i:j], after]))


def _junction_turns_per_km(p: _Planner, edges: Sequence[int]) -> float:
    """Turns of more than 50° where consecutive edges meet, per km (a cheap proxy)."""
    if len(edges) < 2:
        return 0.0
    return _turn_count(p, edges) / max(p.length(edges) / 1000.0, 1e-3)


def _clear_of(tree: cKDTree, r: Router, nodes: IntArray, clear_m: float, count: int = 6,
              chunk: int = 48) -> IntArray:
    """The first ``count`` of ``nodes`` that lie at least ``clear_m`` from every point of ``tree``.

    Measured a chunk at a time: the first few usually are.
    """
    out: list[IntArray] = []
    found = 0
    for k in range(0, len(nodes), chunk):
        part = nodes[k:k + chunk]
        clearance, _ = tree.query(np.column_stack([r.xm[part], r.ym[part]]),
                                  distance_upper_bound=clear_m)
        part = part[clearance >= clear_m][:count - found]
        out.append(part)
        found += len(part)
        if found >= count:
            break
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _shape_candidates(
    p: _Planner,
    pts: Sequence[int],
    order: Sequence[int],
    target_m: float,
    rng: np.random.Generator,
    alternatives: int,
    progress: ProgressFn | None,
    *,
    turn_rad: float = 0.0,
    tours: bool = True,
) -> list[_Candidate]:
    """Loops to start from: the tour, the shortest loop, and circle-shaped loops.

    The circles leave the start in several directions: towards the sights (or at
    random without any), turned by ``turn_rad``. Without ``tours``, only the circles
    (the tour and the shortest loop do not change with the direction).
    """
    r = p.r
    sx = r.xm[pts]
    sy = r.ym[pts]
    start_x, start_y = float(sx[0]), float(sy[0])
    if len(pts) > 1:
        cx, cy = float(sx[1:].mean()), float(sy[1:].mean())
    else:
        cx, cy = start_x, start_y
    if math.hypot(cx - start_x, cy - start_y) > 300.0:
        theta0 = math.atan2(cy - start_y, cx - start_x)
        spreads = [0.0, 0.7, -0.7, 1.4, -1.4, math.pi]
    else:
        theta0 = float(rng.uniform(0, 2 * math.pi))
        spreads = [k * 2 * math.pi / 6 for k in range(6)]
    theta0 += turn_rad
    n_dirs = min(len(spreads), max(2, alternatives + 1))
    out: list[_Candidate] = []
    tour = [pts[0], *[pts[i] for i in order], pts[0]]
    tour_edges = p.route(tour) if tours else []
    if tour_edges:
        out.append(_Candidate(tour_edges, "tour", tour, length_m=p.length(tour_edges)))
        # the exact shortest loop: guarantees a plan whenever the target is feasible
        shortest = [e for a, b in pairwise(tour) if a != b
                    for e in r.path_edges(r.shortest_paths(a, r.length), b)]
        out.append(_Candidate(shortest, "shortest", tour, length_m=p.length(shortest)))
    jobs = [(theta0 + d, o) for d in spreads[:n_dirs] for o in (1, -1)]
    routed: dict[tuple[int, ...], tuple[list[int], float]] = {}
    for n, (theta, orient) in enumerate(jobs):
        if progress is not None:
            progress(f"shaping loop {n + 1}/{len(jobs)}", 0.05 + 0.65 * n / len(jobs))
        cand = _search_radius(p, pts, theta, orient, target_m, routed)
        if cand is not None and cand.edges:
            cand.label = f"dir {math.degrees(theta) % 360:.0f}° {'ccw' if orient > 0 else 'cw'}"
            out.append(cand)
    return out


def _circle_controls(p: _Planner, pts: Sequence[int], theta: float, orient: int,
                     radius: float) -> list[int]:
    r = p.r
    x0, y0 = float(r.xm[pts[0]]), float(r.ym[pts[0]])
    cx, cy = x0 + radius * math.cos(theta), y0 + radius * math.sin(theta)
    phi0 = math.atan2(y0 - cy, x0 - cx)

    def frac(x: float, y: float) -> float:
        ang = math.atan2(y - cy, x - cx)
        return ((ang - phi0) * orient) % (2 * math.pi) / (2 * math.pi)

    items: list[tuple[float, int]] = [(frac(float(r.xm[i]), float(r.ym[i])), i) for i in pts[1:]]
    n_shape = max(4, min(10, round(2 * math.pi * radius / 3000.0)))
    sight_fracs = [f for f, _ in items]
    beyond: list[tuple[float, int]] = []
    # points round the circle, away from the sights
    fracs = [f for f in (k / (n_shape + 1) for k in range(1, n_shape + 1))
             if all(abs(f - sf) >= 0.5 / (n_shape + 1) for sf in sight_fracs)]
    angles = [phi0 + orient * 2 * math.pi * f for f in fracs]
    dists, nodes = r.nearest_core([cx + radius * math.cos(a) for a in angles],
                                  [cy + radius * math.sin(a) for a in angles])
    for f, dist, node in zip(fracs, dists.tolist(), nodes.tolist(), strict=True):
        if dist <= min(800.0, max(300.0, 0.15 * radius)):
            items.append((f, node))
        else:
            beyond.append((f, node))
    if len(items) < 2:
        # the circle lies beyond the network's edge: follow the edge instead
        items += beyond
    items.sort()
    seq = [pts[0], *[i for _, i in items], pts[0]]
    return [c for k, c in enumerate(seq) if k == 0 or c != seq[k - 1]]


def _search_radius(p: _Planner, pts: Sequence[int], theta: float, orient: int,
                   target_m: float,
                   routed: dict[tuple[int, ...], tuple[list[int], float]]) -> _Candidate | None:
    """The circle-shaped loop in direction ``theta`` nearest to ``target_m`` long.

    ``routed`` holds the routes (and lengths) of controls routed before on ``p``: a
    circle far beyond a small network's edge keeps its controls as the radius or
    the direction changes, and the same controls give the same route.
    """
    radius = target_m / (2 * math.pi * 1.25)
    best: _Candidate | None = None
    history: list[tuple[float, float]] = []
    for _ in range(6):
        controls = _circle_controls(p, pts, theta, orient, radius)
        key = tuple(controls)
        if key not in routed:
            route = [e for leg in p.route_legs(controls, turns=False) for e in leg]
            routed[key] = (route, p.length(route))
        edges, length = routed[key]
        if best is None or abs(length - target_m) < abs(best.length_m - target_m):
            best = _Candidate(edges, "", controls, length_m=length)
        if abs(length - target_m) <= 0.04 * target_m:
            break
        history.append((radius, length))
        if len(history) >= 2 and abs(history[-1][1] - history[-2][1]) > 1.0:
            (r1, l1), (r2, l2) = history[-2], history[-1]
            slope = (l2 - l1) / (r2 - r1) if r2 != r1 else 0.0
            new_r = r2 + (target_m - l2) / slope if slope > 0 else r2 * target_m / max(l2, 1.0)
        else:
            new_r = radius * target_m / max(length, 1.0)
        radius = float(np.clip(new_r, radius * 0.3, radius * 3.0))
        if radius < 50.0:
            break
    if best is not None:
        best.turn_routed = False  # routed minding turns once chosen (see _route_turns)
    return best


def _promising(p: _Planner, candidates: Sequence[_Candidate], keep: int) -> list[_Candidate]:
    """The ``keep`` best scored candidates, preferring a diverse set, and the shortest loop.

    Alternatives must differ, so the set is filled by score with loops distinct from
    those taken, and then by score alone; the exact shortest loop always stays: it
    is feasible whenever the target is.
    """
    ranked = sorted(candidates, key=lambda c: c.score)
    diverse: list[_Candidate] = []
    for c in ranked:
        if len(diverse) < keep and _distinct(p, c.edges, diverse):
            diverse.append(c)
    rest = [c for c in ranked if c not in diverse]
    diverse += rest[: max(0, keep - len(diverse))]
    return diverse + [c for c in rest if c.label == "shortest" and c not in diverse]


def _distinct_routes(p: _Planner, candidates: Sequence[_Candidate], target_m: float, *,
                     turns: bool) -> list[_Candidate]:
    """The candidates routed by :func:`_route_turns` and quickly scored, repeats left out."""
    routed: list[_Candidate] = []
    for c in candidates:
        _route_turns(p, c, target_m, turns=turns)
        c.score = _quick_score(p, c.edges, target_m)
        # the shortest loop grown through the tour's stops often becomes the tour
        if all(c.edges != o.edges for o in routed):
            routed.append(c)
    return routed


def _route_turns(p: _Planner, c: _Candidate, target_m: float, *, turns: bool = True) -> None:
    """Grow a short candidate, and route a plain one minding turns.

    Without ``turns`` the legs a candidate grows stay plain (a cheap first look, for
    ranking); calling again with ``turns`` then routes them minding turns.
    """
    if c.length_m < 0.97 * target_m and not c.grown:
        n_controls = len(c.controls)
        c.controls, c.edges = p.grow(c.controls, target_m, c.edges,
                                     turn_routed=c.turn_routed, reroute=turns)
        c.grown = True
        c.turn_routed = turns or (c.turn_routed and len(c.controls) == n_controls)
    elif not c.turn_routed and turns:
        c.edges = p.reroute(c.controls, c.edges, target_m) if c.grown else p.route(c.controls)
        c.turn_routed = True
    c.length_m = p.length(c.edges)


def _make_loop(network: Network, p: _Planner, c: _Candidate, places: Sequence[SnappedPlace],
               target_m: float) -> Loop:
    r = p.r
    idx = np.asarray(c.edges, dtype=np.int64)
    seg_len = r.length[idx]
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    nodes = p.nodes_of(c.edges)
    # stops in visit order
    stop_pos: list[tuple[int, SnappedPlace]] = []
    for place in places[1:]:
        ni = r.index[place.node]
        pos = nodes.index(ni)
        stop_pos.append((pos, place))
    stop_pos.sort(key=lambda t: t[0])
    stops = [Stop(place=places[0], at_m=0.0)]
    stops += [Stop(place=pl, at_m=float(cum[pos])) for pos, pl in stop_pos]
    edges = [
        (int(r.node_ids[r.src[e]]), int(r.node_ids[r.dst[e]]), int(r.key[e])) for e in c.edges
    ]
    lat, lon, cum_pts, node_vertex = _polyline(network, p, c.edges)
    length = float(cum[-1])
    # bridges are judged on the whole network (a part of it has extra bridges at its rim)
    full = network.router
    stop_idx = [full.index[pl.node] for pl in places]
    classes = [r.way_class[int(e)] for e in c.edges]
    return Loop(
        target_m=target_m,
        length_m=length,
        stops=stops,
        edges=edges,
        lat=lat,
        lon=lon,
        overlap_ratio=repeated_share(p.phys[idx].tolist(), seg_len.tolist()),
        forced_overlap_ratio=min(1.0, _unavoidable_m(full, stop_idx, length) / max(length, 1.0)),
        way_class_m=class_shares(classes, seg_len.tolist()),
        turns_per_km=turns_per_km(lat, lon, length),
        cost=float(p.w[idx].sum()),
        cum_m=cum_pts,
        node_vertex=node_vertex,
        label=c.label,
    )


def _polyline(
    network: Network, p: _Planner, route: Sequence[int]
) -> tuple[list[float], list[float], list[float], list[int]]:
    """Return the track of a route.

    That is: full-resolution ``lat, lon``, the distance at each vertex, and the vertex
    index of every graph node passed (edge ends, in order).
    """
    if not route:
        return [], [], [], []
    r = p.r
    idx = np.asarray(route, dtype=np.int64)
    seg_len = r.length[idx]
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    lons: list[FloatArray] = []
    lats: list[FloatArray] = []
    cums: list[FloatArray] = []
    starts = [0]
    count = 0
    for n, e in enumerate(route):
        u = int(r.node_ids[r.src[e]])
        v = int(r.node_ids[r.dst[e]])
        lon, lat, frac = network.edge_track(u, v, int(r.key[e]))
        first = 0 if n == 0 else 1  # the vertex shared with the edge before
        lons.append(lon[first:])
        lats.append(lat[first:])
        # distance along the route of each vertex (proportional within the edge)
        cums.append(cum[n] + frac[first:] * seg_len[n])
        count += len(lon) - first
        starts.append(count - 1)
    return (np.concatenate(lats).tolist(), np.concatenate(lons).tolist(),
            np.concatenate(cums).tolist(), starts)
