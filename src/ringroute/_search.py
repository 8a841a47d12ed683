"""Bounded Dijkstra searches on CSR arrays, compiled with numba.

The planner runs several hundred small searches per loop (a few hundred nodes each on a
city graph). ``scipy.sparse.csgraph.dijkstra`` spends about 25 µs per call on checking
and converting its input before it searches, more than such a search itself takes;
these kernels skip that and can stop as soon as a target is settled.

A graph is given as ``indptr`` and ``heads`` (CSR rows: the arcs leaving each vertex,
``heads[j]`` the vertex arc ``j`` leads to), and the cost of arc ``j`` is
``w[wsel[j]] + pen[j]``: the forward road graph takes ``wsel = arange`` (edge ``j`` is
arc ``j``), the reversed one the index of each arc's edge, the turn graph the edge it
turns into plus the turn's cost. Costs must not be negative. An arc of infinite cost
is never taken.

Semantics follow ``csgraph.dijkstra``: a vertex farther than ``limit`` is not reached
(distance ``inf``, predecessor ``NO_PRED``). Equal-cost paths may be broken the other
way.
"""

from __future__ import annotations

import time
from typing import Any, cast

import numba
import numpy as np
import numpy.typing as npt

from ringroute._types import FloatArray, IntArray

#: predecessor of a vertex not reached, and of a source (as in ``scipy.sparse.csgraph``)
NO_PRED = -9999

Int32Array = npt.NDArray[np.int32]
_NOWHERE = np.zeros(0, dtype=np.int64)


def _push_py(hkey: Any, hval: Any, size: int, key: float, val: int) -> int:
    # add (key, val) to the binary heap of ``size`` entries (sift up); the new size
    i = size
    while i > 0:
        p = (i - 1) >> 1
        if hkey[p] <= key:
            break
        hkey[i] = hkey[p]
        hval[i] = hval[p]
        i = p
    hkey[i] = key
    hval[i] = val
    return size + 1


