"""The cycle space of a street network: loops as edge sets, built from faces.

A closed walk that rides no way twice is an Euler circuit of a connected edge set
in which every node has even degree. Such sets form the *cycle space* of the
network (over GF(2): adding a set means taking the symmetric difference), and
the faces of the street map -- the blocks bounded by ways -- span it. Adding a
face next to a loop grows or shrinks the area it encloses; adding one between two
parts of it joins them.

:class:`CycleSpace` holds the faces and what both uses of them share: how far a set
of ways is from a valid loop (:meth:`CycleSpace.state`), joining its parts
(:meth:`CycleSpace.join`), setting aside the dead-end spurs every loop through the
stops rides there and back (:meth:`CycleSpace.set_aside`), and a circuit through a
set that respects one-way ways and turns as little as possible at each junction
(:meth:`CycleSpace.circuit`). :func:`ringroute._repair.repair` mends a loop that
rides ways twice; :func:`ringroute._straighten.straighten` flips blocks next to a
loop so that it turns less.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import connected_components, maximum_flow
from scipy.spatial import cKDTree

from ringroute._router import BEND_COST_M, TURN_COST_M, Router, subtree_joining
from ringroute._types import BoolArray, FloatArray, IntArray

#: faces longer than this share of all ways (the outer face) are never added
_MAX_FACE_SHARE = 0.3
#: surcharge (m) on ways a path must not ride (joins, round trips, re-routes)
SHUN_M = 1e9
#: ways of the set tried for a detour to a part to be joined
_DETOUR_WAYS = 4
#: cost (m) of turning back along the way arrived on (only at dead ends)
_UTURN_M = 1e6
#: turn costs by angle, largest angle first: the per-node sums read them one by one
#: (numpy's ``turn_cost_m`` per node made a 50 km plan 0.03 s slower)
_TURN_COSTS = sorted(TURN_COST_M, reverse=True)


@dataclass(frozen=True)
class Aside:
    """What a repaired loop rides outside its main part (see :meth:`CycleSpace.set_aside`)."""

    #: label of the main part
    main: int
    #: nodes the loop must pass in the main part (stops and the ends of bridges)
    stops: list[int]
    #: ways of the cycles in other parts
    ways: BoolArray
    #: directed edges of the bridges, both ways
    edges: list[int]
    #: length of all that (m)
    length_m: float


class CycleSpace:
    """Faces of a router's network, and valid loops as sets of its ways.

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
        ways = r.ways
        #: physical way (unordered node pair) of each directed edge, its end nodes,
        #: length, directed edges and headings (see :class:`ringroute._router.Ways`)
        self.phys, self.a, self.b = ways.of_edge, ways.a, ways.b
        self.length_m = ways.length_m
        self.fwd, self.bwd = ways.fwd, ways.bwd
        self.leave_a, self.leave_b = ways.leave_a, ways.leave_b
        # what face_turn_delta works out, by face and by node and ways there
        self._face_at: dict[int, dict[int, set[int]]] = {}
        self._turn_memo: dict[tuple[int, ...], float] = {}
        n_phys = len(self.a)
        # extra cost per metre of each way (its cheaper direction)
        per_m = np.full(n_phys, np.inf)
        np.minimum.at(per_m, self.phys,
                      np.maximum(weights - r.length, 0.0) / np.maximum(r.length, 1e-3))
        #: extra cost of riding each way (m)
        self.extra_m: FloatArray = self.length_m * per_m
        self.weights = weights
        #: ways that are bridges of the whole network (a loop over one rides it back)
        self.bridge: BoolArray = r.bridge_way
        #: the part of the network between bridges each node lies in, the node count
        #: of each part, and the tree of parts joined by the bridges (edge attribute
        #: ``edge``: a directed edge of the bridge)
        self.part, self.part_size, self.part_tree = r.bridge_parts
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
        # the faces are the cycles of the permutation h -> nxt[h]
        perm = coo_array((np.ones(n_half), (np.arange(n_half), nxt)), shape=(n_half, n_half))
        _, label = connected_components(perm, directed=True, connection="strong")
        n_ways = len(self.a)
        keys, counts = np.unique(label.astype(np.int64) * n_ways + (np.arange(n_half) >> 1),
                                 return_counts=True)
        keys = keys[counts % 2 == 1]  # a way a face walks twice cancels
        face, way = keys // n_ways, keys % n_ways
        if not len(way):
            return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, face[1:] != face[:-1]])
        size = np.diff(np.r_[starts, len(face)])
        total = float(self.length_m.sum())
        face_len = np.add.reduceat(self.length_m[way], starts)
        good = (size >= 2) & (face_len <= _MAX_FACE_SHARE * total)
        keep = np.repeat(good, size)
        ptr = np.r_[0, np.cumsum(size[good])]
        ways = way[keep]
        return np.asarray(ptr, dtype=np.int64), np.asarray(ways, dtype=np.int64)

    @cached_property
    def face_sums(self) -> tuple[FloatArray, FloatArray]:
        """Length of each face and the extra cost of riding all its ways (m)."""
        ptr, ways = self.face_ptr, self.face_phys
        return (np.add.reduceat(self.length_m[ways], ptr[:-1]),
                np.add.reduceat(self.extra_m[ways], ptr[:-1]))

    def overlap(self, used: BoolArray) -> tuple[FloatArray, BoolArray, FloatArray]:
        """Per face: length shared with the set ``used``, any way shared, extra cost shared.

        The extra cost is that of riding the shared ways (m, see ``extra_m``).
        """
        ptr, ways = self.face_ptr, self.face_phys
        inside = used[ways]
        return (np.add.reduceat(self.length_m[ways] * inside, ptr[:-1]),
                np.add.reduceat(inside.astype(np.int64), ptr[:-1]) > 0,
                np.add.reduceat(self.extra_m[ways] * inside, ptr[:-1]))

    @property
    def n_faces(self) -> int:
        """Number of faces usable for repairs."""
        return len(self.face_ptr) - 1

    def face_ways(self, f: int) -> IntArray:
        """The ways of face ``f``."""
        return self.face_phys[self.face_ptr[f]:self.face_ptr[f + 1]]

    def flipped(self, used: BoolArray, ways: IntArray) -> BoolArray:
        """The set ``used`` with ``ways`` added (GF(2): a way in both drops out)."""
        out = used.copy()
        out[ways] = ~out[ways]
        return out

    # ------------------------------------------------------------------ turns
    def ways_at(self, used: BoolArray) -> dict[int, set[int]]:
        """The ways of the set ``used`` at each of its nodes."""
        return self._by_node(np.nonzero(used)[0])

    def _by_node(self, ways: IntArray) -> dict[int, set[int]]:
        """``ways`` at each of their end nodes."""
        at: dict[int, set[int]] = {}
        for w in ways.tolist():
            at.setdefault(int(self.a[w]), set()).add(w)
            at.setdefault(int(self.b[w]), set()).add(w)
        return at

    def face_turn_delta(self, f: int, at: dict[int, set[int]]) -> float:
        """Change of the turn cost if face ``f`` is added to a set (its ways ``at`` nodes).

        The cost at each node is the router's (:data:`ringroute._router.TURN_COST_M`)
        for a loop that pairs the set's ways there so that it turns least.
        """
        delta = 0.0
        face_at = self._face_at.get(f)
        if face_at is None:  # the straightening asks for the same faces again and again
            face_at = self._face_at[f] = self._by_node(self.face_ways(f))
        for v, ws in face_at.items():
            cur = at.get(v, set())
            delta += self._node_turn_m(v, sorted(cur ^ ws)) - self._node_turn_m(v, sorted(cur))
        return delta

    def _node_turn_m(self, v: int, ways: Sequence[int]) -> float:
        """Turn cost at node ``v`` of a loop riding ``ways`` there, paired to turn least."""
        key = (v, *ways)
        known = self._turn_memo.get(key)
        if known is None:
            known = self._turn_memo[key] = self._node_turn_m_uncached(v, ways)
        return known

    def _node_turn_m_uncached(self, v: int, ways: Sequence[int]) -> float:
        k = len(ways)
        if k < 2:
            return 0.0
        if k > 4:
            return 0.5 * k * BEND_COST_M  # rare: many passes through one node
        leave = [float(self.leave_a[w] if self.a[w] == v else self.leave_b[w]) for w in ways]

        def cost(i: int, j: int) -> float:
            # arriving by way i (heading leave_i + 180), leaving by way j
            delta = abs((leave[j] - leave[i] + 360.0) % 360.0 - 180.0)
            return next((c for angle, c in _TURN_COSTS if delta > angle), 0.0)

        if k == 2:
            return cost(0, 1)
        if k == 4:
            return min(cost(0, 1) + cost(2, 3), cost(0, 2) + cost(1, 3),
                       cost(0, 3) + cost(1, 2))
        return BEND_COST_M  # an odd count: a set being changed

    @cached_property
    def _node_faces(self) -> tuple[IntArray, IntArray]:
        """The faces at each node (CSR: pointers by node, face ids)."""
        n_faces = max(self.n_faces, 1)
        face_of = np.repeat(np.arange(self.n_faces, dtype=np.int64), np.diff(self.face_ptr))
        nodes = np.concatenate([self.a[self.face_phys], self.b[self.face_phys]])
        keys = np.unique(nodes * n_faces + np.concatenate([face_of, face_of]))
        ptr = np.searchsorted(keys // n_faces, np.arange(self.r.n_nodes + 1))
        return ptr.astype(np.int64), keys % n_faces

    @cached_property
    def _way_faces(self) -> tuple[IntArray, IntArray]:
        """The faces along each way (CSR: pointers by way, face ids)."""
        face_of = np.repeat(np.arange(self.n_faces, dtype=np.int64), np.diff(self.face_ptr))
        order = np.argsort(self.face_phys, kind="stable")
        ptr = np.searchsorted(self.face_phys[order], np.arange(len(self.a) + 1))
        return ptr.astype(np.int64), face_of[order]

    def faces_along(self, way: int) -> IntArray:
        """The faces (one or two) that way ``way`` borders."""
        ptr, faces = self._way_faces
        return faces[ptr[way]:ptr[way + 1]]

    def faces_at(self, nodes: Sequence[int]) -> IntArray:
        """Faces at any of ``nodes`` (with repeats)."""
        ptr, faces = self._node_faces
        if not len(nodes):
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([faces[ptr[v]:ptr[v + 1]] for v in nodes])

    def set_aside(self, stops: Sequence[int], ways: IntArray) -> Aside | None:
        """Set aside what every loop through ``stops`` must ride besides the main part.

        The parts of the network without its bridges form a tree (joined by the
        bridges). Every loop through the stops rides the bridges of the smallest
        subtree joining the stops' parts there and back, and in each part of it with
        cycles but the main one (the largest) a cycle through its stops and the
        bridges' ends (joined as in :meth:`join`). If no stop lies on a cycle, the
        subtree is extended to the part the loop ``ways`` rides most.

        Returns ``None`` if a part of the subtree cannot be crossed without
        riding a way twice (a round trip there fails) or a bridge is one-way.
        """
        part, sizes, tree = self.part, self.part_size, self.part_tree
        terminals = list(dict.fromkeys(int(part[s]) for s in stops))
        try:
            keep, links = subtree_joining(tree, terminals)
            cyclic = [k for k in keep if sizes[k] > 1]
            if not cyclic:
                # every stop at a dead end: the loop's cycles lie in the part it rides most
                inner = ways[~self.bridge[ways]]
                if not len(inner):
                    return None
                ridden = np.bincount(part[self.a[inner]], weights=self.length_m[inner])
                more, more_links = subtree_joining(tree, [terminals[0], int(np.argmax(ridden))])
                keep |= more
                links |= more_links
                cyclic = [k for k in keep if sizes[k] > 1]
        except nx.NetworkXNoPath:
            return None
        main = max(cyclic, key=lambda k: int(sizes[k]))
        spur = np.fromiter((int(self.phys[tree[a][b]["edge"]]) for a, b in links), np.int64,
                           len(links))
        if np.any(self.fwd[spur] < 0) or np.any(self.bwd[spur] < 0):
            return None
        # the stops of each part with cycles, and the ends of the bridges in it
        ends = np.concatenate([self.a[spur], self.b[spur]]).tolist()
        inner_stops: dict[int, list[int]] = {k: [] for k in cyclic}
        for v in [int(stops[0]), *ends, *(int(s) for s in stops)]:
            if part[v] in inner_stops:
                inner_stops[int(part[v])].append(v)
        fixed = np.zeros(len(self.a), dtype=bool)
        for k in cyclic:
            if k == main or len(set(inner_stops[k])) < 2:
                continue
            cycle = self.join(np.zeros(len(self.a), dtype=bool), list(dict.fromkeys(
                inner_stops[k])))
            if cycle is None:
                return None
            fixed |= cycle
        spur_edges = np.concatenate([self.fwd[spur], self.bwd[spur]]).tolist()
        aside_m = 2.0 * float(self.length_m[spur].sum()) + float(self.length_m[fixed].sum())
        return Aside(main, list(dict.fromkeys(inner_stops[main])), fixed, spur_edges, aside_m)

    def state(self, used: BoolArray, stops: Sequence[int], target_m: float,
              tol_m: float, prefer: BoolArray | None = None,
              limit: int | None = None, *, at_least: float = np.inf) -> float:
        """How far a set is from a valid loop (0: a valid one).

        Valid: connected, on every stop, of the target length and ridable in one
        circuit despite one-way ways (directions tried first: ``prefer``; searches
        for directions reach ``limit`` nodes at most). A set whose parts, missing
        stops and length alone are ``at_least`` that far is not checked for one-way
        ways: the value returned is then a lower bound (for callers that only ask
        whether a set is nearer than ``at_least``).
        """
        ways = np.nonzero(used)[0]
        if not len(ways):
            return np.inf
        nodes, labels = self._components(ways)
        n_parts = int(labels.max()) + 1
        missing = len(set(stops) - set(nodes.tolist()))
        err = max(0.0, abs(float(self.length_m[ways].sum()) - target_m) - tol_m) / target_m
        value = 10.0 * (n_parts - 1) + 10.0 * missing + 10.0 * err
        if n_parts == 1 and not missing and value < at_least:
            # nodes one-way ways leave more often than enter (or back) allow no circuit
            value += 1.0 * (self.orient(ways, prefer, limit)[1] if limit is not None
                            else self.unbalanced(ways, prefer))
        return value

    def unbalanced(self, ways: IntArray, prefer: BoolArray | None = None) -> int:
        """The count :meth:`orient` returns (without ``limit``), by a maximum flow.

        Flipping a two-way way moves one unit of excess (half the difference of
        leaving and entering) along it; the units no flips can carry from nodes left
        too often to nodes entered too often are missing. The same count as
        :meth:`orient`'s paths, in compiled code: on a large set orient's search in
        Python costs milliseconds.
        """
        _, fixed, nodes, inv = self._directed(ways, prefer)
        k, n = len(ways), len(nodes)
        excess = (np.bincount(inv[:k], minlength=n) - np.bincount(inv[k:], minlength=n)) // 2
        if not np.any(excess):
            return 0
        supply = np.nonzero(excess > 0)[0]
        demand = np.nonzero(excess < 0)[0]
        flip = np.nonzero(~fixed)[0]
        # nodes 0..n-1, then the source n and the sink n + 1
        src = np.concatenate([inv[:k][flip], np.full(len(supply), n), demand])
        dst = np.concatenate([inv[k:][flip], supply, np.full(len(demand), n + 1)])
        cap = np.concatenate([np.ones(len(flip), dtype=np.int32),
                              excess[supply].astype(np.int32),
                              (-excess[demand]).astype(np.int32)])
        flow = maximum_flow(_csr(src, dst, cap, n + 2), n, n + 1).flow_value
        return int(excess[supply].sum()) - int(flow)

    def _components(self, ways: IntArray) -> tuple[IntArray, IntArray]:
        """Nodes of the ways ``ways`` and the connected part each belongs to."""
        nodes, inv = np.unique(np.concatenate([self.a[ways], self.b[ways]]),
                               return_inverse=True)
        return nodes, _parts(inv, len(ways), len(nodes))

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

    def join(self, used: BoolArray, stops: Sequence[int]) -> BoolArray | None:
        """Join every part of ``used`` (and every stop off it) to the start's part.

        Ways ridden twice drop out of the set, which may split it (an out-and-back
        leaves nothing). The largest part takes in the nearest other one by a cycle:
        a detour from one of its ways through the other part (see
        :meth:`_detour_through`), or else a cheapest path there and one back, each
        shunning ways already in the set.
        """
        r = self.r
        seen: set[bytes] = set()
        for _ in range(len(stops) + 8):
            pieces = self._pieces(used, stops)
            if len(pieces) <= 1:
                return used
            # the largest part takes in the one nearest to it (as the crow flies)
            main = max(pieces, key=len)
            m_nodes = np.fromiter(main, np.int64, len(main))
            tree = cKDTree(np.column_stack([r.xm[m_nodes], r.ym[m_nodes]]))
            gaps = [float(tree.query(np.column_stack([r.xm[list(q)], r.ym[list(q)]]))[0].min())
                    if q is not main else np.inf for q in pieces]
            other = pieces[int(np.argmin(gaps))]
            o_nodes = np.fromiter(other, np.int64, len(other))
            dx = r.xm[m_nodes][:, None] - r.xm[o_nodes][None, :]
            dy = r.ym[m_nodes][:, None] - r.ym[o_nodes][None, :]
            i, j = np.unravel_index(int(np.argmin(np.hypot(dx, dy))), dx.shape)
            a, b = int(m_nodes[i]), int(o_nodes[j])
            # the cycle that leaves fewest parts (a round trip over the set's ways
            # may cut it elsewhere), then one that one-way ways leave ridable in one
            # circuit (a detour may run against the way it replaces), then the one
            # adding least length; round trips only where no detour does
            options = self._join_options(used, stops,
                                         self._detour_through(used, main, o_nodes))
            if not options or min(options)[1] > 0:
                options += self._join_options(
                    used, stops,
                    [t for t in (self._round_trip(used, a, b), self._round_trip(used, b, a)) if t],
                    first=len(options))
            if not options:
                return None
            # a set seen before means the joins go round in circles
            used = min(options)[4]
            key = np.packbits(used).tobytes()
            if key in seen:
                return None
            seen.add(key)
        return None

    def _join_options(self, used: BoolArray, stops: Sequence[int], cycles: list[list[int]],
                      first: int = 0) -> list[tuple[int, int, float, int, BoolArray]]:
        """The set with each closed walk of ``cycles`` added, as :meth:`join` ranks them.

        Keys: the parts left, what no direction balances (:meth:`unbalanced`), the
        length added, the order (from ``first``); the set comes last.
        """
        before_m = float(self.length_m[used].sum())
        options = []
        for k, walk in enumerate(cycles):
            after = used ^ (np.bincount(self.phys[np.asarray(walk)], minlength=len(self.a)) % 2
                            == 1)
            options.append((len(self._pieces(after, stops)),
                            self.unbalanced(np.nonzero(after)[0]),
                            float(self.length_m[after].sum()) - before_m, first + k, after))
        return options

    def _detour_through(self, used: BoolArray, main: set[int], piece: IntArray
                        ) -> list[list[int]]:
        """Ways of the main part, each with a detour along it through a node of ``piece``.

        The way ``u -> v`` and the detour ``u -> x -> v`` (paths off the set's ways)
        form a cycle; adding it to the set swaps the way for the detour, which
        joins the piece without splitting the rest. Tries the set's ways nearest
        to the piece, in both directions; returns the cycles found (directed
        edges: the way's edge, then the detour), shortest detour first.
        """
        r = self.r
        ways = np.nonzero(used)[0]
        ways = ways[np.isin(self.a[ways], np.fromiter(main, np.int64, len(main)))]
        if not len(ways):
            return []
        found: list[tuple[float, list[int]]] = []
        mx = 0.5 * (r.xm[self.a[ways]] + r.xm[self.b[ways]])
        my = 0.5 * (r.ym[self.a[ways]] + r.ym[self.b[ways]])
        dist = np.hypot(mx[:, None] - r.xm[piece][None, :], my[:, None] - r.ym[piece][None, :])
        w0 = self.weights.copy()
        w0[used[self.phys]] += SHUN_M
        for k in np.argsort(dist.min(axis=1), kind="stable")[:_DETOUR_WAYS].tolist():
            x = int(piece[int(np.argmin(dist[k]))])
            way = int(ways[k])
            for e in (int(self.fwd[way]), int(self.bwd[way])):
                if e < 0:
                    continue
                u, v = int(r.src[e]), int(r.dst[e])
                p1 = r.path(u, x, w0)
                if not p1 or float(w0[np.asarray(p1)].sum()) >= SHUN_M:
                    continue
                w1 = w0.copy()
                w1[np.isin(self.phys, self.phys[np.asarray(p1)])] += SHUN_M
                p2 = r.path(x, v, w1)
                if not p2 or float(w1[np.asarray(p2)].sum()) >= SHUN_M:
                    continue
                added = float(r.length[p1].sum() + r.length[p2].sum() - r.length[e])
                found.append((added, [e, *p1, *p2]))
        found.sort(key=lambda t: t[0])
        return [cycle for _, cycle in found]

    def _round_trip(self, used: BoolArray, a: int, b: int) -> list[int]:
        """Cheapest path ``a -> b`` and one back avoiding it (and the set's ways).

        The set's ways are shunned (riding one takes it out of the set, which may
        split it), or if that finds nothing made 30 times dearer. Ways the two
        paths share cancel; the result is empty when the way back can only be the
        way there (e.g. one-way streets allow no other).
        """
        for strict in (True, False):
            trip = self._round_trip_once(used, a, b, strict=strict)
            if trip:
                return trip
        return []

    def _round_trip_once(self, used: BoolArray, a: int, b: int, *, strict: bool
                         ) -> list[int]:
        r = self.r
        w = self.weights.copy()
        in_set = used[self.phys]
        if strict:
            w[in_set] += SHUN_M
        else:
            w[in_set] *= 30.0
            # a one-way way of the set can only be ridden its way: taking it out of
            # the set would leave its ends unbalanced
            w[in_set & ((self.fwd < 0) | (self.bwd < 0))[self.phys]] += SHUN_M
        there = r.path(a, b, w)
        if not there or (strict and float(w[np.asarray(there)].sum()) >= SHUN_M):
            return []
        # the way back shuns the way there at any price (a relative surcharge would
        # let it ride a short link back); if it must, the ways both ride cancel
        w[np.isin(self.phys, self.phys[np.asarray(there, dtype=np.int64)])] += SHUN_M
        back = r.path(b, a, w)
        if not back or (strict and float(w[np.asarray(back)].sum()) >= SHUN_M):
            return []
        ways = self.phys[np.asarray(there + back, dtype=np.int64)]
        if len(np.unique(ways)) * 2 == len(ways):  # the same ways there and back
            return []
        return there + back

    # ---------------------------------------------------------------- circuit
    def circuit(self, used: BoolArray, start: int, extra: Sequence[int] = (),
                prefer: BoolArray | None = None) -> list[int] | None:
        """Euler circuit of the ways ``used`` from ``start`` (directed edge indices).

        Two-way ways are first given directions so that every node is left as
        often as it is entered (one-way ways keep theirs); the circuit, with the
        balanced directed edges ``extra`` (spurs there and back), is then traced
        by :meth:`_trace`. Ways keep the direction ``prefer`` gives where they can.
        """
        ways = np.nonzero(used)[0]
        direction, unbalanced = self.orient(ways, prefer)
        if unbalanced:
            return None
        edges = np.concatenate([np.where(direction, self.fwd[ways], self.bwd[ways]),
                                np.asarray(extra, dtype=np.int64)])
        return self._trace(edges.tolist(), start)

    def _trace(self, edges: list[int], start: int) -> list[int] | None:
        """A closed walk from ``start`` over the balanced directed ``edges``, turning little.

        At every node the edges arriving are paired with the edges leaving so that
        the turns cost least (an assignment problem; U-turns only at dead ends).
        The pairs chain the edges into closed trails; where two trails meet at a
        node, swapping their pairs there joins them -- the cheapest swap first --
        until one circuit is left. Its dearest turn at the start is where it begins.
        """
        r = self.r
        arriving: dict[int, list[int]] = {}
        leaving: dict[int, list[int]] = {}
        for e in edges:
            arriving.setdefault(int(r.dst[e]), []).append(e)
            leaving.setdefault(int(r.src[e]), []).append(e)
        if start not in leaving:
            return None

        def cost(e_in: npt.ArrayLike, e_out: npt.ArrayLike) -> FloatArray:
            """Turn cost from edges ``e_in`` into edges ``e_out`` (a U-turn: dearer)."""
            a = np.asarray(e_in, dtype=np.int64)
            b = np.asarray(e_out, dtype=np.int64)
            return np.asarray(r.turn_penalty(a, b) + _UTURN_M * (r.reverse[a] == b),
                              dtype=float)

        succ: dict[int, int] = {}
        for v, ins in arriving.items():
            outs = leaving.get(v, [])
            if len(outs) != len(ins):
                return None
            if len(ins) == 1:
                succ[ins[0]] = outs[0]
                continue
            matrix = cost(np.repeat(ins, len(outs)), np.tile(outs, len(ins)))
            rows, cols = linear_sum_assignment(matrix.reshape(len(ins), len(outs)))
            for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
                succ[ins[i]] = outs[j]
        # label the closed trails (by the position of an edge of each in ``edges``)
        at = {e: k for k, e in enumerate(edges)}
        nxt = np.array([at[succ[e]] for e in edges], dtype=np.int64)
        trail = np.full(len(edges), -1, dtype=np.int64)
        for k in range(len(edges)):
            x = k
            while trail[x] < 0:
                trail[x] = k
                x = int(nxt[x])
        # every pair of edges arriving at one node, in order; swapping their
        # successors joins their trails (if different) at the cost of the turn change
        pa, pb = [], []
        for ins in arriving.values():
            for i, a in enumerate(ins):
                for b in ins[i + 1:]:
                    pa.append(at[a])
                    pb.append(at[b])
        ia, ib = np.asarray(pa, dtype=np.int64), np.asarray(pb, dtype=np.int64)
        e_of = np.asarray(edges, dtype=np.int64)
        for _ in range(len(set(trail.tolist())) - 1):
            apart = trail[ia] != trail[ib]
            if not apart.any():
                return None  # the edges are not connected
            ea, eb, sa, sb = e_of[ia], e_of[ib], e_of[nxt[ia]], e_of[nxt[ib]]
            delta = cost(ea, sb) + cost(eb, sa) - cost(ea, sa) - cost(eb, sb)
            k = int(np.argmin(np.where(apart, delta, np.inf)))
            a, b = int(ia[k]), int(ib[k])
            nxt[a], nxt[b] = nxt[b], nxt[a]
            trail[trail == trail[b]] = trail[a]
        for k, e in enumerate(edges):
            succ[e] = edges[int(nxt[k])]
        # begin after the dearest turn at the start (the rider does not ride it)
        if start in arriving:
            ins = arriving[start]
            first = ins[int(np.argmax(cost(ins, [succ[a] for a in ins])))]
        else:
            first = leaving[start][0]
        e = succ[first] if start in arriving else first
        circuit = [e]
        while len(circuit) < len(edges):
            e = succ[e]
            circuit.append(e)
        return circuit

    def directions(self, edges: IntArray) -> BoolArray:
        """Direction (True: a -> b) each way is ridden in by ``edges`` (others: a -> b)."""
        forward = np.ones(len(self.a), dtype=bool)
        forward[self.phys[edges]] = self.r.src[edges] == self.a[self.phys[edges]]
        return forward

    def _directed(self, ways: IntArray, prefer: BoolArray | None
                  ) -> tuple[BoolArray, BoolArray, IntArray, IntArray]:
        """Directions to start balancing ``ways`` from, and where they lead.

        Returns the directions (True: a -> b; one-way ways fixed, two-way ways as
        ``prefer`` gives, else a -> b), which ways are fixed, the nodes, and the index
        among them of each way's tail, then of each way's head.
        """
        forward = self.fwd[ways] >= 0
        fixed = (self.fwd[ways] < 0) | (self.bwd[ways] < 0)
        if prefer is not None:
            forward = np.where(fixed, forward, prefer[ways])
        tails = np.where(forward, self.a[ways], self.b[ways])
        heads = np.where(forward, self.b[ways], self.a[ways])
        nodes, inv = np.unique(np.concatenate([tails, heads]), return_inverse=True)
        return forward, fixed, nodes, inv

    def orient(self, ways: IntArray, prefer: BoolArray | None = None,
               limit: int | None = None) -> tuple[BoolArray, int]:
        """Directions (True: a -> b) balancing in- and out-degree at every node.

        One-way ways are fixed; two-way ways start a -> b and are flipped along
        paths from nodes left too often to nodes entered too often (they start in
        the direction ``prefer`` gives, e.g. the one the loop rode). Returns the
        directions and the number of paths still missing (0: balanced; a node
        from which no flippable path leads to a node entered too often can never
        be balanced, as flipping elsewhere never opens one). With ``limit``, a
        search that reaches that many nodes without finding one gives up and
        counts as missing (a quick check of a small change).
        """
        forward, fixed, nodes, inv = self._directed(ways, prefer)
        k = len(ways)
        tails, heads = nodes[inv[:k]], nodes[inv[k:]]
        net = (np.bincount(inv[:k], minlength=len(nodes))
               - np.bincount(inv[k:], minlength=len(nodes)))
        if not np.any(net):
            return forward, 0
        balance = dict(zip(nodes[net != 0].tolist(), net[net != 0].tolist(), strict=True))
        tail_of, head_of = tails.tolist(), heads.tolist()
        # flippable ways leaving each node in their current direction
        leaving: dict[int, list[int]] = {}
        for i in np.nonzero(~fixed)[0].tolist():
            leaving.setdefault(tail_of[i], []).append(i)
        missing = 0
        for source in [v for v, b in balance.items() if b > 0]:
            while balance[source] > 0:
                # breadth-first along flippable ways to a node entered too often
                back: dict[int, int] = {source: -1}
                queue = deque([source])
                sink = -1
                while queue and sink < 0:
                    if limit is not None and len(back) > limit:
                        break
                    v = queue.popleft()
                    for i in leaving.get(v, []):
                        w = head_of[i]
                        if w not in back:
                            back[w] = i
                            if balance.get(w, 0) < 0:
                                sink = w
                                break
                            queue.append(w)
                if sink < 0:
                    missing += balance[source] // 2
                    break
                v = sink
                while v != source:
                    i = back[v]
                    u = tail_of[i]
                    leaving[u].remove(i)
                    forward[i] = ~forward[i]
                    tail_of[i], head_of[i] = v, u
                    leaving.setdefault(v, []).append(i)
                    v = u
                balance[source] -= 2
                balance[sink] += 2
        return forward, missing


def _parts(ends: IntArray, k: int, n: int) -> IntArray:
    """Connected part of each of ``n`` nodes joined by ``k`` links.

    Link ``i`` joins nodes ``ends[i]`` and ``ends[k + i]``. Parts are numbered in
    the order of their lowest node. The links are stored both ways in one CSR
    array, so the compiled search for strong components needs no transpose: it
    is called tens of thousands of times per search, where building the sparse
    arrays costs more than the search itself.
    """
    # each link both ways, once: scipy's search for strong components does not
    # return on repeated entries (parallel ways)
    graph = _csr(ends, np.concatenate([ends[k:], ends[:k]]), np.ones(2 * k), n)
    _, labels = connected_components(graph, directed=True, connection="strong")
    # renumber by each part's lowest node
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return np.asarray(rank[labels], dtype=np.int64)


def _csr(src: IntArray, dst: IntArray, value: npt.NDArray[Any], n: int) -> csr_array:
    """The ``n`` x ``n`` CSR array of entries ``value`` at ``(src, dst)``, repeats summed.

    Built directly in canonical form (rows and columns sorted, no repeats): scipy's
    general constructor converts and checks several times, which costs more than
    the graph searches run on these small arrays.
    """
    code, inv = np.unique(src.astype(np.int64) * n + dst, return_inverse=True)
    summed = np.bincount(inv, weights=value, minlength=len(code)).astype(value.dtype)
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(code // n, minlength=n), out=indptr[1:])
    graph = csr_array((summed, (code % n).astype(np.int32), indptr), shape=(n, n))
    graph.has_canonical_format = True
    return graph
