"""Map matching of GPS tracks onto a bike network: a hidden Markov model solved by Viterbi.

The model follows Newson & Krumm (2009), "Hidden Markov map matching through
noise and sparseness":

* **Observations** are the track's points, thinned to one every
  :data:`MIN_SPACING_M` metres (the first and last point of every segment are
  always kept).
* **States** of an observation are the directed router edges within
  :data:`SEARCH_RADIUS_M` of it (at most :data:`MAX_CANDIDATES`), each with
  the offset of the point's projection onto the edge's real geometry. Both
  directions of a two-way street are separate states, so the direction of
  riding is matched too.
* **Emission**: Gaussian in the distance from the point to the edge
  (``sigma`` = :data:`SIGMA_M`).
* **Transition**: exponential in the difference between the network distance
  from one state to the next and the straight distance between their snapped
  points (``beta`` = :data:`BETA_M`). Of three ways between two states the likeliest
  counts: along the same edge (a point that GPS jitter moved backwards counts as
  standing still), a U-turn in the middle of the edge, or shortest paths by
  length between the edges' nodes (the router's compiled searches, bounded to
  ``2 × straight distance + 400 m``). Turning back, in mid-edge or at a junction
  that is not a dead end, costs :data:`UTURN_PENALTY_M` extra.
* Dense recordings are first smoothed over :data:`SMOOTH_M` along the track.
* When no transition is possible (a gap in the data, an unmapped way), the
  chain is cut and restarted: the matched path then consists of several runs.

The most likely state sequence becomes the matched path: partial edges at the
ends and at mid-edge U-turns, whole edges in between (joined by the same
shortest paths). For ringroute's own loops re-imported from GPX every point lies
on the network and the matched edges are the planned edges.
"""

from __future__ import annotations

import math
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from ringroute._arrays import ranks
from ringroute._router import Router, ShortestPaths
from ringroute._types import FloatArray, IntArray
from ringroute.network import Network

SEARCH_RADIUS_M = 50.0
MAX_CANDIDATES = 12
SIGMA_M = 10.0
BETA_M = 20.0
MIN_SPACING_M = 25.0
SMOOTH_M = 12.0
UTURN_PENALTY_M = 40.0
#: A track point within this distance of the matched path counts as matched.
MATCHED_WITHIN_M = 30.0
_PIECE_M = 20.0  # KD-tree granularity of the edge geometry
_CACHE_ROWS = 96
#: segments of a track farther apart than this (straight line, m) are not joined: the
#: recording stopped there (a train, a car), and joining would count riding the file
#: does not hold; nearer ones (a lost GPS fix, a pause) are joined through the network
SEGMENT_GAP_M = 1000.0
_FWD, _UTURN, _VIA = 0, 1, 2


@dataclass(frozen=True)
class Piece:
    """A ridden part of one router edge.

    Attributes
    ----------
    edge
        Router edge index.
    start_m, end_m
        Offsets along the edge (in the router's length units, metres) where the
        piece begins and ends; ``start_m < end_m``.
    """

    edge: int
    start_m: float
    end_m: float

    @property
    def length_m(self) -> float:
        """Length of the piece."""
        return self.end_m - self.start_m


@dataclass
class MatchedPath:
    """A path on the network: runs of pieces with their full-resolution polylines.

    Attributes
    ----------
    runs
        Pieces per connected run, in riding order.
    lat, lon
        Polyline of each run (degrees).
    cum_m
        Distance along the whole path (runs counted one after the other) of
        every polyline vertex.
    """

    runs: list[list[Piece]] = field(default_factory=list)
    lat: list[list[float]] = field(default_factory=list)
    lon: list[list[float]] = field(default_factory=list)
    cum_m: list[list[float]] = field(default_factory=list)

    @property
    def pieces(self) -> list[Piece]:
        """All pieces in riding order."""
        return [p for run in self.runs for p in run]

    @property
    def length_m(self) -> float:
        """Total length of the pieces."""
        return float(sum(p.length_m for p in self.pieces))


