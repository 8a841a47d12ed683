"""Exchange stretches of a loop for smoother ones, in pairs that keep its length.

A loop tuned to its length zig-zags in places: through a grid it turns at every
other block. Replacing one stretch (a *window*, up to :data:`MAX_ARC_M` long) by the
cheapest other way between its ends -- cheapest by bike cost plus
:data:`TURN_M` per turn, as the planner ranks loops -- flows better but changes
the length. Two such exchanges whose length changes cancel keep it: a zig-zag
cut short in one place, a stretch a little longer but as straight elsewhere. The
rounds here take the best exchanges, alone or in pairs, that keep the loop within
its tolerance, on windows apart from each other, until none gains.

The searches run on the turn graph (one vertex per directed edge, one arc per
turn, see :meth:`ringroute._router.Router.route_with_turns`), from the edge
before each window, over the ways the loop and the ways alongside it leave free:
the new stretches ride no way of the loop, nor one beside it. A search stays
valid while the ways it reached are unchanged, so later rounds reuse most.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
import numpy.typing as npt

from ringroute._alongside import beside
from ringroute._arrays import ranks
from ringroute._metrics import TURN_ANGLE_DEG
from ringroute._router import Router
from ringroute._search import CSRGraph
from ringroute._types import BoolArray, FloatArray, IntArray

#: a turn (more than :data:`~ringroute._metrics.TURN_ANGLE_DEG`) costs like this many
#: metres of riding: the planner's ranking counts 1.0 per turn per km
#: (``ringroute.loop._SCORE_PER_TURN_KM``)
TURN_M = 1000.0
#: windows exchanged are at most this long (m)
MAX_ARC_M = 2000.0
#: searches stop beyond this cost (m). Measured on the Science City's 30 bench
#: requests (median turns/km, a second set of 30 in brackets): windows up to 2 km
#: 1.96 (2.13) with a bound of 4,250 m, 1.93 (2.00) with 5,000 m and 1.93 (2.02) with
#: 5,500 m, at the same speed since kept searches are checked backwards; windows up
#: to 1.5 km with 2,800 m 2.28. (Turns dearer than 1,000 m turn less but ride more
#: main roads: 1,500 m with a bound of 6,000 m 1.90 (1.98), main roads 10.4 %
#: (10.9 %) against 8.4 % (9.2 %).)
SEARCH_LIMIT = 5000.0
#: a metre off the target costs like this many metres of riding: of exchanges that
#: gain alike, those that keep the loop nearest its length are taken
OFF_TARGET = 0.3
#: the exchanges that gain most, each tried with its best partners
_PAIR_FIRST = 300
_PARTNERS = 3
#: rounds at most (each round takes several exchanges at once)
MAX_ROUNDS = 30
#: searches are kept in rows as long as the turn graph (one cell per edge), about as
#: many as the loop has edges: at most this many cells (12 bytes each), else nothing
#: is tried. Each search costs time in proportion to the graph too (about 10 µs on
#: the Science City's 4,000 edges, where a 50 km loop takes 2 million cells).
MAX_CELLS = 10_000_000


class Exchange:
    """Window exchanges on one network, with given weights.

    Parameters
    ----------
    router
        The network.
    weights
        Bike cost of each directed edge.
    alongside
        Pairs of way numbers (:attr:`Router.ways`) that run alongside each other.
    """

    def __init__(self, router: Router, weights: FloatArray,
                 alongside: tuple[IntArray, IntArray]) -> None:
        self.r = router
        self.w = weights
        self.alongside = alongside

    @cached_property
    def _graph(self) -> CSRGraph:
        """The router's turn graph, each arc costing the way entered and the turn.

        Built on first use, as is :attr:`_reverse`: where the loops are too long to
        try (see :data:`MAX_CELLS`), never.
        """
        indptr, arc_from, arc_to, _ = self.r._turns
        return CSRGraph(indptr, arc_to, arc_to, self._turn_m(arc_from, arc_to))

    @cached_property
    def _reverse(self) -> CSRGraph:
        """The turn graph reversed: its arcs run from the edge entered to the edge left."""
        return self._graph.reversed()

    def weights(self, corridor: BoolArray) -> FloatArray:
        """The bike cost of each edge, with the ways of ``corridor`` closed."""
        w = self.w.copy()
        w[corridor] = np.inf
        return w

    def _turn_m(self, e_in: npt.ArrayLike, e_out: npt.ArrayLike) -> FloatArray:
        """:data:`TURN_M` where riding from edges ``e_in`` into ``e_out`` is a turn, else 0."""
        turning = self.r.turn_angle_deg(e_in, e_out) > TURN_ANGLE_DEG
        turn: FloatArray = np.where(turning, TURN_M, 0.0)
        return turn

    def improve(self, edges: Sequence[int], stops: Sequence[int], target_m: float,
                tol_m: float, *, max_rounds: int = MAX_ROUNDS) -> list[int] | None:
        """The loop with windows exchanged while that gains, or ``None`` if none does.

        Parameters
        ----------
        edges
            The loop: directed edge indices from ``stops[0]`` back to it.
        stops
            Node indices the loop passes (the start first); a window never holds
            one inside, so they are passed in the same order.
        target_m, tol_m
            Wanted length and accepted error: every round keeps the loop within it.
        max_rounds
            Rounds at most.

        Returns
        -------
        list of int or None
            The new loop (from ``stops[0]``), or ``None`` if no exchange gains.
        """
        capacity = len(edges) + 64
        if capacity * self.r.n_edges > MAX_CELLS or len(edges) < 3:
            return None
        if abs(float(self.r.length[np.asarray(edges, dtype=np.int64)].sum()) - target_m) > tol_m:
            return None
        searches = _Searches(self, capacity=capacity)
        loop = list(edges)
        changed = False
        for _ in range(max_rounds):
            new = self._round(searches, loop, stops, target_m, tol_m)
            if new is None:
                break
            loop, changed = new, True
        return loop if changed else None

    # ------------------------------------------------------------------ one round
    def _round(self, searches: _Searches, edges: list[int], stops: Sequence[int],
               target_m: float, tol_m: float) -> list[int] | None:
        r, w = self.r, self.w
        n = len(edges)
        idx = np.asarray(edges, dtype=np.int64)
        ways = r.ways.of_edge[idx]
        twice = np.bincount(ways, minlength=len(r.ways.a))[ways] > 1  # spurs: kept
        nodes = r.src[idx].astype(np.int64)  # nodes[k] starts edges[k]
        cum = np.concatenate([[0.0], np.cumsum(r.length[idx])])
        err = float(cum[-1]) - target_m
        # old cost up to each position: the edge's weight and the turn into it
        into = self._turn_m(np.roll(idx, 1), idx)
        old_cum = np.concatenate([[0.0], np.cumsum(w[idx] + into)])
        ridden = np.zeros(len(r.ways.a), dtype=bool)
        ridden[ways] = True
        corridor = (ridden | beside(ridden, self.alongside))[r.ways.of_edge]
        # windows start where a way off the corridor leaves, on no spur
        free_out = np.zeros(r.n_nodes, dtype=bool)
        free_out[r.src[~corridor]] = True
        anchors = np.nonzero(~twice & free_out[nodes])[0]
        if not len(anchors):
            return None
        slots = searches.rows(idx[(anchors - 1) % n], corridor)
        # windows edges[i:j]: at most MAX_ARC_M, no spur, no stop inside
        is_stop = np.zeros(n + 1, dtype=bool)
        is_stop[:n] = np.isin(nodes, np.asarray(stops, dtype=np.int64))
        is_stop[n] = True  # the start, where the loop closes
        stop_pos = np.nonzero(is_stop)[0]
        twice_pos = np.append(np.nonzero(twice)[0], n)
        j_end = np.minimum.reduce([
            stop_pos[np.searchsorted(stop_pos, anchors, side="right")],
            twice_pos[np.searchsorted(twice_pos, anchors, side="left")],
            np.searchsorted(cum, cum[anchors] + MAX_ARC_M, side="right") - 1,
            anchors + n - 1,
        ])
        count = np.maximum(j_end - anchors, 0)
        row = np.repeat(np.arange(len(anchors)), count)
        j = anchors[row] + 1 + ranks(count)
        # each way into the window's end node (off the corridor) may end the new stretch
        k, last = r.arriving(nodes[j % n])
        row, j = row[k], j[k]
        slot = slots[row]
        cost = searches.dist[slot, last]
        ok = np.isfinite(cost) & ~corridor[last]
        slot, j, last, cost, i = slot[ok], j[ok], last[ok], cost[ok], anchors[row[ok]]
        after = idx[j % n]
        new_cost = cost + self._turn_m(last, after) + w[after]
        # j == n: the edge after is edges[0], whose cost and turn lie at the start
        old_cost = np.where(j < n, old_cum[np.minimum(j + 1, n)],
                            old_cum[n] + old_cum[1]) - old_cum[i]
        gain = old_cost - new_cost
        change = searches.length_to(slot, last) - (cum[j] - cum[i])
        moves = _moves(gain, change, i, j, err, tol_m)
        return self._apply(searches, edges, moves, gain, change, i, j, slot, last, err, tol_m)

    def _apply(self, searches: _Searches, edges: list[int],
               moves: list[tuple[float, tuple[int, ...]]], gain: FloatArray,
               change: FloatArray, i: IntArray, j: IntArray, slot: IntArray,
               last: IntArray, err: float, tol_m: float) -> list[int] | None:
        """Take the moves that gain most, on windows and ways apart from each other."""
        r = self.r
        n_ways = len(r.ways.a)
        taken = np.zeros(len(edges) + 1, dtype=bool)  # window nodes already exchanged
        new_ways = np.zeros(n_ways, dtype=bool)
        chosen: list[tuple[int, int, list[int]]] = []
        for _, ks in moves:
            shift = float(sum(change[k] for k in ks))
            if abs(err + shift) > tol_m:
                continue
            if any(taken[i[k]:j[k] + 1].any() for k in ks):
                continue
            paths = [searches.path(int(slot[k]), int(last[k])) for k in ks]
            ways = r.ways.of_edge[np.asarray([e for p in paths for e in p], dtype=np.int64)]
            mask = new_ways.copy()
            mask[ways] = True
            # no way twice, none beside another of the new stretches
            if (len(np.unique(ways)) != len(ways) or new_ways[ways].any()
                    or (beside(mask, self.alongside) & mask).any()):
                continue
            for k, path in zip(ks, paths, strict=True):
                taken[i[k]:j[k] + 1] = True
                chosen.append((int(i[k]), int(j[k]), path))
            new_ways = mask
            err += shift
        if not chosen:
            return None
        out = list(edges)
        for a, b, path in sorted(chosen, key=lambda c: -c[0]):
            out[a:b] = path
        return out


class _Searches:
    """Searches on the turn graph from loop edges, kept while still valid."""

    def __init__(self, ex: Exchange, *, capacity: int) -> None:
        self.ex = ex
        n = ex.r.n_edges
        self.dist: FloatArray = np.empty((capacity, n))
        self.pred: npt.NDArray[np.int32] = np.empty((capacity, n), dtype=np.int32)
        self._slot: dict[int, int] = {}
        self._free = list(range(capacity - 1, -1, -1))
        self._corridor: BoolArray | None = None

    def rows(self, sources: IntArray, corridor: BoolArray) -> IntArray:
        """Row numbers of the searches from each of ``sources`` (edges) off ``corridor``.

        A kept search is dropped when a way it reached is blocked now, or a way freed
        now leaves where it reached: it might go another way. Others give what a
        new search would.
        """
        r = self.ex.r
        if self._corridor is not None and self._slot:
            blocked = corridor & ~self._corridor
            freed = self._corridor & ~corridor
            # a way blocked now that a search reached, or a way freed now that leaves
            # where it reached
            cols = np.union1d(np.nonzero(blocked)[0],
                              np.nonzero(np.isin(r.dst, r.src[freed]))[0])
            if len(cols):
                keys = np.fromiter(self._slot.keys(), dtype=np.int64, count=len(self._slot))
                held = np.fromiter(self._slot.values(), dtype=np.int64, count=len(self._slot))
                stale = self._reaching(cols, self._corridor)[keys]
                for key, s in zip(keys[stale].tolist(), held[stale].tolist(), strict=True):
                    del self._slot[key]
                    self._free.append(s)
        self._corridor = corridor
        wanted = set(sources.tolist())
        for key in [k for k in self._slot if k not in wanted]:
            self._free.append(self._slot.pop(key))
        missing = np.asarray(sorted(wanted - self._slot.keys()), dtype=np.int64)
        if len(missing):
            self._search(missing, corridor)
        return np.asarray([self._slot[s] for s in sources.tolist()], dtype=np.int64)

    def _reaching(self, cols: IntArray, corridor: BoolArray) -> BoolArray:
        """Whether a search off ``corridor`` from each edge reaches one of ``cols``.

        One search backwards from all of ``cols`` (within :data:`SEARCH_LIMIT`),
        where one row per kept search would have to be read; distances within a hair
        of the bound count as reached (sums in the other order may round the other
        way), which at worst drops a search that was still valid.
        """
        ex = self.ex
        bound = SEARCH_LIMIT * (1 + 1e-9) + 1e-6
        dist = ex._reverse.search(ex.weights(corridor), cols, limit=bound).dist
        reached: BoolArray = np.isfinite(dist)
        return reached

    def _search(self, sources: IntArray, corridor: BoolArray) -> None:
        ex = self.ex
        # the router's turn graph, with the exchange's own turn costs
        dist, pred, _ = ex._graph.rows(ex.weights(corridor), sources, limit=SEARCH_LIMIT)
        while len(self._free) < len(sources):
            cap = len(self.dist)
            self.dist = np.concatenate([self.dist, np.empty_like(self.dist)])
            self.pred = np.concatenate([self.pred, np.empty_like(self.pred)])
            self._free.extend(range(2 * cap - 1, cap - 1, -1))
        slots = [self._free.pop() for _ in range(len(sources))]
        for s, slot in zip(sources.tolist(), slots, strict=True):
            self._slot[s] = slot
        self.dist[slots] = dist
        self.pred[slots] = pred

    def length_to(self, slots: IntArray, last: IntArray) -> FloatArray:
        """Length of each search's path to edge ``last`` (its source not counted)."""
        length = self.ex.r.length
        out = np.zeros(len(last))
        k = np.arange(len(last))
        cur = last.astype(np.int64)
        while len(k):  # walk up the search trees, all paths at once
            up = self.pred[slots[k], cur].astype(np.int64)
            on = up >= 0  # the source (no predecessor) is not counted
            k, cur = k[on], cur[on]
            out[k] += length[cur]
            cur = up[on]
        return out

    def path(self, slot: int, last: int) -> list[int]:
        """Edges of the search in row ``slot`` to edge ``last`` (after its source)."""
        pred = self.pred[slot]
        out = [last]
        while pred[out[-1]] >= 0:
            out.append(int(pred[out[-1]]))
        out.pop()  # the source: the loop's edge before the window
        return out[::-1]