def _pop_py(hkey: Any, hval: Any, size: int) -> int:
    # drop the root of the heap (sift the last entry down from it); the new size
    size -= 1
    lk = hkey[size]
    lv = hval[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and hkey[c + 1] < hkey[c]:
            c += 1
        if hkey[c] >= lk:
            break
        hkey[i] = hkey[c]
        hval[i] = hval[c]
        i = c
    hkey[i] = lk
    hval[i] = lv
    return size


def _aim_py(vx: Any, vy: Any, v: int, tx: float, ty: float, floor: float) -> float:
    # A*'s lower bound of the cost left from vertex v (0 when not aiming)
    if floor > 0.0:
        return float(floor * np.sqrt((vx[v] - tx) ** 2 + (vy[v] - ty) ** 2))
    return 0.0


_push = numba.njit(cache=True, inline="always")(_push_py)
_pop = numba.njit(cache=True, inline="always")(_pop_py)
_aim = numba.njit(cache=True, inline="always")(_aim_py)


def _search(indptr: Any, heads: Any, wsel: Any, pen: Any, w: Any, sources: Any,
            extra: Any, limit: float, stop: Any, vx: Any, vy: Any,
            tx: float, ty: float, floor: float, dist: Any, pred: Any, parc: Any,
            origin: Any) -> int:
    # plain Python, compiled by numba below; fills dist, pred, parc (the arc each
    # vertex was reached by) and origin (the source it was reached from); returns
    # the vertex of ``stop`` whose distance plus its source's ``extra`` is least
    # (the first settled of equals), or -1. With floor > 0 the heap is ordered by
    # distance plus floor times the straight line from (vx, vy) to (tx, ty) (A*).
    n = dist.shape[0]
    carry = np.zeros(n)  # the extra of the source each vertex is reached from
    min_extra = np.inf
    for k in range(extra.shape[0]):
        min_extra = min(min_extra, extra[k])
    best = np.inf
    hit = -1
    for v in range(n):
        dist[v] = np.inf
        pred[v] = NO_PRED
        parc[v] = -1
        origin[v] = NO_PRED
    done = np.zeros(n, dtype=np.bool_)
    want = np.zeros(n, dtype=np.bool_)
    for t in stop:
        want[t] = True
    cap = heads.shape[0] + sources.shape[0] + 1
    hkey = np.empty(cap, dtype=np.float64)
    hval = np.empty(cap, dtype=np.int32)
    size = 0
    for k in range(sources.shape[0]):
        s = sources[k]
        if limit >= 0.0 and dist[s] > 0.0:  # each source once
            dist[s] = 0.0
            origin[s] = s
            carry[s] = extra[k]
            size = _push(hkey, hval, size, _aim(vx, vy, s, tx, ty, floor), s)
    while size > 0:
        f = hkey[0]
        v = hval[0]
        size = _pop(hkey, hval, size)
        if done[v]:
            continue  # an entry left behind when a shorter path was found
        # keys never decrease from pop to pop, and a stop vertex's key is its distance
        if f + min_extra >= best:
            break  # no stop vertex settled from now on does better
        done[v] = True
        d = dist[v]
        if want[v] and d + carry[v] < best:
            best = d + carry[v]
            hit = v
            if best <= f + min_extra:
                break
        for j in range(indptr[v], indptr[v + 1]):
            u = heads[j]
            if done[u]:
                continue
            nd = d + w[wsel[j]] + pen[j]
            if nd <= limit and nd < dist[u]:
                dist[u] = nd
                pred[u] = v
                parc[u] = j
                origin[u] = origin[v]
                carry[u] = carry[v]
                size = _push(hkey, hval, size, nd + _aim(vx, vy, u, tx, ty, floor), u)
    return int(hit)


_kernel = numba.njit(cache=True, nogil=True)(_search)


def _rows(indptr: Any, heads: Any, wsel: Any, pen: Any, w: Any, sources: Any,
          limit: float, dist: Any, pred: Any, parc: Any) -> None:
    # one search per source into the rows of dist, pred and parc (compiled below)
    n = dist.shape[1]
    zero = np.zeros(1)
    one = np.empty(1, dtype=np.int64)
    halt = np.empty(0, dtype=np.int64)
    origin = np.empty(n, dtype=np.int32)
    for k in range(sources.shape[0]):
        one[0] = sources[k]
        _kernel(indptr, heads, wsel, pen, w, one, zero, limit, halt, zero, zero,
                0.0, 0.0, 0.0, dist[k], pred[k], parc[k], origin)


_rows_kernel = numba.njit(cache=True, nogil=True)(_rows)


class CSRGraph:
    """A directed graph as CSR arrays, with arc costs drawn from per-edge weights.

    Parameters
    ----------
    indptr, heads
        CSR rows: the arcs leaving vertex ``v`` are ``indptr[v]:indptr[v + 1]``, arc
        ``j`` leads to vertex ``heads[j]``.
    wsel
        The weight each arc takes (an index into the ``weights`` of a search).
    pen
        A fixed cost added to each arc (default none).
    xy
        Each vertex's position (metres, two arrays), for searches aimed at a target
        (see :meth:`search`).
    """

    def __init__(self, indptr: npt.ArrayLike, heads: npt.ArrayLike, wsel: npt.ArrayLike,
                 pen: npt.ArrayLike | None = None, *,
                 xy: tuple[npt.ArrayLike, npt.ArrayLike] | None = None) -> None:
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.heads = np.ascontiguousarray(heads, dtype=np.int32)
        self.wsel = np.ascontiguousarray(wsel, dtype=np.int64)
        n_arcs = len(self.heads)
        self.pen = (np.zeros(n_arcs) if pen is None
                    else np.ascontiguousarray(pen, dtype=np.float64))
        if not (len(self.wsel) == len(self.pen) == n_arcs == int(self.indptr[-1])):
            msg = (f"CSRGraph: indptr ends at {int(self.indptr[-1])}, but heads, wsel and "
                   f"pen have {n_arcs}, {len(self.wsel)} and {len(self.pen)} entries")
            raise ValueError(msg)
        self.n_vertices = len(self.indptr) - 1
        # the kernels do not check bounds: every index is checked here or per search
        if n_arcs and not (int(self.heads.min()) >= 0 and
                           int(self.heads.max()) < self.n_vertices):
            msg = f"CSRGraph: heads must lie in 0..{self.n_vertices - 1}"
            raise ValueError(msg)
        if n_arcs and int(self.wsel.min()) < 0:
            msg = "CSRGraph: wsel must not be negative"
            raise ValueError(msg)
        #: searches need at least this many weights
        self.n_weights = int(self.wsel.max()) + 1 if n_arcs else 0
        nowhere = np.zeros(0)
        self.x, self.y = ((nowhere, nowhere) if xy is None else
                          (np.ascontiguousarray(xy[0], dtype=np.float64),
                           np.ascontiguousarray(xy[1], dtype=np.float64)))
        if xy is not None and not (len(self.x) == len(self.y) == self.n_vertices):
            msg = (f"CSRGraph: xy holds {len(self.x)} and {len(self.y)} positions "
                   f"for {self.n_vertices} vertices")
            raise ValueError(msg)

    def reversed(self) -> CSRGraph:
        """The graph with every arc turned round, keeping its weight and fixed cost.

        Each vertex's arcs in the new graph come in the order of their tails.
        """
        tails = np.repeat(np.arange(self.n_vertices), np.diff(self.indptr))
        order = np.argsort(self.heads, kind="stable")
        indptr = np.zeros(self.n_vertices + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.heads, minlength=self.n_vertices), out=indptr[1:])
        return CSRGraph(indptr, tails[order], self.wsel[order], self.pen[order],
                        xy=(self.x, self.y) if len(self.x) else None)

    def _checked(self, weights: FloatArray, vertices: npt.ArrayLike, name: str
                 ) -> tuple[FloatArray, IntArray]:
        """``weights`` and ``vertices`` as the kernels take them, or ``ValueError``."""
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if len(w) < self.n_weights:
            msg = f"search: {len(w)} weights, the graph's arcs need {self.n_weights}"
            raise ValueError(msg)
        if isinstance(vertices, int | np.integer):  # most searches: no array checks
            k = int(vertices)
            if not 0 <= k < self.n_vertices:
                msg = f"search: {name} must lie in 0..{self.n_vertices - 1}"
                raise ValueError(msg)
            return w, np.array([k], dtype=np.int64)
        v = np.atleast_1d(np.asarray(vertices, dtype=np.int64))
        if len(v) and not (int(v.min()) >= 0 and int(v.max()) < self.n_vertices):
            msg = f"search: {name} must lie in 0..{self.n_vertices - 1}"
            raise ValueError(msg)
        return w, v

    def search(self, weights: FloatArray, sources: npt.ArrayLike, *,
               extra: npt.ArrayLike | None = None, limit: float = np.inf,
               stop: npt.ArrayLike | None = None,
               toward: tuple[float, float] | None = None, floor: float = 0.0) -> Search:
        """Dijkstra from all ``sources`` at once (each vertex reached from the nearest).

        Parameters
        ----------
        weights
            The weights the arcs draw on (see ``wsel``); none negative.
        sources
            Start vertices.
        extra
            A cost added to the paths from each source (default 0) in choosing
            among the ``stop`` vertices only: the search itself does not count it.
        limit
            Vertices farther than this are not reached.
        stop
            Vertices to stop at: the search ends once no vertex of them settled
            later can do better (with no ``extra``, when the first is settled), and
            :attr:`Search.hit` is the one whose distance plus ``extra`` is least.
            The distances and paths of settled vertices are final, those of the
            others are not.
        toward, floor
            Aim the search at this point (A*): vertices are settled in the order of
            their distance plus ``floor`` times their straight line to it. The stop
            vertices must lie there, and no arc may cost less than ``floor`` times the
            straight line between the positions of its ends (then the paths found
            are as cheap as without aiming). Needs the graph's ``xy``.
        """
        w, src = self._checked(weights, sources, "sources")
        more = (np.zeros(len(src)) if extra is None
                else np.atleast_1d(np.asarray(extra, dtype=np.float64)))
        if len(more) != len(src):
            msg = f"search: {len(more)} extras for {len(src)} sources"
            raise ValueError(msg)
        halt = _NOWHERE if stop is None else self._checked(w, stop, "stop")[1]
        tx, ty = (0.0, 0.0) if toward is None else (float(toward[0]), float(toward[1]))
        aim = 0.0 if toward is None else float(floor)
        if aim > 0.0 and len(self.x) != self.n_vertices:
            msg = "search: toward needs the positions of the graph's vertices (xy)"
            raise ValueError(msg)
        n = self.n_vertices
        dist = np.empty(n)
        pred = np.empty(n, dtype=np.int32)
        parc = np.empty(n, dtype=np.int64)
        origin = np.empty(n, dtype=np.int32)
        hit = int(_kernel(self.indptr, self.heads, self.wsel, self.pen, w, src, more,
                          float(limit), halt, self.x, self.y, tx, ty, aim, dist, pred, parc,
                          origin))
        return Search(dist, pred, parc, origin, hit)

    def rows(self, weights: FloatArray, sources: npt.ArrayLike, *,
             limit: float = np.inf) -> tuple[FloatArray, Int32Array, IntArray]:
        """One search per source, one row each.

        Returns the distances, the predecessors and the arc each vertex was reached
        by (-1 for none).
        """
        w, src = self._checked(weights, sources, "sources")
        n = self.n_vertices
        dist = np.empty((len(src), n))
        pred = np.empty((len(src), n), dtype=np.int32)
        parc = np.empty((len(src), n), dtype=np.int64)
        _rows_kernel(self.indptr, self.heads, self.wsel, self.pen, w, src, float(limit),
                     dist, pred, parc)
        return dist, pred, parc


