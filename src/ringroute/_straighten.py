"""Straighten a loop by flipping blocks next to it.

Adding a face (block) of the street map next to a loop (see
:mod:`ringroute._cyclespace`) moves the loop to the block's other side; at a corner
of a grid this trades a zig-zag for a straight run of the same length. Faces are
added while the router's turn costs plus the extra cost of dearer ways fall, and the
loop stays valid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ringroute._cyclespace import CycleSpace
from ringroute._types import BoolArray, FloatArray, IntArray

#: faces tried first in a pair of faces added at once, and pairs checked at most
#: (see ``_pair_move``)
_PAIR_FIRST = 8
_PAIR_TRIALS = 20
#: nodes a search for directions may reach when checking a flipped face
_ORIENT_LIMIT = 200


def straighten(cs: CycleSpace, edges: Sequence[int], stops: Sequence[int], target_m: float,
               tol_m: float, *, max_moves: int = 300) -> list[int] | None:
    """The loop with blocks flipped so that it turns less and rides better ways.

    Adding a face (block) next to a loop moves it to the block's other side;
    at a corner of a grid this trades a zig-zag for a straight run of the same
    length. Faces are added while the cost falls -- turn costs (as the router
    counts them) plus the extra cost of dearer ways -- and the loop stays
    connected, on every stop, within ``tol_m`` of ``target_m`` and ridable.

    Parameters
    ----------
    cs
        The network's faces.
    edges
        The loop (directed edge indices from ``stops[0]``); only loops riding no
        way twice but bridges (there and back) are straightened.
    stops
        Node indices the loop must pass; it starts at ``stops[0]``.
    target_m, tol_m
        Wanted length and accepted error.
    max_moves
        Faces added at most.

    Returns
    -------
    list of int or None
        The new loop, or ``None`` if nothing was changed.
    """
    if cs.n_faces == 0 or not len(edges):
        return None
    idx = np.asarray(edges, dtype=np.int64)
    ways = cs.phys[idx]
    counts = np.bincount(ways, minlength=len(cs.a))
    if np.any(counts[~cs.bridge] > 1):
        return None
    aside = cs.set_aside(stops, ways)
    if aside is None or aside.ways.any():
        return None
    used = (counts % 2 == 1) & ~cs.bridge
    if np.any(used & (cs.part[cs.a] != aside.main)):
        return None
    target_m -= aside.length_m
    if abs(float(cs.length_m[used].sum()) - target_m) > tol_m:
        return None
    direction = cs.directions(idx)
    used, moves = _flip_faces(cs, used, aside.stops, target_m, tol_m, max_moves, direction)
    if not moves:
        return None
    return cs.circuit(used, stops[0], aside.edges, direction)


def _flip_faces(cs: CycleSpace, used: BoolArray, stops: Sequence[int], target_m: float,
                tol_m: float, max_moves: int, direction: BoolArray
                ) -> tuple[BoolArray, int]:
    """Add the face that lowers turn and way costs most, while the set stays valid.

    ``direction`` (the loop's, of every way) is kept up to date with the set's.
    """
    n_faces = cs.n_faces
    face_len, face_extra = cs.face_sums
    at = cs.ways_at(used)
    turn_delta = np.full(n_faces, np.nan)  # change of turn cost, until the set changes
    stop_set = set(stops)
    length = float(cs.length_m[used].sum())
    moves = 0
    for _ in range(max_moves):
        shared, touches, shared_extra = cs.overlap(used)
        fits = touches & (np.abs(length + face_len - 2.0 * shared - target_m) <= tol_m)
        for f in np.nonzero(fits & np.isnan(turn_delta))[0].tolist():
            turn_delta[f] = cs.face_turn_delta(f, at)
        gain = np.where(fits, turn_delta + face_extra - 2.0 * shared_extra, np.inf)
        moved = False
        for f in np.argsort(gain, kind="stable")[:20].tolist():
            if not gain[f] < -1e-6:
                break
            sel = cs.face_ways(f)
            trial = cs.flipped(used, sel)
            if not _moves_a_run(cs, sel, used, at, stop_set) and (
                    _loses_stop(cs, sel, at, stops)
                    or cs.state(trial, stops, target_m, tol_m, direction,
                                _ORIENT_LIMIT) != 0.0):
                continue
            used, moved = trial, True
            flipped = sel.tolist()
            break
        if not moved:
            # two faces at once: one that gains but changes the length too much,
            # and one that restores it
            pair = _pair_move(cs, used, stops, target_m, tol_m, at, turn_delta,
                              touches, shared, shared_extra, length, direction)
            if pair is None:
                break
            used, flipped = pair
        ways = np.nonzero(used)[0]
        direction[ways] = cs.orient(ways, direction)[0]
        length = float(cs.length_m[used].sum())
        touched: set[int] = set()
        for w in flipped:
            for v in (int(cs.a[w]), int(cs.b[w])):
                at.setdefault(v, set()).symmetric_difference_update({w})
                touched.add(v)
        turn_delta[cs.faces_at(sorted(touched))] = np.nan
        moves += 1
    return used, moves


def _moves_a_run(cs: CycleSpace, face: IntArray, used: BoolArray, at: dict[int, set[int]],
                 stops: set[int]) -> bool:
    """Whether adding ``face`` surely keeps the set a valid loop (a quick check).

    It does if the face shares one run of ways with the set, through nodes the
    set passes once, on no stop only that run passes, and has no one-way way:
    then the run is swapped for the face's other side, ridden the same way.
    """
    if np.any((cs.fwd[face] < 0) | (cs.bwd[face] < 0)):
        return False
    ways_at: dict[int, list[int]] = {}
    for w in face.tolist():
        ways_at.setdefault(int(cs.a[w]), []).append(w)
        ways_at.setdefault(int(cs.b[w]), []).append(w)
    ends = 0
    for v, ws in ways_at.items():
        if len(ws) != 2:
            return False
        inside = int(used[ws[0]]) + int(used[ws[1]])
        if inside == 1:
            ends += 1
        elif inside == 2 and (len(at.get(v, ())) != 2 or v in stops):
            return False
    return ends == 2


def _pair_move(cs: CycleSpace, used: BoolArray, stops: Sequence[int], target_m: float,
               tol_m: float, at: dict[int, set[int]], turn_delta: FloatArray,
               touches: BoolArray, shared: FloatArray, shared_extra: FloatArray,
               length: float, direction: BoolArray
               ) -> tuple[BoolArray, list[int]] | None:
    """Best valid pair of faces that lowers the cost and keeps the length."""
    face_len, face_extra = cs.face_sums
    near = touches & (np.abs(length + face_len - 2.0 * shared - target_m) <= 4.0 * tol_m
                      + 0.5 * face_len)
    for f in np.nonzero(near & np.isnan(turn_delta))[0].tolist():
        turn_delta[f] = cs.face_turn_delta(f, at)
    gain1 = np.where(near, turn_delta + face_extra - 2.0 * shared_extra, np.inf)
    pairs: list[tuple[float, int, int]] = []
    for f1 in np.argsort(gain1, kind="stable")[:_PAIR_FIRST].tolist():
        if not gain1[f1] < -1e-6:
            break
        sel1 = cs.face_ways(f1)
        after1 = cs.flipped(used, sel1)
        len1 = float(cs.length_m[after1].sum())
        shared2, touches2, shared_extra2 = cs.overlap(after1)
        extra2 = face_extra - 2.0 * shared_extra2
        fits2 = touches2 & (np.abs(len1 + face_len - 2.0 * shared2 - target_m) <= tol_m)
        fits2[f1] = False
        cand = np.nonzero(fits2)[0]
        if not len(cand):
            continue
        # faces next to the first see its change: their turn delta is recomputed
        nodes1 = set(cs.a[sel1].tolist()) | set(cs.b[sel1].tolist())
        at1 = dict(at)
        for v in nodes1:
            at1[v] = set(at.get(v, set()))
        for w in sel1.tolist():
            for v in (int(cs.a[w]), int(cs.b[w])):
                at1[v].symmetric_difference_update({w})
        adjacent = np.zeros(cs.n_faces, dtype=bool)
        adjacent[cs.faces_at(sorted(nodes1))] = True
        for f2 in cand[np.isnan(turn_delta[cand]) & ~adjacent[cand]].tolist():
            turn_delta[f2] = cs.face_turn_delta(f2, at)
        gain2 = turn_delta[cand] + extra2[cand]
        for k in np.nonzero(adjacent[cand])[0].tolist():
            gain2[k] = cs.face_turn_delta(int(cand[k]), at1) + extra2[cand[k]]
        for k in np.argsort(gain2, kind="stable")[:5].tolist():
            total = float(gain1[f1] + gain2[k])
            if not total < -1e-6:
                break
            pairs.append((total, f1, int(cand[k])))
    # the best pairs first, until one gives a valid loop
    for _, f1, f2 in sorted(pairs)[:_PAIR_TRIALS]:
        both = np.concatenate([cs.face_ways(f1), cs.face_ways(f2)])
        # a way of both faces flips twice: unchanged
        sel = np.nonzero(np.bincount(both, minlength=len(cs.a)) % 2 == 1)[0]
        trial = cs.flipped(used, sel)
        if _loses_stop(cs, sel, at, stops):
            continue
        if cs.state(trial, stops, target_m, tol_m, direction, _ORIENT_LIMIT) == 0.0:
            return trial, sel.tolist()
    return None


def _loses_stop(cs: CycleSpace, flipped: IntArray, at: dict[int, set[int]],
                stops: Sequence[int]) -> bool:
    """Whether flipping the ways ``flipped`` leaves a stop without a way of the set."""
    for s in stops:
        mine = {int(w) for w in flipped.tolist() if cs.a[w] == s or cs.b[w] == s}
        if mine and not (at.get(int(s), set()) ^ mine):
            return True
    return False