def _moves(gain: FloatArray, change: FloatArray, i: IntArray, j: IntArray, err: float,
           tol_m: float) -> list[tuple[float, tuple[int, ...]]]:
    """Single exchanges and pairs on separate windows that keep the length, best first.

    Each metre the loop moves away from its target costs :data:`OFF_TARGET` (and
    each metre nearer gains as much).
    """
    off = OFF_TARGET * (np.abs(err + change) - abs(err))
    net = gain - off
    moves: list[tuple[float, tuple[int, ...]]] = [
        (float(net[k]), (k,))
        for k in np.nonzero((np.abs(err + change) <= tol_m) & (net > 1e-6))[0].tolist()]
    # the exchanges that gain most, each with its partners: those whose length change
    # keeps the pair within the tolerance (a range of the changes in sorted order)
    by_change = np.argsort(change, kind="stable")
    sorted_change = change[by_change]
    firsts = np.argsort(-gain, kind="stable")[:_PAIR_FIRST]
    firsts = firsts[np.cumprod(gain[firsts] > 1e-6).astype(bool)]
    lo = np.searchsorted(sorted_change, -err - change[firsts] - tol_m, side="left")
    hi = np.searchsorted(sorted_change, -err - change[firsts] + tol_m, side="right")
    count = np.maximum(hi - lo, 0)
    group = np.repeat(np.arange(len(firsts)), count)
    a = firsts[group]
    b = by_change[np.repeat(lo, count) + ranks(count)]
    total = gain[a] + gain[b] - OFF_TARGET * (np.abs(err + change[a] + change[b]) - abs(err))
    keep = ((j[b] < i[a]) | (i[b] > j[a])) & (total > 1e-6)
    group, a, b, total = group[keep], a[keep], b[keep], total[keep]
    # the best partners of each (ties in the order of the changes)
    order = np.lexsort((-total, group))
    best = order[ranks(np.bincount(group, minlength=len(firsts))) < _PARTNERS]
    moves += [(t, (x, y)) for t, x, y in zip(total[best].tolist(), a[best].tolist(),
                                              b[best].tolist(), strict=True)]
    moves.sort(key=lambda m: -m[0])
    return moves