class Search:
    """The result of :meth:`CSRGraph.search`."""

    __slots__ = ("dist", "hit", "origin", "parc", "pred")

    def __init__(self, dist: FloatArray, pred: Int32Array, parc: IntArray,
                 origin: Int32Array, hit: int) -> None:
        #: distance of each vertex (``inf`` if not reached)
        self.dist = dist
        #: the vertex each was reached from (:data:`NO_PRED` for sources and unreached)
        self.pred = pred
        #: the arc each was reached by (-1 for sources and unreached)
        self.parc = parc
        #: the source each was reached from (:data:`NO_PRED` if unreached)
        self.origin = origin
        #: the ``stop`` vertex found (see :meth:`CSRGraph.search`), or -1
        self.hit = hit

    def arcs_to(self, v: int) -> list[int]:
        """The arcs of the path to vertex ``v``, first arc first (``KeyError`` if not reached)."""
        return self._along(v, self.parc)

    def vertices_to(self, v: int) -> list[int]:
        """The vertices of the path to vertex ``v``, its source first (``KeyError``: unreached)."""
        after = self._along(v, np.arange(len(self.pred)))
        return [int(self.origin[v]), *after]

    def _along(self, v: int, per_vertex: IntArray) -> list[int]:
        # per_vertex of each vertex on the path after its source, in order
        if not np.isfinite(self.dist[v]):
            raise KeyError(v)
        return cast("list[int]", chain(self.pred, per_vertex, v)[::-1].tolist())


