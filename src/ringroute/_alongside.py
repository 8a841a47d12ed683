"""Ways that run alongside each other.

A road and the cycle track beside it, or the two carriageways of a divided road: a
loop that rides out on one and back on the other is a ride there and back in a
cyclist's eyes, though it uses each way once. The planner counts such pairs like a
way ridden twice when it ranks loops.
"""

from __future__ import annotations

import logging
from typing import Any

import networkx as nx
import numpy as np
import shapely
from scipy.spatial import cKDTree

from ringroute._geo import LocalProjection
from ringroute._types import BoolArray, IntArray

log = logging.getLogger("ringroute")

#: ways closer than this (m) run alongside each other
NEAR_M = 8.0
#: headings that differ by less than this (degrees; or by more than 180 minus it) are
#: parallel
PARALLEL_DEG = 30.0
#: a way runs alongside another where at least this share of it lies near that one
ALONGSIDE_SHARE = 0.5
#: ... and at least this many metres
_MIN_NEAR_M = 30.0
#: samples along each way (m); the ends (junctions) are left out by half a step
_STEP_M = 10.0
#: networks with more ways than this (km) are not searched (memory and time)
MAX_NETWORK_KM = 10_000.0

WayKey = tuple[int, int]


def way_key(u: int, v: int) -> WayKey:
    """The direction-free key of the way between OSM nodes ``u`` and ``v``."""
    return (u, v) if u <= v else (v, u)


def alongside_ways(graph: nx.MultiDiGraph) -> dict[WayKey, frozenset[WayKey]]:
    """For each way that runs alongside others, the ways it runs alongside.

    A way runs alongside others if at least :data:`ALONGSIDE_SHARE` of it lies
    within :data:`NEAR_M` of them with a parallel heading (either direction); it
    runs alongside each of them it is near for 30 m or more. Positions every 10 m
    along each way are compared, leaving out 5 m at each end, so that ways meeting
    at a junction do not count.

    Parameters
    ----------
    graph
        Bike network with ``x``/``y`` node coordinates and optional ``geometry``.

    Returns
    -------
    dict
        Way key (see :func:`way_key`) to the keys of the ways it runs alongside;
        ways alongside none are left out. Empty for networks of more than
        :data:`MAX_NETWORK_KM` of ways.
    """
    lines: dict[WayKey, tuple[np.ndarray, np.ndarray]] = {}
    curved: dict[WayKey, Any] = {}
    total_m = 0.0
    for u, v, d in graph.edges(data=True):
        key = way_key(int(u), int(v))
        if key in lines or key in curved or u == v:
            continue
        geom = d.get("geometry")
        if geom is not None:
            curved[key] = geom
        else:
            lines[key] = (np.array([graph.nodes[u]["x"], graph.nodes[v]["x"]], dtype=float),
                          np.array([graph.nodes[u]["y"], graph.nodes[v]["y"]], dtype=float))
        total_m += float(d.get("length_m", 0.0))
    if curved:
        # all geometries' coordinates at once (shapely's per-geometry access is slow)
        coords, owner_of = shapely.get_coordinates(list(curved.values()), return_index=True)
        cuts = np.searchsorted(owner_of, np.arange(1, len(curved)))
        for key, xy in zip(curved, np.split(coords, cuts), strict=True):
            lines[key] = (xy[:, 0], xy[:, 1])
    if not lines:
        return {}
    if total_m > MAX_NETWORK_KM * 1000.0:
        log.info("ways alongside each other are not looked for: %.0f km of ways is over "
                 "%.0f km", total_m / 1000.0, MAX_NETWORK_KM)
        return {}
    keys = list(lines)
    all_lat = np.concatenate([lat for _, lat in lines.values()])
    all_lon = np.concatenate([lon for lon, _ in lines.values()])
    proj = LocalProjection(float(all_lat.mean()), float(all_lon.mean()))
    xs, ys, heads, owner = [], [], [], []
    n_samples = np.zeros(len(keys), dtype=np.int64)
    for k, key in enumerate(keys):
        lon, lat = lines[key]
        x, y = proj.to_xy(lat, lon)
        seg = np.hypot(np.diff(x), np.diff(y))
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        at = np.arange(_STEP_M / 2, cum[-1] - _STEP_M / 2 + 1e-9, _STEP_M)
        if len(at) == 0:
            continue
        i = np.clip(np.searchsorted(cum, at, side="right") - 1, 0, len(seg) - 1)
        xs.append(np.interp(at, cum, x))
        ys.append(np.interp(at, cum, y))
        heads.append(np.arctan2(np.diff(y)[i], np.diff(x)[i]))
        owner.append(np.full(len(at), k, dtype=np.int64))
        n_samples[k] = len(at)
    if not xs:
        return {}
    px, py = np.concatenate(xs), np.concatenate(ys)
    head, way = np.concatenate(heads), np.concatenate(owner)
    pairs = cKDTree(np.column_stack([px, py])).query_pairs(NEAR_M, output_type="ndarray")
    if len(pairs) == 0:
        return {}
    a, b = pairs[:, 0], pairs[:, 1]
    turn = np.abs((head[a] - head[b] + np.pi) % (2 * np.pi) - np.pi)
    par = np.radians(PARALLEL_DEG)
    keep = (way[a] != way[b]) & ((turn < par) | (turn > np.pi - par))
    a, b = a[keep], b[keep]
    # each sample once per other way it lies near, then per (way, other way)
    n = len(keys)
    sample = np.concatenate([a, b])
    near = np.unique(sample * n + np.concatenate([way[b], way[a]]))
    pair, hits = np.unique(way[near // n] * n + near % n, return_counts=True)
    rows, cols = pair // n, pair % n
    # the share of each way near any other (a track split where the road is not)
    covered = np.bincount(way[np.unique(near // n)], minlength=n)
    ok = (covered[rows] >= ALONGSIDE_SHARE * n_samples[rows]) & (
        hits >= _MIN_NEAR_M / _STEP_M)
    out: dict[WayKey, set[WayKey]] = {}
    for w, o in zip(rows[ok].tolist(), cols[ok].tolist(), strict=True):
        out.setdefault(keys[w], set()).add(keys[o])
    return {k: frozenset(v) for k, v in out.items()}


def beside(ways: BoolArray, pairs: tuple[IntArray, IntArray]) -> BoolArray:
    """The ways that run alongside one of ``ways`` (masks by way number).

    ``pairs`` are way numbers: way ``first[i]`` runs alongside way ``second[i]``
    (see :func:`alongside_ways`, and ``_way_partners`` in :mod:`ringroute.loop`).
    """
    first, second = pairs
    out = np.zeros(len(ways), dtype=bool)
    out[first[ways[second]]] = True
    return out
