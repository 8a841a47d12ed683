"""Repair a loop that rides ways twice, or lengthen one, by adding faces of the street map.

The ways a loop rides an even number of times are dropped (what is left still has
even degrees, see :mod:`ringroute._cyclespace`), the parts left are joined, and
faces are added one at a time until the set is connected, contains every stop and
has the target length. A circuit through the set is the new loop.

A stop at the end of a dead end lies on no cycle: every loop rides the bridges to it
there and back. Those spurs are set aside -- the set is built in the 2-edge-connected
part of the network the stops hang on, through the nodes the spurs leave it at, for
the target less the spurs' length -- and ridden out and back from there.

:func:`lengthen` uses the same search to grow a valid loop that detours could not
bring up to its target: it takes the loop as the set to start from and asks for a
little more length at a time.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ringroute._alongside import beside
from ringroute._cyclespace import SHUN_M, Aside, CycleSpace
from ringroute._types import BoolArray, FloatArray, IntArray

#: candidate faces tried per step, closest to the target length first
_TRY_PER_STEP = 60
#: faces tried first when two are added at once (see ``_search_pair``)
_PAIR_FIRST = 8
#: a lengthening step that fails is halved, not below this many tolerances (see
#: :func:`lengthen`); lengthening stops after this many failed steps in all (each is
#: a whole search: a loop that cannot grow must not take minutes to say so)
_MIN_STEP_TOLS = 4.0
_MAX_FAILED_STEPS = 12
#: :func:`diverge`: face moves per search and the temperatures it cools between
#: (units of :meth:`CycleSpace.state`: 10 per part too many, 1 per node no circuit
#: can balance, 10 per target of length error, 10 per share too many shared)
_DIVERGE_STEPS = 6000
_DIVERGE_HOT = 1.0
_DIVERGE_COLD = 0.002
#: and at most this many moves times ways of the loop (a move costs about as much as
#: the loop has ways: a long loop on a large network gets fewer)
_DIVERGE_WORK = 3_000_000
#: a search whose best set is still this far from a valid loop (same units) after
#: this share of its moves gives up. Measured on the University strip (60 requests of
#: 5 and 8 km, 3 loops each): every search that succeeded was within 0.53 by then,
#: and succeeded by 91 % of its moves; on Heidelberg, near the shortest loop, searches
#: that never succeeded were 1.9 to 25 away
_DIVERGE_HOPELESS = 1.5
_DIVERGE_CHECK = 0.375
#: ... and one whose best set is still split in parts or off a stop (10 or more)
#: after this share of its moves. Alternatives of 6 and 8 km on the University
#: strip (146 searches): those that succeeded were at most 3.2 away by then; searches
#: near the shortest loop on the Science City and Heidelberg that never succeeded
#: were 10 to 24 away at 3/8 of their moves
_DIVERGE_SPLIT = 10.0
_DIVERGE_EARLY = 0.125


def repair(cs: CycleSpace, edges: Sequence[int], stops: Sequence[int], target_m: float,
           tol_m: float, *, max_moves: int = 80, flow: bool = False) -> list[int] | None:
    """A loop riding no way twice, near ``target_m``, through the same stops.

    Parameters
    ----------
    cs
        The network's faces.
    edges
        The loop (directed edge indices, a closed walk from ``stops[0]``).
    stops
        Node indices the new loop must pass; it starts at ``stops[0]``.
    target_m
        Wanted length.
    tol_m
        Accepted length error.
    max_moves
        Faces added at most.
    flow
        Of the faces that bring the set within ``tol_m`` of the target, try those
        that add the least turn cost and extra cost first (see ``_face_keys``).

    Returns
    -------
    list of int or None
        The new loop, or ``None`` if no repair was found. Dead-end spurs to
        stops are ridden there and back (every loop must), and a smaller part
        hanging by a bridge is crossed by a cycle (see :meth:`CycleSpace.set_aside`).
    """
    start = _main_part(cs, edges, stops, target_m, tol_m)
    if start is None:
        return None
    odd, aside, target_m = start
    rerouted = _reroute_same_way(cs, odd, np.asarray(edges, dtype=np.int64))
    joined = None if rerouted is None else cs.join(rerouted, aside.stops)
    if joined is None:
        return None
    rode = cs.directions(np.asarray(edges, dtype=np.int64))
    chosen = _search(cs, joined, aside.stops, target_m, tol_m, max_moves, flow=flow,
                     prefer=rode)
    if chosen is None:
        return None
    return cs.circuit(chosen | aside.ways, stops[0], aside.edges, rode)


def _main_part(cs: CycleSpace, edges: Sequence[int], stops: Sequence[int], target_m: float,
               tol_m: float) -> tuple[BoolArray, Aside, float] | None:
    """Where a repair starts: the loop's main part, what is set aside, the length left.

    The loop's ways ridden an odd number of times in the main part, what is set
    aside (see :meth:`CycleSpace.set_aside`) and the length left for the main part;
    ``None`` if there are no faces, no loop, nothing can be set aside or no length is
    left.
    """
    if cs.n_faces == 0 or not len(edges):
        return None
    ways = cs.phys[np.asarray(edges, dtype=np.int64)]
    aside = cs.set_aside(stops, ways)
    if aside is None or target_m - aside.length_m <= tol_m:
        return None
    used = np.bincount(ways, minlength=len(cs.a)) % 2 == 1
    used &= ~cs.bridge & (cs.part[cs.a] == aside.main)
    return used, aside, target_m - aside.length_m


def lengthen(cs: CycleSpace, edges: Sequence[int], stops: Sequence[int], target_m: float,
             tol_m: float, *, step_m: float, max_moves: int = 100, accept_m: float = 0.0,
             progress: Callable[[float], None] | None = None) -> list[int]:
    """The loop grown by faces towards ``target_m``, a step of at most ``step_m`` at a time.

    Each step asks :func:`repair` for a loop a fifth to all of ``step_m`` longer
    than the last one, starting from the last one's ways; the last step asks for
    ``target_m`` itself (within ``tol_m``), then within ``accept_m`` of it (where the
    loops a network holds come in steps larger than ``tol_m``, the nearest may lie
    beyond the target), else for as close below it as a step gets.
    A step that finds none is halved, down to :data:`_MIN_STEP_TOLS` tolerances, then
    doubled up to about a typical face (see ``_step_sizes``), and the next step starts
    from the size that worked;
    after :data:`_MAX_FAILED_STEPS` failed steps in all the longest loop reached is
    returned.
    Small steps keep each search short: one search for the whole difference adds
    the largest faces first and stalls where they cut the set apart.

    Parameters
    ----------
    cs
        The network's faces.
    edges
        A loop (directed edge indices from ``stops[0]``) shorter than ``target_m``.
    stops
        Node indices the loop must pass; it starts at ``stops[0]``.
    target_m
        Wanted length.
    tol_m
        Accepted length error at the end.
    step_m
        Length added per step at most.
    max_moves
        Faces added per step at most.
    accept_m
        Length error the last step accepts where none within ``tol_m`` is found.
    progress
        Called with the length reached (m) after each step that succeeds.

    Returns
    -------
    list of int
        The longest loop reached: within ``tol_m`` (else ``accept_m``) of ``target_m``
        if every step succeeded, ``edges`` itself if none did.
    """
    def length_m(loop: Sequence[int]) -> float:
        return float(cs.r.length[np.asarray(loop, dtype=np.int64)].sum()) if loop else 0.0

    cur = list(edges)
    cur_m = length_m(cur)
    failed = 0
    step = step_m
    block_m = float(np.median(cs.face_sums[0])) if cs.n_faces else 0.0
    # the last step: the target, then within accept_m of it
    last = [(target_m, tol_m)] + ([(target_m, accept_m)] if accept_m > tol_m else [])
    while cur_m < target_m - tol_m and failed < _MAX_FAILED_STEPS:
        need = target_m - cur_m
        grown, grown_m = None, cur_m
        for size in _step_sizes(step, need, _MIN_STEP_TOLS * tol_m, block_m):
            # on the way: anything from a fifth of a step to a whole one more; the
            # last step: the target, else as close below it as a step gets
            goals = (last if need <= size else []) + [
                (cur_m + 0.6 * min(size, need), 0.4 * min(size, need))]
            for goal, goal_tol in goals:
                grown = repair(cs, cur, stops, goal, goal_tol, max_moves=max_moves, flow=True)
                if grown is not None:
                    grown_m = length_m(grown)
                    if grown_m > cur_m + 1.0:
                        break
                    # the circuit can come out shorter than the set found (where the loop
                    # rode ways twice): a step that does not lengthen is none, else the
                    # same step would be taken forever
                    grown = None
                failed += 1
            if grown is not None:
                step = size  # the next step starts from the size that worked
                break
            if failed >= _MAX_FAILED_STEPS:
                break
        if grown is None:
            break
        cur, cur_m = grown, grown_m
        if progress is not None:
            progress(cur_m)
    return cur


def _step_sizes(step_m: float, need_m: float, min_m: float, block_m: float
                ) -> Iterator[float]:
    """Step sizes to try: ``step_m`` halved twice, then doubled up to a face or two.

    Halved not below ``min_m``; doubled while below ``block_m`` and ``need_m``. A face
    adds about its length less twice what it shares with the set: where no face fits a
    step much smaller than a typical one (``block_m``), a larger step may.
    """
    size = min(step_m, need_m)
    for _ in range(3):
        if size < min_m:
            break
        yield size
        size /= 2.0
    size = 2.0 * step_m
    while size < 2.0 * min(need_m, block_m):
        yield min(size, need_m)
        size *= 2.0


def _reroute_same_way(cs: CycleSpace, used: BoolArray, edges: IntArray) -> BoolArray | None:
    """Keep a way ridden twice in the same direction once, and ride another path.

    Dropping such a way (it is ridden an even number of times) would leave its
    ends unbalanced: the rest of the loop returns twice. Instead the way stays
    and the cheapest path between its ends in the same direction (dearer over the
    set's ways, never over this one) replaces the second ride (the two form a
    cycle added to the set).
    """
    r = cs.r
    counts = np.bincount(edges, minlength=r.n_edges)
    # the loop's net flow along each directed edge
    net = counts - counts[np.maximum(r.reverse, 0)] * (r.reverse >= 0)
    twice = np.nonzero((net >= 2) & (net % 2 == 0) & ~cs.bridge[cs.phys])[0]
    for e in twice.tolist():
        # the new path may ride the loop's ways against it (both cancel), never
        # along it (that way would be ridden twice again)
        cost = cs.weights.copy()
        cost[(net > 0) | (cs.phys == cs.phys[e])] += SHUN_M
        path = r.path(int(r.src[e]), int(r.dst[e]), cost)
        if not path or float(cost[np.asarray(path)].sum()) >= SHUN_M:
            return None
        idx = np.asarray(path, dtype=np.int64)
        net[e] -= 1
        np.add.at(net, idx, 1)
        cycle = np.bincount(cs.phys[np.asarray([e, *path], dtype=np.int64)],
                            minlength=len(cs.a)) % 2 == 1
        used = used ^ cycle
    return used


def _search(cs: CycleSpace, used: BoolArray, stops: Sequence[int], target_m: float, tol_m: float,
            max_moves: int, *, flow: bool = False, prefer: BoolArray | None = None
            ) -> BoolArray | None:
    """Add faces greedily until the set is a valid loop (see :meth:`CycleSpace.state`).

    ``prefer``: directions to balance one-way ways from (e.g. the loop's own); the
    result does not depend on them, the time to balance does.
    """
    cur = cs.state(used, stops, target_m, tol_m, prefer)
    for _ in range(max_moves):
        if cur == 0.0:
            return used
        key = _face_keys(cs, used, stops, target_m, tol_m if flow else None)
        step = _first_better(cs, used, stops, target_m, tol_m, key, cur, _TRY_PER_STEP, prefer)
        if step is None:
            # no single face helps: the best of two faces at once
            step = _search_pair(cs, used, stops, target_m, tol_m, key, cur, prefer)
            if step is None:
                return None
        used, cur = step
    return used if cur == 0.0 else None


def _face_keys(cs: CycleSpace, used: BoolArray, stops: Sequence[int], target_m: float,
               flow_tol_m: float | None = None) -> FloatArray:
    """Order in which to try faces (lower first; apart from the set: infinite).

    Closest to the target length once added first, dearer ways later. With
    ``flow_tol_m``, the faces that bring the length within that of the target come
    first, those adding the least turn cost plus extra cost of dearer ways first.
    """
    ptr, ways = cs.face_ptr, cs.face_phys
    face_len, face_extra = cs.face_sums
    shared, touches, shared_extra = cs.overlap(used)
    if not used.any():  # nothing left (an out-and-back): start at the start
        at_start = (cs.a[ways] == stops[0]) | (cs.b[ways] == stops[0])
        touches = np.add.reduceat(at_start.astype(np.int64), ptr[:-1]) > 0
    after = float(cs.length_m[used].sum()) + face_len - 2.0 * shared
    key = np.abs(after - target_m) + np.maximum(face_extra - shared_extra, 0.0)
    key[~touches] = np.inf  # a face apart from the loop never joins it
    if flow_tol_m is not None:
        fits = np.nonzero(touches & (np.abs(after - target_m) <= flow_tol_m))[0]
        if len(fits):
            at = cs.ways_at(used)
            delta = np.array([cs.face_turn_delta(f, at) for f in fits.tolist()])
            # below every face outside the band (keys there are at least 0)
            cost = delta + face_extra[fits] - 2.0 * shared_extra[fits]
            key[fits] = cost - float(cost.max()) - 1.0
    return key


def _first_better(cs: CycleSpace, used: BoolArray, stops: Sequence[int], target_m: float,
                  tol_m: float, key: FloatArray, cur: float, tries: int,
                  prefer: BoolArray | None = None) -> tuple[BoolArray, float] | None:
    """The set with the first face (in ``key`` order) that improves on ``cur``."""
    for f in np.argsort(key, kind="stable")[:tries].tolist():
        if not np.isfinite(key[f]):
            break
        trial = cs.flipped(used, cs.face_ways(f))
        value = cs.state(trial, stops, target_m, tol_m, prefer, at_least=cur - 1e-12)
        if value < cur - 1e-12:
            return trial, value
    return None


def _search_pair(cs: CycleSpace, used: BoolArray, stops: Sequence[int], target_m: float,
                 tol_m: float, key: FloatArray, cur: float, prefer: BoolArray | None = None
                 ) -> tuple[BoolArray, float] | None:
    """Two faces whose addition together brings the set closer to a valid loop."""
    best: tuple[BoolArray, float] | None = None
    for f1 in np.argsort(key, kind="stable")[:_PAIR_FIRST].tolist():
        if not np.isfinite(key[f1]):
            break
        after1 = cs.flipped(used, cs.face_ways(f1))
        key2 = _face_keys(cs, after1, stops, target_m)
        key2[f1] = np.inf
        step = _first_better(cs, after1, stops, target_m, tol_m, key2, cur, _PAIR_FIRST,
                             prefer)
        if step is not None and (best is None or step[1] < best[1]):
            best = step
    return best


def diverge(cs: CycleSpace, edges: Sequence[int], stops: Sequence[int], target_m: float,
            tol_m: float, others: Sequence[Sequence[int]], *, max_shared: float,
            rng: np.random.Generator, steps: int = _DIVERGE_STEPS,
            alongside: tuple[IntArray, IntArray] | None = None) -> list[int] | None:
    """A loop through the stops that shares little with ``others``, by annealing over faces.

    Starting from the ways of ``edges``, a face at the set is flipped at random
    (see :meth:`CycleSpace.flipped`) and the change kept if it brings the set closer
    to a valid loop of the target length (:meth:`CycleSpace.state`) that shares at
    most ``max_shared`` with each of ``others`` (of the shorter one's length, either
    loop's length in the other's corridor), or else with a chance that falls as
    the search cools. The first valid set is the loop. Where
    detours shaped around the network cannot find another distinct loop (a small
    network the first loops fill), such a search often does. A search still far from
    a valid set after :data:`_DIVERGE_CHECK` of its moves gives up, and one still
    split in parts or off a stop after :data:`_DIVERGE_EARLY` of them.

    Parameters
    ----------
    cs
        The network's faces.
    edges
        A loop through the stops to start from (directed edge indices).
    stops
        Node indices the loop must pass; it starts at ``stops[0]``.
    target_m, tol_m
        Wanted length and accepted error.
    others
        Loops (directed edge indices) the new one must differ from.
    max_shared
        Share of the shorter loop's length two loops may share.
    rng
        Random source (the search is reproducible for a seed).
    steps
        Face moves at most (fewer for a loop of many ways, see :data:`_DIVERGE_WORK`).
    alongside
        Pairs of ways (``cs`` way numbers): ``first[i]`` runs alongside
        ``second[i]``. A way alongside one of another loop's is shared with it.

    Returns
    -------
    list of int or None
        The loop (riding no way twice but the bridges to dead-end stops), or
        ``None`` if none was found within ``steps`` moves.
    """
    start = _main_part(cs, edges, stops, target_m, tol_m)
    if start is None:
        return None
    used, aside, main_m = start
    other_ways = [np.bincount(cs.phys[np.asarray(o, dtype=np.int64)], minlength=len(cs.a)) > 0
                  for o in others]
    if alongside is not None:
        other_ways = [o_ways | beside(o_ways, alongside) for o_ways in other_ways]
    # metres each other loop rides on each way (twice where it rides it twice)
    other_way_m = [np.bincount(cs.phys[np.asarray(o, dtype=np.int64)],
                               weights=cs.r.length[np.asarray(o, dtype=np.int64)],
                               minlength=len(cs.a)) for o in others]
    other_m = [float(w.sum()) for w in other_way_m]
    # what the set aside adds is ridden by every loop through the stops: shared
    aside_m = aside.length_m
    aside_ways = aside.ways.copy()
    aside_ways[cs.phys[np.asarray(aside.edges, dtype=np.int64)]] = True

    def value(used: BoolArray) -> float:
        own_m = float(cs.length_m[used].sum()) + aside_m
        over = 0.0
        for o_ways, o_m in zip(other_ways, other_m, strict=True):
            shared = (float(cs.length_m[used & o_ways].sum()) + aside_m) / max(min(own_m, o_m), 1.0)
            over += max(0.0, shared - max_shared)
        far = cs.state(used, aside.stops, main_m, tol_m, prefer) + 10.0 * over
        if far > 0.0:
            return far
        # a valid loop: the other loops' lengths in its corridor must stay under the
        # limit too (loops are compared both ways); if not, the search goes on
        corridor = used | aside_ways
        if alongside is not None:
            corridor |= beside(corridor, alongside)
        for o_way_m, o_m in zip(other_way_m, other_m, strict=True):
            shared = float(o_way_m[corridor].sum()) / max(min(own_m, o_m), 1.0)
            far += 10.0 * max(0.0, shared - max_shared)
        return far

    # directions to try first (the last set's): a changed set is then often balanced
    # at once, without a flow to compute
    prefer = cs.directions(np.asarray(edges, dtype=np.int64))
    cur = value(used)
    face_len = cs.face_sums[0]
    steps = min(steps, max(_DIVERGE_WORK // max(int(used.sum()), 1), 500))
    best = cur
    valued: dict[bytes, float] = {}
    for step in range(steps):
        if cur == 0.0:
            break
        best = min(best, cur)
        if ((step == int(_DIVERGE_EARLY * steps) and best >= _DIVERGE_SPLIT)
                or (step == int(_DIVERGE_CHECK * steps) and best > _DIVERGE_HOPELESS)):
            return None
        # a face along a way of the set; one longer than twice the target (the outer
        # one) never helps
        faces = cs.faces_along(int(rng.choice(np.flatnonzero(used))))
        faces = faces[face_len[faces] <= 2.0 * target_m]
        if not len(faces):
            continue
        trial = cs.flipped(used, cs.face_ways(int(rng.choice(faces))))
        if not trial.any():
            continue
        # annealing often comes back to a set it has valued (a block flipped back); a
        # value depends on the set alone (``prefer`` only speeds up the one-way count)
        key = hashlib.blake2b(np.packbits(trial).tobytes(), digest_size=16).digest()
        new = valued.get(key, math.nan)
        if math.isnan(new):
            new = valued[key] = value(trial)
        heat = _DIVERGE_HOT * (_DIVERGE_COLD / _DIVERGE_HOT) ** (step / steps)
        if new <= cur or rng.random() < math.exp((cur - new) / heat):
            used, cur = trial, new
            kept = np.nonzero(used)[0]
            prefer[kept] = cs.orient(kept, prefer)[0]
    if cur != 0.0:
        return None
    return cs.circuit(used | aside.ways, stops[0], aside.edges,
                      cs.directions(np.asarray(edges, dtype=np.int64)))
