"""Repeat-free loops as edge sets: repair a loop by adding faces of the street map.

A closed walk that rides no way twice is an Euler circuit of a connected edge set
in which every node has even degree. Such sets form the *cycle space* of the
network (over GF(2): adding a set means taking the symmetric difference), and
the faces of the street map -- the blocks bounded by ways -- span it. Adding a
face next to a loop grows or shrinks the area it encloses; adding one between two
parts of it joins them.

:class:`CycleSpace` uses this to mend a planned loop that rides some ways twice:
the ways ridden an even number of times are dropped (what is left still has even
degrees), and faces are added one at a time until the set is connected, contains
every stop and has the target length. A circuit through the set that respects
one-way ways and turns as little as possible at each junction is the new loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from ringroute._router import Router

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: faces longer than this share of all ways (the outer face) are never added
_MAX_FACE_SHARE = 0.3
#: candidate faces tried per step, closest to the target length first
_TRY_PER_STEP = 60


class CycleSpace:
    """Faces of a router's network and repeat-free repair of loops on it.

    Parameters
    ----------
    router
        The network (directions and one-way ways as routed).
    weights
        Routing cost of each directed edge; faces adding dearer ways (per metre)
        are tried later.
    """

    def __init__(self, router: Router, weights: FloatArray) -> None:
        r = router
        self.r = r
        n = r.n_nodes
        codes, phys = np.unique(r.way_code, return_inverse=True)
        #: physical way (unordered node pair) of each directed edge
        self.phys: IntArray = phys.astype(np.int64)
        self.a: IntArray = (codes // n).astype(np.int64)
        self.b: IntArray = (codes % n).astype(np.int64)
        n_phys = len(codes)
        self.length_m: FloatArray = np.zeros(n_phys)
        np.maximum.at(self.length_m, self.phys, r.length)
        extra = np.maximum(weights - r.length, 0.0) / np.maximum(r.length, 1e-3)
        #: extra cost per metre of each way (its cheaper direction)
        self.extra: FloatArray = np.full(n_phys, np.inf)
        np.minimum.at(self.extra, self.phys, extra)
        forward = r.src.astype(np.int64) == self.a[self.phys]
        #: directed edge a -> b and b -> a of each way (-1: one-way against)
        self.fwd: IntArray = np.full(n_phys, -1, dtype=np.int64)
        self.bwd: IntArray = np.full(n_phys, -1, dtype=np.int64)
        self.fwd[self.phys[forward]] = np.nonzero(forward)[0]
        self.bwd[self.phys[~forward]] = np.nonzero(~forward)[0]
        self.weights = weights
        self.face_ptr, self.face_phys = self._faces()

    # ------------------------------------------------------------------ faces
    def _faces(self) -> tuple[IntArray, IntArray]:
        """Faces of the drawn network as sets of ways (CSR: pointers, way ids).

        Half-edge ``2k`` runs ``a -> b`` of way ``k``, ``2k + 1`` back. Around every
        node the half-edges leaving it are sorted by angle; a face is traced by
        leaving each node on the half-edge next clockwise from the one arrived on.
        Where ways cross without a junction (bridges) the "faces" are still closed
        walks, which is all the repair needs. Ways a face walks twice cancel.
        """
        r = self.r
        n_half = 2 * len(self.a)
        tail = np.empty(n_half, dtype=np.int64)
        head = np.empty(n_half, dtype=np.int64)
        tail[0::2], tail[1::2] = self.a, self.b
        head[0::2], head[1::2] = self.b, self.a
        angle = np.arctan2(r.ym[head] - r.ym[tail], r.xm[head] - r.xm[tail])
        order = np.lexsort((angle, tail))
        rank = np.empty(n_half, dtype=np.int64)
        rank[order] = np.arange(n_half)
        first = np.searchsorted(tail[order], np.arange(r.n_nodes))
        degree = np.bincount(tail, minlength=r.n_nodes)
        twin = np.arange(n_half) ^ 1
        at = tail[twin]  # the node a half-edge arrives at
        nxt = order[first[at] + (rank[twin] - first[at] - 1) % degree[at]]
        seen = np.zeros(n_half, dtype=bool)
        ptr = [0]
        ways: list[int] = []
        total = float(self.length_m.sum())
        for h0 in range(n_half):
            if seen[h0]:
                continue
            walk: list[int] = []
            h = h0
            while not seen[h]:
                seen[h] = True
                walk.append(h >> 1)
                h = int(nxt[h])
            ids, counts = np.unique(np.asarray(walk), return_counts=True)
            odd = ids[counts % 2 == 1]
            if len(odd) < 2 or self.length_m[odd].sum() > _MAX_FACE_SHARE * total:
                continue
            ways.extend(odd.tolist())
            ptr.append(len(ways))
        return np.asarray(ptr, dtype=np.int64), np.asarray(ways, dtype=np.int64)

    @property
    def n_faces(self) -> int:
        """Number of faces usable for repairs."""
        return len(self.face_ptr) - 1

    # ----------------------------------------------------------------- repair
    def repair(self, edges: Sequence[int], stops: Sequence[int], target_m: float,
               tol_m: float, *, max_moves: int = 80) -> list[int] | None:
        """A loop riding no way twice, near ``target_m``, through the same stops.

        Parameters
        ----------
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

        Returns
        -------
        list of int or None
            The new loop, or ``None`` if no repair was found (e.g. a stop at the end
            of a dead end, which every loop must ride back).
        """
        if self.n_faces == 0 or not len(edges):
            return None
        used = np.bincount(self.phys[np.asarray(edges, dtype=np.int64)],
                           minlength=len(self.a)) % 2 == 1
        used = self._join(used, stops)
        if used is None:
            return None
        chosen = self._search(used, stops, target_m, tol_m, max_moves)
        if chosen is None:
            return None
        return self._circuit(chosen, stops[0])

    def _state(self, used: BoolArray, stops: Sequence[int], target_m: float,
               tol_m: float) -> float:
        """How far a set is from a valid loop (0: a valid one).

        Valid: connected, on every stop, of the target length and ridable in one
        circuit despite one-way ways.
        """
        ways = np.nonzero(used)[0]
        if not len(ways):
            return np.inf
        nodes, labels = self._components(ways)
        n_parts = int(labels.max()) + 1
        missing = len(set(stops) - set(nodes.tolist()))
        err = max(0.0, abs(float(self.length_m[ways].sum()) - target_m) - tol_m) / target_m
        value = 10.0 * (n_parts - 1) + 10.0 * missing + 10.0 * err
        if value == 0.0 and self._orient(ways) is None:
            return 1.0  # one-way ways allow no circuit through all of the set
        return value

    def _components(self, ways: IntArray) -> tuple[IntArray, IntArray]:
        """Nodes of the ways ``ways`` and the connected part each belongs to."""
        nodes, inv = np.unique(np.concatenate([self.a[ways], self.b[ways]]),
                               return_inverse=True)
        k = len(ways)
        graph = coo_array((np.ones(k), (inv[:k], inv[k:])), shape=(len(nodes), len(nodes)))
        _, labels = connected_components(graph, directed=False)
        return nodes, labels.astype(np.int64)

    def _pieces(self, used: BoolArray, stops: Sequence[int]) -> list[set[int]]:
        """Node sets of the connected parts of ``used`` and of stops not on it."""
        ways = np.nonzero(used)[0]
        pieces: list[set[int]] = []
        if len(ways):
            nodes, labels = self._components(ways)
            for lab in range(int(labels.max()) + 1):
                pieces.append(set(nodes[labels == lab].tolist()))
        on = set().union(*pieces) if pieces else set()
        pieces += [{int(s)} for s in dict.fromkeys(stops) if s not in on]
        # the start's piece first
        pieces.sort(key=lambda p: stops[0] not in p)
        return pieces

    def _join(self, used: BoolArray, stops: Sequence[int]) -> BoolArray | None:
        """Join every part of ``used`` (and every stop off it) to the start's part.

        Ways ridden twice drop out of the set, which may split it (an out-and-back
        leaves nothing). A part is joined by a cycle through it and the start's part:
        a cheapest path there and one back, each shunning ways already in the set.
        """
        r = self.r
        for _ in range(len(stops) + 8):
            pieces = self._pieces(used, stops)
            if len(pieces) <= 1:
                return used
            main, other = pieces[0], pieces[1]
            # the nearest pair of nodes (as the crow flies) anchors the cycle
            m_nodes = np.fromiter(main, np.int64, len(main))
            o_nodes = np.fromiter(other, np.int64, len(other))
            dx = r.xm[m_nodes][:, None] - r.xm[o_nodes][None, :]
            dy = r.ym[m_nodes][:, None] - r.ym[o_nodes][None, :]
            i, j = np.unravel_index(int(np.argmin(np.hypot(dx, dy))), dx.shape)
            a, b = int(m_nodes[i]), int(o_nodes[j])
            trips = [t for t in (self._round_trip(used, a, b), self._round_trip(used, b, a)) if t]
            if not trips:
                return None
            cycle_edges = min(trips, key=len)
            cycle = np.bincount(self.phys[np.asarray(cycle_edges)],
                                minlength=len(self.a)) % 2 == 1
            used = used ^ cycle
        return None

    def _round_trip(self, used: BoolArray, a: int, b: int) -> list[int]:
        """Cheapest path ``a -> b`` and one back avoiding it (and the set's ways).

        Ways the two share cancel; the result is empty when the way back can only
        be the way there (e.g. one-way streets allow no other).
        """
        r = self.r
        w = self.weights.copy()
        w[used[self.phys]] *= 30.0
        there = r.path_edges(r.shortest_paths(a, w), b)
        w[np.isin(self.phys, self.phys[np.asarray(there, dtype=np.int64)])] *= 30.0
        back = r.path_edges(r.shortest_paths(b, w), a)
        if not there or not back:
            return []
        ways = self.phys[np.asarray(there + back, dtype=np.int64)]
        if len(np.unique(ways)) * 2 == len(ways):  # the same ways there and back
            return []
        return there + back

    def _search(self, used: BoolArray, stops: Sequence[int], target_m: float, tol_m: float,
                max_moves: int) -> BoolArray | None:
        """Add faces greedily until the set is a valid loop (see :meth:`_state`)."""
        ptr, ways = self.face_ptr, self.face_phys
        face_len = np.add.reduceat(self.length_m[ways], ptr[:-1])
        face_extra = np.add.reduceat(self.length_m[ways] * self.extra[ways], ptr[:-1])
        cur = self._state(used, stops, target_m, tol_m)
        for _ in range(max_moves):
            if cur == 0.0:
                return used
            inside = used[ways]
            shared = np.add.reduceat(self.length_m[ways] * inside, ptr[:-1])
            touches = np.add.reduceat(inside.astype(np.int64), ptr[:-1]) > 0
            shared_extra = np.add.reduceat(self.length_m[ways] * self.extra[ways] * inside,
                                           ptr[:-1])
            length = float(self.length_m[used].sum())
            after = length + face_len - 2.0 * shared
            added_extra = face_extra - shared_extra
            key = np.abs(after - target_m) + np.maximum(added_extra, 0.0)
            key[~touches] = np.inf  # a face apart from the loop never joins it
            moved = False
            for f in np.argsort(key, kind="stable")[:_TRY_PER_STEP]:
                if not np.isfinite(key[f]):
                    break
                trial = used.copy()
                sel = ways[ptr[f]:ptr[f + 1]]
                trial[sel] = ~trial[sel]
                value = self._state(trial, stops, target_m, tol_m)
                if value < cur - 1e-12:
                    used, cur, moved = trial, value, True
                    break
            if not moved:
                return None
        return used if cur == 0.0 else None

    # ---------------------------------------------------------------- circuit
    def _circuit(self, used: BoolArray, start: int) -> list[int] | None:
        """Euler circuit of the ways ``used`` from ``start`` (directed edge indices).

        Two-way ways are first given directions so that every node is left as
        often as it is entered (one-way ways keep theirs); then the circuit is
        traced, at each junction taking the least turning way left.
        """
        ways = np.nonzero(used)[0]
        direction = self._orient(ways)
        if direction is None:
            return None
        edges = np.where(direction, self.fwd[ways], self.bwd[ways])
        r = self.r
        out: dict[int, list[int]] = {}
        for e in edges.tolist():
            out.setdefault(int(r.src[e]), []).append(e)
        stack: list[tuple[int, int]] = [(start, -1)]
        circuit: list[int] = []
        while stack:
            node, arrived = stack[-1]
            left = out.get(node)
            if left:
                j = 0
                if arrived >= 0 and len(left) > 1:
                    turn = r.turn_angle_deg(np.full(len(left), arrived), np.asarray(left))
                    j = int(np.argmin(turn))
                e = left.pop(j)
                stack.append((int(r.dst[e]), e))
            else:
                stack.pop()
                if arrived >= 0:
                    circuit.append(arrived)
        circuit.reverse()
        if len(circuit) != len(edges):  # pragma: no cover - the set was connected
            return None
        return circuit

    def _orient(self, ways: IntArray) -> BoolArray | None:
        """Directions (True: a -> b) balancing in- and out-degree at every node.

        One-way ways are fixed; two-way ways start a -> b and are flipped along
        paths from nodes left too often to nodes entered too often.
        """
        forward = self.fwd[ways] >= 0
        fixed = (self.fwd[ways] < 0) | (self.bwd[ways] < 0)
        balance: dict[int, int] = {}
        for k, w in enumerate(ways.tolist()):
            s, t = (self.a[w], self.b[w]) if forward[k] else (self.b[w], self.a[w])
            balance[int(s)] = balance.get(int(s), 0) + 1
            balance[int(t)] = balance.get(int(t), 0) - 1
        # flippable ways leaving each node in their current direction
        leaving: dict[int, list[int]] = {}

        def tail(k: int) -> int:
            w = int(ways[k])
            return int(self.a[w] if forward[k] else self.b[w])

        def head(k: int) -> int:
            w = int(ways[k])
            return int(self.b[w] if forward[k] else self.a[w])

        for k in range(len(ways)):
            if not fixed[k]:
                leaving.setdefault(tail(k), []).append(k)
        for source in [v for v, b in balance.items() if b > 0]:
            while balance[source] > 0:
                # breadth-first along flippable ways to a node entered too often
                back: dict[int, int] = {source: -1}
                queue = deque([source])
                sink = -1
                while queue and sink < 0:
                    v = queue.popleft()
                    for k in leaving.get(v, []):
                        w = head(k)
                        if w not in back:
                            back[w] = k
                            if balance.get(w, 0) < 0:
                                sink = w
                                break
                            queue.append(w)
                if sink < 0:
                    return None
                v = sink
                while v != source:
                    k = back[v]
                    u = tail(k)
                    leaving[u].remove(k)
                    forward[k] = ~forward[k]
                    leaving.setdefault(v, []).append(k)
                    v = u
                balance[source] -= 2
                balance[sink] += 2
        return forward