class EdgeGeometry:
    """Real geometry of every router edge, projected, with a KD-tree for snapping.

    Parameters
    ----------
    network
        The network whose :attr:`~ringroute.network.Network.router` edges are described.
    """

    def __init__(self, network: Network) -> None:
        r = network.router
        self.router = r
        lon_parts: list[list[float]] = []
        lat_parts: list[list[float]] = []
        for e in range(r.n_edges):
            lo, la = network.edge_lonlat(int(r.node_ids[r.src[e]]), int(r.node_ids[r.dst[e]]),
                                         int(r.key[e]))
            lon_parts.append(lo)
            lat_parts.append(la)
        counts = np.fromiter((len(p) for p in lon_parts), np.int64, r.n_edges)
        self.ptr: IntArray = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.vlon: FloatArray = np.fromiter((x for p in lon_parts for x in p), float)
        self.vlat: FloatArray = np.fromiter((y for p in lat_parts for y in p), float)
        self.vx, self.vy = r.proj.to_xy(self.vlat, self.vlon)
        vedge = np.repeat(np.arange(r.n_edges, dtype=np.int64), counts)
        # fraction along its edge of every vertex (by projected distance)
        step = np.hypot(np.diff(self.vx), np.diff(self.vy))
        same = vedge[1:] == vedge[:-1]
        step = np.where(same, step, 0.0)
        cum = np.concatenate([[0.0], np.cumsum(step)])
        start = cum[self.ptr[:-1]]
        total = cum[self.ptr[1:] - 1] - start
        rel = cum - np.repeat(start, counts)
        tot_v = np.repeat(total, counts)
        pos_in_edge = np.arange(len(cum)) - np.repeat(self.ptr[:-1], counts)
        last_in_edge = np.repeat(counts - 1, counts)
        fallback = pos_in_edge / np.maximum(last_in_edge, 1)
        self.vfrac: FloatArray = np.where(tot_v > 0, rel / np.where(tot_v > 0, tot_v, 1.0),
                                          fallback)
        # segments between consecutive vertices of the same edge
        seg_a = np.nonzero(same)[0].astype(np.int64)
        self.seg_a: IntArray = seg_a
        self.seg_edge: IntArray = vedge[seg_a]
        seg_len = step[seg_a]
        n_sub = np.maximum(1, np.ceil(seg_len / _PIECE_M)).astype(np.int64)
        sub_seg = np.repeat(np.arange(len(seg_a), dtype=np.int64), n_sub)
        sub_k = ranks(n_sub)
        t_mid = (sub_k + 0.5) / np.repeat(n_sub, n_sub)
        ax, ay = self.vx[seg_a[sub_seg]], self.vy[seg_a[sub_seg]]
        bx, by = self.vx[seg_a[sub_seg] + 1], self.vy[seg_a[sub_seg] + 1]
        self.sub_seg: IntArray = sub_seg
        self.half_piece = float(np.max(seg_len / n_sub)) / 2.0 if len(seg_len) else 0.0
        self.tree = cKDTree(np.column_stack([ax + t_mid * (bx - ax), ay + t_mid * (by - ay)]))

    def candidates(self, x: FloatArray, y: FloatArray, radius: float,
                   k: int) -> list[tuple[IntArray, FloatArray, FloatArray, FloatArray]]:
        """Edges near each point.

        Parameters
        ----------
        x, y
            Projected points (router projection).
        radius
            Search radius in metres.
        k
            At most this many edges per point (the nearest).

        Returns
        -------
        list of (edges, offsets_m, distances_m, snapped)
            Per point: router edge indices, offset of the projection along each
            edge in metres, the distance to it, and the projected points
            themselves (``k × 2``, router projection).
        """
        n = len(x)
        pts = np.column_stack([x, y])
        hits = self.tree.query_ball_point(pts, r=radius + self.half_piece + 1e-6)
        counts = np.fromiter((len(h) for h in hits), np.int64, n)
        empty: list[tuple[IntArray, FloatArray, FloatArray, FloatArray]] = [
            (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros((0, 2)))
            for _ in range(n)]
        if counts.sum() == 0:
            return empty
        obs = np.repeat(np.arange(n, dtype=np.int64), counts)
        seg = self.sub_seg[np.concatenate([np.asarray(h, dtype=np.int64) for h in hits])]
        n_seg = max(1, len(self.seg_a))
        code = np.unique(obs * n_seg + seg)
        obs, seg = code // n_seg, code % n_seg
        a = self.seg_a[seg]
        ax, ay, bx, by = self.vx[a], self.vy[a], self.vx[a + 1], self.vy[a + 1]
        dx, dy = bx - ax, by - ay
        l2 = dx * dx + dy * dy
        px, py = x[obs], y[obs]
        t = np.clip(((px - ax) * dx + (py - ay) * dy) / np.where(l2 > 0, l2, 1.0), 0.0, 1.0)
        qx, qy = ax + t * dx, ay + t * dy
        dist = np.hypot(px - qx, py - qy)
        frac = self.vfrac[a] + t * (self.vfrac[a + 1] - self.vfrac[a])
        edge = self.seg_edge[seg]
        ok = dist <= radius
        order = np.lexsort((dist[ok], edge[ok], obs[ok]))
        sel = np.nonzero(ok)[0][order]
        first = np.ones(len(sel), dtype=bool)
        first[1:] = (obs[sel][1:] != obs[sel][:-1]) | (edge[sel][1:] != edge[sel][:-1])
        sel = sel[first]
        sel = sel[np.lexsort((edge[sel], dist[sel], obs[sel]))]
        obs, edge, dist, frac, qx, qy = obs[sel], edge[sel], dist[sel], frac[sel], qx[sel], qy[sel]
        bounds = np.searchsorted(obs, np.arange(n + 1))
        out = empty
        length = self.router.length
        for i in range(n):
            lo, hi = int(bounds[i]), min(int(bounds[i + 1]), int(bounds[i]) + k)
            if hi > lo:
                e = edge[lo:hi]
                out[i] = (e, frac[lo:hi] * length[e], dist[lo:hi],
                          np.column_stack([qx[lo:hi], qy[lo:hi]]))
        return out

    def piece_polyline(self, p: Piece) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``lat, lon`` of a piece and the offset (m) along its edge of each vertex."""
        lo, hi = int(self.ptr[p.edge]), int(self.ptr[p.edge + 1])
        fr = self.vfrac[lo:hi]
        lat, lon = self.vlat[lo:hi], self.vlon[lo:hi]
        length = float(self.router.length[p.edge])
        f0, f1 = p.start_m / length, p.end_m / length
        if f0 <= 0.0 and f1 >= 1.0:
            return lat.copy(), lon.copy(), fr * length
        inner = (fr > f0) & (fr < f1)
        fs = np.concatenate([[f0], fr[inner], [f1]])
        return (np.interp(fs, fr, lat), np.interp(fs, fr, lon), fs * length)


_GEOMETRY: weakref.WeakKeyDictionary[Router, EdgeGeometry] = weakref.WeakKeyDictionary()


def edge_geometry(network: Network) -> EdgeGeometry:
    """The :class:`EdgeGeometry` of a network (built once per router)."""
    r = network.router
    geo = _GEOMETRY.get(r)
    if geo is None:
        geo = EdgeGeometry(network)
        _GEOMETRY[r] = geo
    return geo


def build_path(network: Network, runs: Sequence[Sequence[Piece]]) -> MatchedPath:
    """Polylines and distances of runs of pieces (drops empty pieces, merges touching ones)."""
    geo = edge_geometry(network)
    out = MatchedPath()
    offset = 0.0
    for run in runs:
        merged: list[Piece] = []
        for p in run:
            if p.length_m <= 1e-6:
                continue
            if merged and merged[-1].edge == p.edge and abs(merged[-1].end_m - p.start_m) < 1e-6:
                merged[-1] = Piece(p.edge, merged[-1].start_m, p.end_m)
            else:
                merged.append(p)
        if not merged:
            continue
        lat: list[float] = []
        lon: list[float] = []
        cum: list[float] = []
        for p in merged:
            pla, plo, off = geo.piece_polyline(p)
            first = 1 if lat and (pla[0], plo[0]) == (lat[-1], lon[-1]) else 0
            lat.extend(pla[first:].tolist())
            lon.extend(plo[first:].tolist())
            cum.extend((offset + off[first:] - p.start_m).tolist())
            offset += p.length_m
        out.runs.append(merged)
        out.lat.append(lat)
        out.lon.append(lon)
        out.cum_m.append(cum)
    return out


def dense_points(network: Network, path: MatchedPath,
                 step_m: float = 1.0) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Projected points every ``step_m`` along the path, with their distance along it."""
    proj = network.router.proj
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    cs: list[FloatArray] = []
    for lat, lon, cum in zip(path.lat, path.lon, path.cum_m, strict=True):
        x, y = proj.to_xy(np.asarray(lat), np.asarray(lon))
        seg = np.hypot(np.diff(x), np.diff(y))
        pos = np.concatenate([[0.0], np.cumsum(seg)])
        s = np.unique(np.concatenate([np.arange(0.0, pos[-1], step_m), pos]))
        xs.append(np.interp(s, pos, x))
        ys.append(np.interp(s, pos, y))
        cs.append(np.interp(s, pos, np.asarray(cum)))
    if not xs:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(cs)