def _chain_py(pred: Any, arc: Any, v: int) -> Any:
    n = 0
    u = v
    while pred[u] >= 0:
        n += 1
        u = pred[u]
    out = np.empty(n, dtype=np.int64)
    u = v
    for k in range(n):
        out[k] = arc[u]
        u = pred[u]
    return out


_chain = numba.njit(cache=True, nogil=True)(_chain_py)


def chain(pred: npt.NDArray[np.int32], arc: IntArray, v: int) -> IntArray:
    """``arc`` of each vertex on the tree path from ``v`` up to its root, ``v``'s first.

    ``pred`` is a search tree's predecessors (negative at the roots), ``arc`` anything
    per vertex (e.g. the arc each was reached by).
    """
    if not (0 <= v < len(pred) and len(arc) == len(pred)):
        msg = f"chain: vertex {v} of a tree of {len(pred)} (with {len(arc)} arcs)"
        raise ValueError(msg)
    out: IntArray = _chain(pred, arc, v)
    return out




def _tree_sums_py(pred: Any, n: int, step: Any, out: Any) -> None:
    # see tree_sums
    size = pred.shape[0]
    anc = np.full(size, -1, dtype=np.int64)
    idx = np.empty(size, dtype=np.int64)
    m = 0
    for pos in range(size):
        out[pos] = 0.0
        p = pred[pos]
        if p < 0:
            continue
        out[pos] = step[pos]
        anc[pos] = pos - pos % n + p
        idx[m] = pos
        m += 1
    # pointer jumping: every round adds the sum of the ancestor's span, so each chain
    # is summed in the same order as the vectorised rounds this replaces
    acc = np.empty(m)
    up = np.empty(m, dtype=np.int64)
    while m > 0:
        for k in range(m):
            i = idx[k]
            a = anc[i]
            acc[k] = out[i] + out[a]
            up[k] = anc[a]
        kept = 0
        for k in range(m):
            i = idx[k]
            out[i] = acc[k]
            anc[i] = up[k]
            if up[k] >= 0:
                idx[kept] = i
                kept += 1
        m = kept


