"""Compiled shortest paths over the networkx graph.

networkx stays the graph model; :class:`Router` mirrors it into CSR arrays once
and answers Dijkstra queries in compiled code (:mod:`ringroute._search`, and
``scipy.sparse.csgraph`` for the few whole-graph searches). Edge ``i`` of the router
is the cheapest of the parallel graph edges from ``src[i]`` to ``dst[i]``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from typing import Any, cast

import networkx as nx
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_array, csr_array
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from ringroute._arrays import ranks
from ringroute._geo import LocalProjection
from ringroute._metrics import TURN_WINDOW_M, count_turns_xy
from ringroute._search import CSRGraph, chain
from ringroute._types import FloatArray, IntArray

_MIN_WEIGHT = 1e-3  # csgraph treats explicit zeros as missing edges


def _heading(p: tuple[float, float], q: tuple[float, float], lat: float) -> float:
    dx = (q[0] - p[0]) * math.cos(math.radians(lat))
    dy = q[1] - p[1]
    return math.degrees(math.atan2(dx, dy)) % 360.0


#: Extra cost (metres of riding) of a bend within a way (a heading change of more than
#: 50° within 40 m where no other way joins): a winding way flows like one with turns.
BEND_COST_M = 350.0

#: Extra cost (metres of riding) of a turn, by the angle turned. A loop that flows
#: turns rarely: riders take a few hundred metres more over a turn at every block
#: (the quality target counts heading changes of more than 50°).
TURN_COST_M: tuple[tuple[float, float], ...] = ((150.0, 1200.0), (100.0, 600.0),
                                                (50.0, 350.0), (25.0, 80.0))


def turn_cost_m(delta_deg: npt.ArrayLike) -> FloatArray:
    """Cost (metres, see :data:`TURN_COST_M`) of heading changes ``delta_deg`` (0–180)."""
    delta = np.asarray(delta_deg, dtype=np.float64)
    pen = np.zeros(delta.shape)
    for angle, cost in reversed(TURN_COST_M):
        pen[delta > angle] = cost
    return pen


def subtree_joining(tree: nx.Graph, terminals: Sequence[int]
                    ) -> tuple[set[int], set[tuple[int, int]]]:
    """Nodes and edges of the smallest subtree of the forest ``tree`` joining ``terminals``.

    In a tree that is the union of the paths from the first terminal to the others;
    edges are given as ``(u, v)`` pairs in the direction away from it. Raises
    ``networkx.NetworkXNoPath`` if the terminals lie in different trees.
    """
    if len(terminals) > 1 and any(t not in tree for t in terminals):
        raise nx.NetworkXNoPath(f"terminals {terminals} are not all in the tree")
    nodes = {terminals[0]}
    edges: set[tuple[int, int]] = set()
    for t in terminals[1:]:
        path = nx.shortest_path(tree, terminals[0], t)
        nodes.update(path)
        edges.update(pairwise(path))
    return nodes, edges


#: budget steps of :meth:`Router.least_repeat_m` at most
_MAX_UNITS = 2000


def _max_plus(a: FloatArray, b: FloatArray) -> FloatArray:
    """``out[k] = max over j <= k of a[k - j] + b[j]`` for non-decreasing ``a`` and ``b``.

    Only the steps of ``b`` matter (``a`` does not decrease), so the cost is the
    number of distinct values of ``b`` times the length.
    """
    out: FloatArray = a + float(b[0])
    for j in np.nonzero(np.diff(b) > 0)[0] + 1:
        np.maximum(out[j:], a[: len(a) - j] + b[j], out=out[j:])
    return out


@dataclass(frozen=True)
class ShortestPaths:
    """Result of one single-source search."""

    source: int
    dist: FloatArray
    pred: npt.NDArray[np.int32]
    #: the edge joining each node to its ``pred`` (-1 for none)
    edge: IntArray


@dataclass(frozen=True)
class Ways:
    """The physical ways of a network: node pairs, whatever the directions ridden."""

    #: the way of each directed edge
    of_edge: IntArray
    #: its end nodes (node indices, ``a < b``)
    a: IntArray
    b: IntArray
    #: its length (m; the longer direction where the two differ)
    length_m: FloatArray
    #: its directed edge ``a -> b`` and ``b -> a`` (-1: one-way the other way)
    fwd: IntArray
    bwd: IntArray
    #: the heading (degrees) leaving node ``a`` along it, and leaving node ``b``
    leave_a: FloatArray
    leave_b: FloatArray


class Router:
    """CSR mirror of a bike graph for fast shortest paths.

    Searches reuse internal matrices, so one router serves one thread at a time.

    Parameters
    ----------
    graph
        A graph from :func:`ringroute.network.build_graph`.
    """

    def __init__(self, graph: nx.MultiDiGraph) -> None:
        nodes = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
        self.node_ids: IntArray = nodes
        self.index: dict[int, int] = {int(n): i for i, n in enumerate(nodes)}
        self.lon: FloatArray = np.array([graph.nodes[n]["x"] for n in nodes], dtype=float)
        self.lat: FloatArray = np.array([graph.nodes[n]["y"] for n in nodes], dtype=float)
        self.proj = LocalProjection(float(self.lat.mean()), float(self.lon.mean()))
        self.xm, self.ym = self.proj.to_xy(self.lat, self.lon)
        self._kdtree = cKDTree(np.column_stack([self.xm, self.ym]))

        best: dict[tuple[int, int], tuple[float, float, int, str, bool, Any, str]] = {}
        idx = self.index
        for u, v, k, d in graph.edges(keys=True, data=True):
            a, b = idx[u], idx[v]
            if a == b:
                continue
            length = float(d["length_m"])
            cost = max(length, _MIN_WEIGHT) * float(d.get("bike_factor", 1.0))
            cur = best.get((a, b))
            if cur is None or cost < cur[0]:
                highway = d.get("highway", "")
                best[(a, b)] = (cost, length, int(k), str(d.get("way_class", "quiet")),
                                bool(d.get("cycle_route", False)), d.get("geometry"),
                                str(highway[0] if isinstance(highway, list) else highway))
        keys = sorted(best)
        n_edges = len(keys)
        self.src: npt.NDArray[np.int32] = np.fromiter((k[0] for k in keys), np.int32, n_edges)
        self.dst: npt.NDArray[np.int32] = np.fromiter((k[1] for k in keys), np.int32, n_edges)
        vals = [best[k] for k in keys]
        self.cost: FloatArray = np.fromiter((x[0] for x in vals), float, n_edges)
        self.length: FloatArray = np.fromiter((max(x[1], _MIN_WEIGHT) for x in vals), float,
                                              n_edges)
        self.key: IntArray = np.fromiter((x[2] for x in vals), np.int64, n_edges)
        self.way_class: list[str] = [x[3] for x in vals]
        #: the OSM highway value of each edge (the first of a merged way's)
        self.highway: list[str] = [x[6] for x in vals]
        self.cycle_route = np.fromiter((x[4] for x in vals), bool, n_edges)
        # headings (degrees, clockwise from north) where each edge leaves and arrives
        self.head_out: FloatArray = np.zeros(n_edges)
        self.head_in: FloatArray = np.zeros(n_edges)
        curved: list[tuple[int, npt.NDArray[np.float64]]] = []
        for i, ((a, b), x) in enumerate(zip(keys, vals, strict=True)):
            geom = x[5]
            if geom is not None:
                cs = list(geom.coords)
                if len(cs) >= 2 and (cs[0][0], cs[0][1]) != (self.lon[a], self.lat[a]):
                    cs.reverse()
                if len(cs) > 2 and self.length[i] > TURN_WINDOW_M:
                    curved.append((i, np.asarray(cs, dtype=float)))
            else:
                cs = [(self.lon[a], self.lat[a]), (self.lon[b], self.lat[b])]
            self.head_out[i] = _heading(cs[0], cs[1], self.lat[a])
            self.head_in[i] = _heading(cs[-2], cs[-1], self.lat[a])
        #: turns within each edge (bends of a winding way), counted like the loop's turns
        self.bends: IntArray = np.zeros(n_edges, dtype=np.int64)
        if curved:
            lines = [self.proj.to_xy(c[:, 1], c[:, 0]) for _, c in curved]
            self.bends[[i for i, _ in curved]] = count_turns_xy(lines)
        self.cost += BEND_COST_M * self.bends
        self._index_edges()

    def _index_edges(self) -> None:
        """Derive CSR pointers, reverse edges and incoming adjacency from src/dst."""
        n = len(self.node_ids)
        self.n_nodes = n
        self.n_edges = len(self.src)
        self.indptr: IntArray = np.zeros(n + 1, dtype=np.int64)
        np.add.at(self.indptr, self.src.astype(np.int64) + 1, 1)
        self.indptr = np.cumsum(self.indptr)
        code = self.src.astype(np.int64) * n + self.dst.astype(np.int64)  # sorted
        rcode = self.dst.astype(np.int64) * n + self.src.astype(np.int64)
        pos = np.searchsorted(code, rcode).clip(0, max(0, self.n_edges - 1))
        found = code[pos] == rcode if self.n_edges else np.zeros(0, dtype=bool)
        self.reverse: IntArray = np.where(found, pos, -1).astype(np.int64)
        # reverse adjacency (incoming edges) for "arrive at node" queries
        order = np.lexsort((self.src, self.dst))
        self.in_edges: IntArray = order.astype(np.int64)
        self.in_indptr: IntArray = np.zeros(n + 1, dtype=np.int64)
        np.add.at(self.in_indptr, self.dst.astype(np.int64) + 1, 1)
        self.in_indptr = np.cumsum(self.in_indptr)

    def subset(self, keep: npt.NDArray[np.bool_]) -> Router:
        """A router over the nodes where ``keep`` is true (and the edges among them).

        Node and edge identities (OSM ids, edge keys) are preserved, so routes found
        in the subset are routes of the whole graph.
        """
        sub = Router.__new__(Router)
        new_index = np.full(self.n_nodes, -1, dtype=np.int64)
        kept = np.nonzero(keep)[0]
        new_index[kept] = np.arange(len(kept))
        emask = keep[self.src] & keep[self.dst]
        sub.node_ids = self.node_ids[kept]
        sub.index = {int(n): i for i, n in enumerate(sub.node_ids)}
        sub.lon, sub.lat = self.lon[kept], self.lat[kept]
        sub.proj = self.proj
        sub.xm, sub.ym = self.xm[kept], self.ym[kept]
        sub._kdtree = cKDTree(np.column_stack([sub.xm, sub.ym]))
        sub.src = new_index[self.src[emask]].astype(np.int32)
        sub.dst = new_index[self.dst[emask]].astype(np.int32)
        sub.cost, sub.length = self.cost[emask], self.length[emask]
        sub.key = self.key[emask]
        sub.way_class = [c for c, m in zip(self.way_class, emask.tolist(), strict=True) if m]
        sub.highway = [h for h, m in zip(self.highway, emask.tolist(), strict=True) if m]
        sub.cycle_route = self.cycle_route[emask]
        sub.head_out, sub.head_in = self.head_out[emask], self.head_in[emask]
        sub.bends = self.bends[emask]
        sub._index_edges()
        sub.__dict__["core"] = self.core[kept]
        sub.__dict__["bridge_edge"] = self.bridge_edge[emask]  # judged on the whole network
        return sub

    @cached_property
    def bridge_edge(self) -> npt.NDArray[np.bool_]:
        """Whether each edge lies on a bridge (a loop through its far side must ride it back).

        Directions are ignored: a bridge is a way whose removal disconnects the
        network, i.e. a way on a dead-end spur or the only link between two parts.
        """
        ways = self.ways
        ug = nx.Graph()
        ug.add_nodes_from(range(self.n_nodes))
        ug.add_edges_from(zip(ways.a.tolist(), ways.b.tolist(), strict=True))
        ends = np.asarray(list(nx.bridges(ug)), dtype=np.int64).reshape(-1, 2)
        bridge = np.zeros(len(ways.a), dtype=bool)
        bridge[self.way_of(ends[:, 0], ends[:, 1])] = True
        return np.asarray(bridge[ways.of_edge])

    @cached_property
    def bridge_way(self) -> npt.NDArray[np.bool_]:
        """Whether each physical way (:attr:`ways`) is a bridge (see :attr:`bridge_edge`)."""
        ways = self.ways
        bridge = np.zeros(len(ways.a), dtype=bool)
        bridge[ways.of_edge[self.bridge_edge]] = True
        return bridge

    @cached_property
    def bridge_parts(self) -> tuple[IntArray, IntArray, nx.Graph]:
        """The parts of the network between its bridges (:attr:`bridge_edge`).

        Returns each node's part, each part's node count (more than one: it has a
        cycle) and the tree of the parts joined by the bridges; its edges carry the
        bridge's shorter directed ``edge`` and that edge's ``length``. A part of the
        network (:meth:`subset`) keeps the whole network's bridges.
        """
        keep = np.nonzero(~self.bridge_edge)[0]
        graph = coo_array((np.ones(len(keep)), (self.src[keep], self.dst[keep])),
                          shape=(self.n_nodes, self.n_nodes))
        _, labels = connected_components(graph, directed=False)
        part = labels.astype(np.int64)
        tree = nx.Graph()
        bridges = np.nonzero(self.bridge_edge)[0]
        # longest first: each pair of parts keeps its shortest bridge edge (the last)
        for e in bridges[np.argsort(-self.length[bridges], kind="stable")].tolist():
            tree.add_edge(int(part[self.src[e]]), int(part[self.dst[e]]), edge=e,
                          length=float(self.length[e]))
        return part, np.bincount(part), tree

    @cached_property
    def core(self) -> npt.NDArray[np.bool_]:
        """Nodes of the largest 2-edge-connected part (no dead-end spurs).

        Loops shaped through these nodes can always come back another way.
        """
        part, sizes, _ = self.bridge_parts
        if not len(part):
            return np.zeros(0, dtype=bool)
        if sizes.max() <= 1:  # pragma: no cover - a tree-shaped network
            return np.ones(self.n_nodes, dtype=bool)
        return np.asarray(part == int(np.argmax(sizes)))

    def _stops_subtree(self, stops: Sequence[int]) -> tuple[list[int], set[int] | None, float]:
        """The stops' parts, the smallest subtree of the bridge tree joining them, its bridges (m).

        The subtree is ``None`` (and the length 0) without stops, or where a stop's
        part has no bridge (it is its whole network).
        """
        part, _, tree = self.bridge_parts
        terminals = list(dict.fromkeys(int(part[s]) for s in stops))
        if not terminals or any(t not in tree for t in terminals):
            return terminals, None, 0.0
        keep, bridges = subtree_joining(tree, terminals)
        return terminals, keep, float(sum(tree[a][b]["length"] for a, b in bridges))

    def forced_repeat_m(self, stops: Sequence[int]) -> float:
        """Length (m) that every closed walk through node indices ``stops`` rides twice.

        A walk that crosses a bridge must come back over it. The bridges that any
        loop through the stops has to cross form the smallest subtree of the bridge
        tree joining the stops' parts; each is ridden twice. If no part of that
        subtree holds a cycle (e.g. a lone start at the end of a dead end), a loop
        also rides the bridges to the nearest part that does -- or else rides all of
        its ways twice.
        """
        _, keep, forced = self._stops_subtree(stops)
        if keep is None:
            return 0.0  # no stops, or a stop's part has no bridge: it is its whole network
        _, sizes, _ = self.bridge_parts
        if not any(sizes[n] > 1 for n in keep):
            forced += self._to_cycle_m(keep)
        return 2.0 * forced

    @cached_property
    def part_cycle_m(self) -> FloatArray:
        """Length (m) of the ways within each part of :attr:`bridge_parts` (no bridges).

        A walk that rides nothing twice rides at most these ways in the parts it enters.
        """
        part, sizes, _ = self.bridge_parts
        ways = self.ways
        inner = ~self.bridge_way
        return np.bincount(part[ways.a[inner]], weights=ways.length_m[inner],
                           minlength=len(sizes)).astype(float)

    @cached_property
    def part_trail_m(self) -> FloatArray:
        """An upper bound (m) on what a closed walk riding no way twice rides in each part.

        Such a walk rides a set of ways where every node has an even number of them
        (an Eulerian set). The ways of the part it leaves out then include a set
        joining the part's odd nodes (those with an odd number of ways) in pairs -- a
        T-join, at least half the sum, over those nodes, of the distance to the
        nearest other one (each pair is at least as far apart as either end's nearest
        other). So the walk rides at most :attr:`part_cycle_m` less that half sum. On
        the University strip's main part this is 16.5 - 2.0 = 14.5 km (the shortest
        T-join there, by an exact matching, is 2.7 km).
        """
        part, sizes, _ = self.bridge_parts
        ways = self.ways
        inner = ~self.bridge_way
        a, b, length = ways.a[inner], ways.b[inner], ways.length_m[inner]
        odd = np.nonzero(np.bincount(np.concatenate([a, b]), minlength=self.n_nodes) % 2)[0]
        bound = self.part_cycle_m.copy()
        if not len(odd):
            return bound
        graph = csr_array((np.concatenate([length, length]),
                           (np.concatenate([a, b]), np.concatenate([b, a]))),
                          shape=(self.n_nodes, self.n_nodes))
        dist, _, nearest = dijkstra(graph, directed=False, indices=odd, min_only=True,
                                    return_predecessors=True)
        # the nearest other odd node, across the ways between two nodes' nearest ones
        # (along a shortest path to it, the first way leaving a node's own region)
        other = np.full(self.n_nodes, np.inf)
        cross = nearest[a] != nearest[b]
        via = (dist[a] + length + dist[b])[cross]
        np.minimum.at(other, nearest[a][cross], via)
        np.minimum.at(other, nearest[b][cross], via)
        half = 0.5 * np.bincount(part[odd], weights=np.where(np.isfinite(other[odd]),
                                                            other[odd], 0.0),
                                 minlength=len(sizes))
        return np.maximum(bound - half, 0.0)

    def ridable_once_m(self, stops: Sequence[int]) -> float:
        """An upper bound (m) on the ways a closed walk through ``stops`` rides once.

        A walk that rides nothing twice but the bridges every walk through the stops
        rides twice (:meth:`forced_repeat_m`) stays in the parts of the bridge tree's
        subtree joining the stops -- or, where none of them holds a cycle, goes on to
        one part that does -- and rides at most :attr:`part_trail_m` in each.
        """
        terminals, keep, _ = self._stops_subtree(stops)
        bound = self.part_trail_m
        if keep is None:  # a stop's part has no bridge: it is its whole network
            return float(bound[terminals].sum())
        _, sizes, _ = self.bridge_parts
        if any(sizes[n] > 1 for n in keep):
            return float(sum(bound[n] for n in keep))
        return float(bound.max())

    def least_repeat_m(self, stops: Sequence[int], length_m: float, *,
                       unit_m: float = 1.0) -> float:
        """A lower bound (m) on what a closed walk of ``length_m`` through ``stops`` repeats.

        The walk enters a connected set of parts of :attr:`bridge_parts` that holds
        the stops' parts. It rides each bridge between them there and back, and rides
        once at most :attr:`part_trail_m` within each (the ways it rides once have an
        even number at every junction): so it repeats at least
        ``max(2 * bridges, length_m - what it can ride once)``. The bound is the least of
        that over all such sets: dead ends to the stops (as :meth:`forced_repeat_m`)
        and, for a walk longer than the parts near the stops hold, the bridges to
        farther parts -- or riding the near ones twice.

        Parameters
        ----------
        stops
            Node indices the walk passes.
        length_m
            The walk's length.
        unit_m
            Bridge lengths are counted in whole units of this (rounded down, so the
            bound stays a lower bound); coarser where the walk would need more than
            2000 units of bridges.

        Returns
        -------
        float
            Metres of the walk, counting every ride, on ways ridden more than once.
        """
        cap = self.part_trail_m
        terminals, keep, bridges_m = self._stops_subtree(stops)
        if not terminals:
            return 0.0
        if keep is None:
            # a stop's part has no bridge: it is its whole network
            return max(0.0, length_m - float(cap[terminals[0]]))
        within_m = float(sum(cap[n] for n in keep))
        need_m = length_m - within_m - 2.0 * bridges_m
        if need_m <= 0.0:
            return 2.0 * bridges_m
        # more parts: at most need_m / 2 of bridges beyond those is worth riding, in
        # at most _MAX_UNITS units (coarser for a long walk on a big network)
        unit_m = max(unit_m, need_m / 2.0 / _MAX_UNITS)
        k_max = int(need_m / 2.0 / unit_m) + 1
        gain = self._parts_gain(keep, k_max, unit_m)
        k = np.arange(k_max + 1)
        return float(np.min(np.maximum(2.0 * (bridges_m + k * unit_m),
                                       length_m - within_m - gain)))

    def _parts_gain(self, root: set[int], k_max: int, unit_m: float) -> FloatArray:
        """Most ways a walk rides once (m) in a connected set grown from ``root``, per budget.

        Entry ``k`` is for at most ``k`` units of ``unit_m`` of bridges (each rounded
        down) outside ``root``: a knapsack over the bridge tree, children merged into
        their parent by (max, +) convolution.
        """
        _, _, tree = self.bridge_parts
        cap = self.part_trail_m
        # the parts within reach of the budget (bridge units from the root), each
        # after its parent (-1: it hangs on the root)
        units: dict[int, int] = {}
        order: list[tuple[int, int]] = []
        stack = [(n, 0) for n in root]
        while stack:
            n, d = stack.pop()
            for m, data in tree[n].items():
                if m in root or m in units:  # the root, or the part n hangs on
                    continue
                d_m = d + int(float(data["length"]) // unit_m)
                if d_m <= k_max:
                    units[m] = d_m
                    order.append((m, -1 if n in root else n))
                    stack.append((m, d_m))
        best = {n: np.full(k_max + 1, float(cap[n])) for n, _ in order}
        total = np.zeros(k_max + 1)
        # children before parents: merge each part's table into its parent's
        for n, parent in reversed(order):
            step = units[n] - (0 if parent == -1 else units[parent])
            shifted = np.zeros(k_max + 1)
            shifted[step:] = best[n][: k_max + 1 - step]
            into = total if parent == -1 else best[parent]
            into[:] = _max_plus(into, shifted)
        return total

    def _to_cycle_m(self, parts: set[int]) -> float:
        """Length of the bridges from ``parts`` to the nearest part with a cycle (0: none)."""
        _, sizes, tree = self.bridge_parts
        heap = [(0.0, n) for n in parts]
        heapq.heapify(heap)
        done: set[int] = set()
        while heap:
            d, n = heapq.heappop(heap)
            if n in done:
                continue
            if sizes[n] > 1:
                return d
            done.add(n)
            for m, data in tree[n].items():
                if m not in done:
                    heapq.heappush(heap, (d + float(data["length"]), m))
        return 0.0

    @cached_property
    def _core_tree(self) -> tuple[cKDTree, IntArray]:
        idx = np.nonzero(self.core)[0]
        return cKDTree(np.column_stack([self.xm[idx], self.ym[idx]])), idx

    def nearest_core(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, IntArray]:
        """Distances (m) and indices of the core nodes nearest to projected points ``(x, y)``."""
        tree, idx = self._core_tree
        d, i = tree.query(np.column_stack([np.atleast_1d(x), np.atleast_1d(y)]))
        return np.asarray(d, dtype=float), idx[np.asarray(i, dtype=np.int64)]

    # ------------------------------------------------------------ turn graph
    @cached_property
    def _turns(self) -> tuple[npt.NDArray[np.int32], IntArray, npt.NDArray[np.int32],
                              FloatArray]:
        """Arcs ``(from edge, to edge)`` of the edge-based graph and their turn costs."""
        out_count = np.diff(self.indptr)
        e1 = self.in_edges  # grouped by the node they arrive at
        counts = out_count[self.dst[e1]]
        arc_from = np.repeat(e1, counts)
        starts = np.repeat(self.indptr[self.dst[e1]], counts)
        offs = ranks(counts)
        arc_to = (starts + offs).astype(np.int64)
        pen = self.turn_penalty(arc_from, arc_to)
        # no U-turn back along the same way, except at a dead end
        uturn = self.reverse[arc_from] == arc_to
        dead_end = out_count[self.dst[arc_from]] == 1
        keep = ~uturn | dead_end
        arc_from, arc_to, pen = arc_from[keep], arc_to[keep], pen[keep]
        order = np.lexsort((arc_to, arc_from))
        arc_from, arc_to, pen = arc_from[order], arc_to[order], pen[order]
        indptr = np.zeros(self.n_edges + 1, dtype=np.int64)
        np.add.at(indptr, arc_from + 1, 1)
        # 32-bit indices, the type the compiled searches (and scipy.sparse) take
        return (np.cumsum(indptr).astype(np.int32), arc_from, arc_to.astype(np.int32), pen)

    def turn_angle_deg(self, e_in: npt.ArrayLike, e_out: npt.ArrayLike) -> FloatArray:
        """Heading change (degrees, 0–180) from edges ``e_in`` into ``e_out``."""
        a = np.asarray(e_in, dtype=np.int64)
        b = np.asarray(e_out, dtype=np.int64)
        return np.abs((self.head_out[b] - self.head_in[a] + 180.0) % 360.0 - 180.0)

    def turn_penalty(self, e_in: npt.ArrayLike, e_out: npt.ArrayLike) -> FloatArray:
        """Cost (metres, see :data:`TURN_COST_M`) of turning from edges ``e_in`` into ``e_out``."""
        return turn_cost_m(self.turn_angle_deg(e_in, e_out))

    def route_with_turns(self, a: int, b: int, weights: FloatArray, *,
                         limit: float = np.inf, floor: float | None = None
                         ) -> list[int] | None:
        """Cheapest path from node ``a`` to ``b`` counting the cost of turning.

        Runs Dijkstra on the edge-based graph (one vertex per directed edge, one
        arc per allowed turn) from all edges leaving ``a`` at once, and takes the
        edge into ``b`` whose path costs least. Returns edge indices, or ``None``
        if no edge into ``b`` is reached within ``limit``.

        The search ranks paths without the cost of their first edge; it is added
        only in choosing the edge into ``b``. (Ranking with it gave 0.05–0.1 more
        turns per km on the bench's loops: 32 loops turned more, 17 less.)
        The search aims at ``b`` (A*, see :meth:`path` for ``floor``).
        """
        if a == b:
            return []
        sources = np.arange(int(self.indptr[a]), int(self.indptr[a + 1]))
        arriving = self.in_edges[int(self.in_indptr[b]):int(self.in_indptr[b + 1])]
        if len(sources) == 0 or len(arriving) == 0:
            return None
        found = self._turn_graph.search(
            weights, sources, extra=weights[sources], limit=limit, stop=arriving,
            toward=(float(self.xm[b]), float(self.ym[b])),
            floor=self.floor(weights) if floor is None else floor)
        return None if found.hit < 0 else found.vertices_to(found.hit)

    # ------------------------------------------------------------------ queries
    def matrix(self, weights: FloatArray) -> csr_array:
        """Return the CSR matrix of the graph with the given edge weights."""
        # 32-bit indices (csgraph's own type): no conversion copy per search
        return csr_array((weights, self.dst, self.indptr.astype(np.int32)),
                         shape=(self.n_nodes, self.n_nodes))

    # The planner's searches run on compiled kernels (:mod:`ringroute._search`): a
    # bounded search on a city graph takes less time than csgraph's checks of its
    # input. Each graph draws its arc costs from the edge weights of the search.
    @cached_property
    def _fwd_graph(self) -> CSRGraph:
        return CSRGraph(self.indptr, self.dst, np.arange(self.n_edges), xy=(self.xm, self.ym))

    @cached_property
    def _bwd_graph(self) -> CSRGraph:
        # arc j of it is edge in_edges[j] turned round (both order arcs by tail)
        return self._fwd_graph.reversed()

    @cached_property
    def _turn_graph(self) -> CSRGraph:
        indptr, _, arc_to, pen = self._turns
        # an edge's position is its end: a turn onto an edge costs at least the edge
        return CSRGraph(indptr, arc_to, arc_to, pen,
                        xy=(self.xm[self.dst], self.ym[self.dst]))

    @cached_property
    def _inv_chord(self) -> FloatArray:
        """1 / the straight line between each edge's ends (0 where they coincide)."""
        chord = np.hypot(self.xm[self.src] - self.xm[self.dst],
                         self.ym[self.src] - self.ym[self.dst])
        inv = np.zeros(self.n_edges)
        np.divide(1.0, chord, out=inv, where=chord > 0)
        return inv

    def floor(self, weights: FloatArray) -> float:
        """The largest factor ``f`` with each edge's weight at least ``f`` times its chord.

        Searches aimed at a target (A*) with ``weights``, or any weights no lower,
        take this factor times the straight line as a lower bound of the cost left.
        (An edge whose ends coincide bounds nothing.)
        """
        inv = self._inv_chord
        apart = inv > 0
        if not apart.any():
            return 0.0
        # a hair below: the straight lines are computed, not exact
        return float((weights[apart] * inv[apart]).min()) * (1.0 - 1e-9)

    def shortest_paths(
        self, source: int, weights: FloatArray | None = None, *, limit: float = np.inf
    ) -> ShortestPaths:
        """Dijkstra from node index ``source``.

        Parameters
        ----------
        source
            Router node index.
        weights
            Edge weights (default: bike cost).
        limit
            Stop exploring beyond this distance.
        """
        found = self._fwd_graph.search(self.cost if weights is None else weights, source,
                                       limit=limit)
        return ShortestPaths(source, found.dist, found.pred, found.parc)

    def path(self, a: int, b: int, weights: FloatArray | None = None, *,
             limit: float = np.inf, floor: float | None = None) -> list[int] | None:
        """Edge indices of the cheapest path from node index ``a`` to ``b``.

        The search stops as soon as ``b`` is settled, so a near target costs a small
        search whatever the ``limit``.

        Parameters
        ----------
        a, b
            Router node indices.
        weights
            Edge weights (default: bike cost).
        limit
            Give up beyond this cost.
        floor
            :meth:`floor` of ``weights`` or of weights nowhere higher (default: worked
            out, which costs a pass over all edges); the search aims at ``b`` (A*).

        Returns
        -------
        list of int or None
            The path (empty if ``a == b``), or ``None`` if ``b`` is not reached.
        """
        if a == b:
            return []
        w = self.cost if weights is None else weights
        found = self._fwd_graph.search(
            w, a, limit=limit, stop=b, toward=(float(self.xm[b]), float(self.ym[b])),
            floor=self.floor(w) if floor is None else floor)
        return None if found.hit < 0 else found.arcs_to(b)

    def shortest_paths_many(
        self, sources: npt.ArrayLike, weights: FloatArray, *, limit: float = np.inf
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32], IntArray]:
        """Bounded Dijkstra from several sources (one row per source, in order).

        Returns each row's distances, predecessors and the edge joining each node to
        its predecessor (-1 for none), as :class:`ShortestPaths` holds them.
        """
        return self._fwd_graph.rows(weights, sources, limit=limit)

    def shortest_paths_to(
        self, target: int, weights: FloatArray | None = None, *, limit: float = np.inf
    ) -> ShortestPaths:
        """Dijkstra towards node index ``target`` (on the reversed graph).

        ``pred[v]`` is then the next node from ``v`` towards ``target``.
        """
        found = self._bwd_graph.search(self.cost if weights is None else weights, target,
                                       limit=limit)
        edge = np.where(found.parc >= 0, self.in_edges[found.parc], -1)
        return ShortestPaths(target, found.dist, found.pred, edge)

    @cached_property
    def way_code(self) -> IntArray:
        """One code per physical way (node pair), shared by both directions of an edge."""
        return self.pair_code(self.src, self.dst)

    def pair_code(self, a: npt.ArrayLike, b: npt.ArrayLike) -> IntArray:
        """The :attr:`way_code` of node indices ``a`` and ``b`` (either order)."""
        aa, bb = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        return np.minimum(aa, bb) * self.n_nodes + np.maximum(aa, bb)

    def way_of(self, a: npt.ArrayLike, b: npt.ArrayLike) -> IntArray:
        """The :attr:`ways` numbers of the ways between node indices ``a`` and ``b``.

        Each pair must be a way of the network (either direction).
        """
        ways = self.ways
        # the ways are numbered in the order of their codes
        return np.searchsorted(self.pair_code(ways.a, ways.b), self.pair_code(a, b))

    @cached_property
    def ways(self) -> Ways:
        """The physical ways (see :class:`Ways`), numbered in :attr:`way_code` order."""
        n = self.n_nodes
        codes, inverse = np.unique(self.way_code, return_inverse=True)
        phys = inverse.astype(np.int64)
        a = (codes // n).astype(np.int64)
        n_ways = len(codes)
        length = np.zeros(n_ways)
        np.maximum.at(length, phys, self.length)
        forward = self.src.astype(np.int64) == a[phys]
        fwd = np.full(n_ways, -1, dtype=np.int64)
        bwd = np.full(n_ways, -1, dtype=np.int64)
        fwd[phys[forward]] = np.nonzero(forward)[0]
        bwd[phys[~forward]] = np.nonzero(~forward)[0]
        has_f, has_b = fwd >= 0, bwd >= 0
        leave_a = np.zeros(n_ways)
        leave_b = np.zeros(n_ways)
        leave_a[has_f] = self.head_out[fwd[has_f]]
        leave_b[has_f] = (self.head_in[fwd[has_f]] + 180.0) % 360.0
        leave_b[has_b] = self.head_out[bwd[has_b]]
        only_b = has_b & ~has_f
        leave_a[only_b] = (self.head_in[bwd[only_b]] + 180.0) % 360.0
        return Ways(phys, a, (codes % n).astype(np.int64), length, fwd, bwd, leave_a, leave_b)

    def both_ways(self, edges: npt.ArrayLike) -> IntArray:
        """``edges`` and their reverse edges (where the way is two-way): the ways they ride."""
        idx = np.asarray(edges, dtype=np.int64)
        rev = self.reverse[idx]
        return np.concatenate([idx, rev[rev >= 0]])

    def edge_index(self, a: int, b: int) -> int:
        """Index of the edge from node index ``a`` to ``b``.

        Raises
        ------
        KeyError
            If there is no such edge.
        """
        lo, hi = int(self.indptr[a]), int(self.indptr[a + 1])
        pos = lo + int(np.searchsorted(self.dst[lo:hi], b))
        if pos < hi and int(self.dst[pos]) == b:
            return pos
        raise KeyError((a, b))

    def path_edges(self, sp: ShortestPaths, target: int) -> list[int]:
        """Edge indices of the shortest path from ``sp.source`` to ``target``.

        Raises
        ------
        KeyError
            If ``target`` is unreachable.
        """
        if target == sp.source:
            return []
        if not np.isfinite(sp.dist[target]):
            raise KeyError(target)
        return cast("list[int]", chain(sp.pred, sp.edge, target)[::-1].tolist())

    def path_edges_to(self, sp: ShortestPaths, start: int) -> list[int]:
        """Edge indices from node index ``start`` to the target of :meth:`shortest_paths_to`."""
        if start != sp.source and sp.pred[start] < 0:
            raise KeyError(start)
        return cast("list[int]", chain(sp.pred, sp.edge, start).tolist())

    def arriving(self, nodes: npt.ArrayLike) -> tuple[IntArray, IntArray]:
        """Every edge into each of ``nodes``: ``(k, edge)`` pairs, ``k`` indexing ``nodes``.

        Grouped by ``k`` in order (``k`` repeats once per edge into ``nodes[k]``).
        """
        b = np.asarray(nodes, dtype=np.int64)
        deg = (self.in_indptr[b + 1] - self.in_indptr[b]).astype(np.int64)
        k = np.repeat(np.arange(len(b)), deg)
        edges = self.in_edges[np.repeat(self.in_indptr[b], deg) + ranks(deg)].astype(np.int64)
        return k, edges

    def edges_between(self, src: npt.ArrayLike, dst: npt.ArrayLike) -> IntArray:
        """Index of the edge from each node index in ``src`` to the one in ``dst``.

        Raises
        ------
        ValueError
            If a pair is not joined by an edge.
        """
        a = np.asarray(src, dtype=np.int64)
        b = np.asarray(dst, dtype=np.int64)
        code = a * self.n_nodes + b
        pos = np.searchsorted(self._edge_code, code)
        found = pos < self.n_edges
        found[found] = self._edge_code[pos[found]] == code[found]
        if not found.all():
            k = int(np.argmin(found))
            msg = f"edges_between: no edge from node {int(a[k])} to node {int(b[k])}"
            raise ValueError(msg)
        return pos

    @cached_property
    def _edge_code(self) -> IntArray:
        """``src * n_nodes + dst`` of every edge, sorted (edges go by source, then target)."""
        return self.src.astype(np.int64) * self.n_nodes + self.dst.astype(np.int64)

    def nearest(self, lat: float, lon: float, k: int = 1) -> tuple[FloatArray, IntArray]:
        """Distances (m) and indices of the ``k`` nodes nearest to a point."""
        x, y = self.proj.to_xy(lat, lon)
        d, i = self._kdtree.query([float(x), float(y)], k=k)
        return np.atleast_1d(np.asarray(d, dtype=float)), np.atleast_1d(np.asarray(i))

    def within(self, x: float, y: float, radius_m: float) -> list[int]:
        """Node indices within ``radius_m`` of projected point ``(x, y)``."""
        return [int(i) for i in self._kdtree.query_ball_point([x, y], radius_m)]