class _Distances:
    """Bounded single-source shortest distances by length, cached per source node."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.rows: OrderedDict[int, tuple[float, ShortestPaths]] = OrderedDict()

    def rows_for(self, sources: Sequence[int], limit: float) -> FloatArray:
        need = [s for s in dict.fromkeys(sources)
                if s not in self.rows or self.rows[s][0] < limit]
        if need:
            r = self.router
            dist, pred, edge = r.shortest_paths_many(need, r.length, limit=limit)
            for i, s in enumerate(need):
                self.rows[s] = (limit, ShortestPaths(s, dist[i], pred[i], edge[i]))
        for s in sources:
            self.rows.move_to_end(s)
        out = np.vstack([self.rows[s][1].dist for s in sources])
        while len(self.rows) > _CACHE_ROWS:
            self.rows.popitem(last=False)
        return out

    def path(self, source: int, target: int, limit: float) -> list[int]:
        if source == target:
            return []
        if source not in self.rows or self.rows[source][0] < limit:
            self.rows_for([source], limit)
        if not math.isfinite(float(self.rows[source][1].dist[target])):
            # the transition may have used a row searched further than ``limit``
            self.rows_for([source], math.inf)
        return self.router.path_edges(self.rows[source][1], target)


@dataclass
class _Step:
    edges: IntArray
    offs: FloatArray
    log_e: FloatArray
    snapped: FloatArray
    x: float
    y: float
    #: the track segment of the point
    seg: int


def _observations(x: FloatArray, y: FloatArray, seg_id: IntArray) -> IntArray:
    """Indices of the points kept as observations."""
    keep: list[int] = []
    lx, ly = math.inf, math.inf
    n = len(x)
    for i in range(n):
        boundary = i == 0 or i == n - 1 or seg_id[i] != seg_id[i - 1] or (
            i + 1 < n and seg_id[i + 1] != seg_id[i])
        if boundary or math.hypot(float(x[i]) - lx, float(y[i]) - ly) >= MIN_SPACING_M:
            keep.append(i)
            lx, ly = float(x[i]), float(y[i])
    return np.asarray(keep, dtype=np.int64)


def _smooth(x: FloatArray, y: FloatArray, seg_id: IntArray) -> tuple[FloatArray, FloatArray]:
    """Average every point with its neighbours within :data:`SMOOTH_M` along the track.

    Sparse tracks (points farther apart than that) are left unchanged; dense
    recordings lose much of their point-to-point noise, which would otherwise
    look like riding back and forth.
    """
    xs, ys = x.copy(), y.copy()
    for sid in np.unique(seg_id):
        idx = np.nonzero(seg_id == sid)[0]
        if len(idx) < 3:
            continue
        px, py = x[idx], y[idx]
        pos = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(px), np.diff(py)))])
        lo = np.searchsorted(pos, pos - SMOOTH_M, side="left")
        hi = np.searchsorted(pos, pos + SMOOTH_M, side="right")
        cx = np.concatenate([[0.0], np.cumsum(px)])
        cy = np.concatenate([[0.0], np.cumsum(py)])
        n = hi - lo
        inner = idx[1:-1]  # the ends stay where they are: a one-sided mean would pull them in
        xs[inner] = ((cx[hi] - cx[lo]) / n)[1:-1]
        ys[inner] = ((cy[hi] - cy[lo]) / n)[1:-1]
    return xs, ys


def _transition(r: Router, dist: _Distances, a: _Step, b: _Step
                ) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """Transition costs ``|network distance - straight distance|`` and their kinds.

    The straight distance is taken between the two states' snapped points, not
    between the raw points: noise across the road is the emission's business
    and must not look like riding zig-zag.

    For every pair of states the likeliest of three ways is kept: along the same
    edge (moving on, or standing still when GPS jitter moves the point back),
    a U-turn in the middle of the edge, or via shortest paths between the edges.
    """
    gc = math.hypot(b.x - a.x, b.y - a.y)
    limit = 2.0 * gc + 400.0
    e1, o1, e2, o2 = a.edges, a.offs, b.edges, b.offs
    l1, l2 = r.length[e1], r.length[e2]
    rows = dist.rows_for([int(s) for s in r.dst[e1]], limit)
    via = (l1 - o1)[:, None] + rows[:, r.src[e2]] + o2[None, :]
    reverse = r.reverse[e1][:, None] == e2[None, :]
    # turning back at a junction (not a dead end) is as unlikely as in mid-edge
    at_node = (reverse & (r.dst[e1][:, None] == r.src[e2][None, :])
               & (np.diff(r.indptr)[r.dst[e1]] > 1)[:, None])
    via = np.where(at_node, via + UTURN_PENALTY_M, via)
    via = np.where(via <= limit + l1[:, None] + l2[None, :], via, np.inf)
    snapped = np.hypot(b.snapped[None, :, 0] - a.snapped[:, None, 0],
                       b.snapped[None, :, 1] - a.snapped[:, None, 1])
    cost = np.abs(via - snapped)
    kind = np.full(cost.shape, _VIA, dtype=np.int8)
    stay = np.abs(np.maximum(0.0, o2[None, :] - o1[:, None]) - snapped)
    better = (e1[:, None] == e2[None, :]) & (stay < cost)
    cost = np.where(better, stay, cost)
    kind[better] = _FWD
    behind = l2[None, :] - o2[None, :]  # position of b's state on a's edge
    turn = np.abs(o1[:, None] - behind + UTURN_PENALTY_M - snapped)
    better = reverse & (behind < o1[:, None]) & (turn < cost)
    cost = np.where(better, turn, cost)
    kind[better] = _UTURN
    return cost, kind


def points_near(network: Network, lat: FloatArray, lon: FloatArray) -> int:
    """How many of the points lie within :data:`SEARCH_RADIUS_M` of a way of ``network``."""
    x, y = network.router.proj.to_xy(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))
    found = edge_geometry(network).candidates(x, y, SEARCH_RADIUS_M, 1)
    return sum(1 for edges, _, _, _ in found if len(edges))


def match_track(network: Network, lat: FloatArray, lon: FloatArray,
                seg_id: IntArray) -> MatchedPath:
    """Match a track onto ``network``.

    Parameters
    ----------
    network
        The bike network.
    lat, lon
        All track points in riding order (degrees).
    seg_id
        Segment number of each point (points of different segments are not
        thinned together; the matcher joins them through the network when they
        lie at most :data:`SEGMENT_GAP_M` apart, else the path has a gap there).

    Returns
    -------
    MatchedPath
        The most likely path; empty if no point lies within
        :data:`SEARCH_RADIUS_M` of the network.
    """
    r = network.router
    geo = edge_geometry(network)
    x, y = r.proj.to_xy(lat, lon)
    x, y = _smooth(x, y, seg_id)
    keep = _observations(x, y, seg_id)
    cands = geo.candidates(x[keep], y[keep], SEARCH_RADIUS_M, MAX_CANDIDATES)
    steps = [
        _Step(e, o, -0.5 * (d / SIGMA_M) ** 2, q, float(x[i]), float(y[i]), int(seg_id[i]))
        for i, (e, o, d, q) in zip(keep.tolist(), cands, strict=True) if len(e)
    ]
    if not steps:
        return MatchedPath()
    dist = _Distances(r)
    # Viterbi with chain restarts; back[t] is None where a chain starts
    v = steps[0].log_e.copy()
    back: list[npt.NDArray[np.int64] | None] = [None]
    kinds: list[npt.NDArray[np.int8] | None] = [None]
    chain_end_v: dict[int, FloatArray] = {}
    for t in range(1, len(steps)):
        gap = steps[t].seg != steps[t - 1].seg and math.hypot(
            steps[t].x - steps[t - 1].x, steps[t].y - steps[t - 1].y) > SEGMENT_GAP_M
        if gap:
            best = np.full(len(steps[t].edges), -np.inf)
        else:
            cost, kind = _transition(r, dist, steps[t - 1], steps[t])
            score = v[:, None] - cost / BETA_M
            best_prev = np.argmax(score, axis=0)
            best = score[best_prev, np.arange(score.shape[1])]
        if not np.isfinite(best).any():
            chain_end_v[t - 1] = v
            v = steps[t].log_e.copy()
            back.append(None)
            kinds.append(None)
            continue
        v = best + steps[t].log_e
        back.append(best_prev.astype(np.int64))
        kinds.append(kind[best_prev, np.arange(score.shape[1])])
    chain_end_v[len(steps) - 1] = v
    # backtrack
    state = [0] * len(steps)
    t = len(steps) - 1
    s = int(np.argmax(v))
    while t >= 0:
        state[t] = s
        bp = back[t]
        t -= 1
        if bp is None:
            if t >= 0:
                s = int(np.argmax(chain_end_v[t]))
        else:
            s = int(bp[s])
    # pieces
    runs: list[list[Piece]] = []
    run: list[Piece] = []
    cur_e = int(steps[0].edges[state[0]])
    cur_start = cur_end = float(steps[0].offs[state[0]])
    for t in range(1, len(steps)):
        e2 = int(steps[t].edges[state[t]])
        o2 = float(steps[t].offs[state[t]])
        kt = kinds[t]
        if kt is None:  # a new chain
            run.append(Piece(cur_e, cur_start, cur_end))
            runs.append(run)
            run = []
            cur_e, cur_start, cur_end = e2, o2, o2
            continue
        k = int(kt[state[t]])
        if k == _FWD:
            cur_end = max(cur_end, o2)
        elif k == _UTURN:
            run.append(Piece(cur_e, cur_start, cur_end))
            turn = float(r.length[e2]) - cur_end
            cur_e, cur_start, cur_end = e2, max(0.0, turn), max(o2, turn)
        else:
            run.append(Piece(cur_e, cur_start, float(r.length[cur_e])))
            gc = math.hypot(steps[t].x - steps[t - 1].x, steps[t].y - steps[t - 1].y)
            between = dist.path(int(r.dst[cur_e]), int(r.src[e2]), 2.0 * gc + 400.0)
            run.extend(Piece(int(e), 0.0, float(r.length[e])) for e in between)
            cur_e, cur_start, cur_end = e2, 0.0, o2
    run.append(Piece(cur_e, cur_start, cur_end))
    runs.append(run)
    return build_path(network, runs)


def deviations(network: Network, path: MatchedPath, lat_segments: Sequence[FloatArray],
               lon_segments: Sequence[FloatArray], step_m: float = 5.0) -> FloatArray:
    """Distance (m) from points every ``step_m`` along the track to the matched path."""
    proj = network.router.proj
    px, py, _ = dense_points(network, path)
    samples_x: list[FloatArray] = []
    samples_y: list[FloatArray] = []
    for lat, lon in zip(lat_segments, lon_segments, strict=True):
        x, y = proj.to_xy(lat, lon)
        pos = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
        s = np.arange(0.0, pos[-1], step_m) if pos[-1] > 0 else np.zeros(1)
        samples_x.append(np.interp(s, pos, x))
        samples_y.append(np.interp(s, pos, y))
    sx, sy = np.concatenate(samples_x), np.concatenate(samples_y)
    if len(px) == 0:
        return np.full(len(sx), np.inf)
    d, _ = cKDTree(np.column_stack([px, py])).query(np.column_stack([sx, sy]))
    return np.asarray(d, dtype=float)