_tree_sums = numba.njit(cache=True, nogil=True)(_tree_sums_py)


def tree_sums(pred: npt.NDArray[np.int32], step: FloatArray) -> FloatArray:
    """Sum the steps along search trees, from each root to every vertex.

    Parameters
    ----------
    pred
        Predecessors of one search tree, or one row per tree (negative at roots
        and vertices not reached, where the sum is 0).
    step
        The value of each vertex's step from its predecessor (e.g. the length of
        the edge the search reached it by), shaped like ``pred``; read only where
        ``pred`` is not negative.

    Raises
    ------
    ValueError
        If the shapes differ or a predecessor is not a vertex of its tree.
    """
    rows = np.ascontiguousarray(np.atleast_2d(pred), dtype=np.int64)
    steps = np.ascontiguousarray(np.atleast_2d(step), dtype=np.float64)
    if rows.shape != steps.shape:
        msg = f"tree_sums: predecessors of shape {rows.shape}, steps of shape {steps.shape}"
        raise ValueError(msg)
    n = rows.shape[1]
    if rows.size and int(rows.max()) >= n:
        msg = f"tree_sums: predecessors must lie below {n}"
        raise ValueError(msg)
    out = np.empty(rows.size)
    _tree_sums(rows.ravel(), n, steps.ravel(), out)
    return out.reshape(rows.shape) if np.ndim(pred) == 2 else out


def warm_up() -> float:
    """Compile (or load from numba's cache) every kernel here; seconds taken.

    Each kernel is compiled on its first call in a process, about 3 s in all the
    first time on a machine and a few tenths of a second from the cache after; a
    benchmark calls this first, so that the first search timed is not charged.
    """
    start = time.perf_counter()
    graph = CSRGraph([0, 1, 2, 2], [1, 2], [0, 1], xy=([0.0, 1.0, 2.0], [0.0, 0.0, 0.0]))
    w = np.ones(2)
    found = graph.search(w, 0, stop=2, toward=(2.0, 0.0), floor=1.0)
    found.arcs_to(2)
    found.vertices_to(2)
    graph.rows(w, [0, 1])
    tree_sums(found.pred, w[np.maximum(found.parc, 0)])
    return time.perf_counter() - start
