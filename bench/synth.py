"""Synthetic city-like bike networks for benchmarking the loop planner.

The generator lays a perturbed street grid with varied block sizes over a disc
(square-to-disc warp, so the grid's centre lines become radials and its
concentric squares become rings), jitters and bends it, and gives the streets a
hierarchy like a real Central European city:

* a few **main roads** (trunk/primary/secondary) every ~3 km plus ring roads, in
  chunks with and without cycle tracks (some on regional cycle routes);
* **tertiary** streets every ~1 km, some with cycle lanes;
* many **quiet** streets (residential, unclassified, living streets, service
  roads, a few foot-and-bike promenades), a few of them one-way (some with a
  bike contraflow);
* **cycleways** and bicycle streets on local cycle routes, diagonal cycle paths
  through some blocks;
* unpaved **tracks** in the outskirts;
* **gaps**: randomly missing links (dead ends), parks/lakes without streets and
  a river crossed only by main/tertiary bridges and a few bike bridges.

Tags are turned into edge attributes by ringroute's own rules
(:func:`ringroute._bike.bike_access`, :func:`~ringroute._bike.way_class`,
:func:`~ringroute._bike.bike_factor`), so the attributes are exactly what the
OSM loader would produce for such ways. Only the largest strongly connected
component is kept. Everything is vectorised with numpy; networkx only receives
the finished node and edge lists.

Run ``python bench/synth.py --nodes 100000`` to print the size of one network.
"""

from __future__ import annotations

import argparse
import gc
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from ringroute._bike import bike_access, bike_factor, way_class
from ringroute._geo import EARTH_RADIUS_M, haversine_m_array
from ringroute.network import Network

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Default centre of the synthetic city (Bochum).
CENTER_LAT = 51.48
CENTER_LON = 7.22
#: Synthetic OSM ids start here so that node ids never equal router indices.
NODE_ID_BASE = 9_000_000_000
WAY_ID_BASE = 900_000_000

_MEAN_BLOCK_M = 120.0
_MAIN_EVERY = 24  # grid lines between main roads (≈ 3 km)
_TERTIARY_EVERY = 8  # grid lines between tertiary streets (≈ 1 km)
_CYCLE_EVERY = 11  # grid lines between cycle streets / greenways
_CHUNK = 12  # blocks per OSM way chunk (a chunk shares all tags)
_RING_RADII = (16, 40, 80, 160, 320, 640)  # in grid steps from the centre
_DROP_QUIET = 0.07  # share of quiet street links that are missing
_DIAGONAL_SHARE = 0.015  # share of blocks with a diagonal cycle path
#: Expected share of grid nodes that survive holes, river and the SCC filter.
_KEEP_ESTIMATE = 0.86


@dataclass(frozen=True)
class _Profile:
    """One kind of way: OSM tags, cycle-route membership and a name stem."""

    tags: dict[str, str]
    cycle_route: bool
    stem: str


# Profile indices (the tables below are built in this order).
(P_RESIDENTIAL, P_LIVING, P_UNCLASSIFIED, P_SERVICE, P_PROMENADE, P_ONEWAY_FWD,
 P_ONEWAY_REV, P_ONEWAY_CONTRA, P_TERTIARY, P_TERTIARY_LANE, P_SECONDARY,
 P_SECONDARY_TRACK, P_PRIMARY, P_PRIMARY_TRACK, P_TRUNK, P_MAIN_TRACK_ROUTE,
 P_CYCLEWAY_ROUTE, P_BICYCLE_ROAD_ROUTE, P_CYCLEWAY, P_TRACK_GRAVEL, P_TRACK_GROUND,
 P_PATH_COMPACTED, P_DIAGONAL) = range(23)

_PROFILES: tuple[_Profile, ...] = (
    _Profile({"highway": "residential"}, False, "Straße"),
    _Profile({"highway": "living_street"}, False, "Gasse"),
    _Profile({"highway": "unclassified"}, False, "Weg"),
    _Profile({"highway": "service"}, False, "Zufahrt"),
    _Profile({"highway": "footway", "bicycle": "yes"}, False, "Promenade"),
    _Profile({"highway": "residential", "oneway": "yes"}, False, "Straße"),
    _Profile({"highway": "residential", "oneway": "-1"}, False, "Straße"),
    _Profile({"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}, False,
             "Straße"),
    _Profile({"highway": "tertiary"}, False, "Landstraße"),
    _Profile({"highway": "tertiary", "cycleway": "lane"}, False, "Landstraße"),
    _Profile({"highway": "secondary"}, False, "Allee"),
    _Profile({"highway": "secondary", "cycleway": "track"}, False, "Allee"),
    _Profile({"highway": "primary"}, False, "Chaussee"),
    _Profile({"highway": "primary", "cycleway": "track"}, False, "Chaussee"),
    _Profile({"highway": "trunk"}, False, "Schnellstraße"),
    _Profile({"highway": "secondary", "cycleway": "track", "rcn": "yes"}, True, "Allee"),
    _Profile({"highway": "cycleway", "lcn": "yes"}, True, "Radweg"),
    _Profile({"highway": "residential", "bicycle_road": "yes", "lcn": "yes"}, True,
             "Fahrradstraße"),
    _Profile({"highway": "cycleway"}, False, "Radweg"),
    _Profile({"highway": "track", "tracktype": "grade2", "surface": "gravel"}, False,
             "Feldweg"),
    _Profile({"highway": "track", "tracktype": "grade3", "surface": "ground"}, False,
             "Feldweg"),
    _Profile({"highway": "path", "surface": "compacted"}, False, "Pfad"),
    _Profile({"highway": "path", "bicycle": "designated"}, False, "Parkweg"),
)


@dataclass(frozen=True)
class _ProfileTable:
    fwd: BoolArray
    bwd: BoolArray
    highway: list[str]
    way_class: list[str]
    bike_factor: list[float]
    cycle_route: list[bool]
    oneway: list[bool]
    extra: list[dict[str, str]]  # tags kept on the edge besides highway


_EDGE_TAGS = ("surface", "tracktype", "cycleway", "bicycle")


def _profile_table() -> _ProfileTable:
    fwd, bwd, hw, wc, bf, cr, ow, extra = [], [], [], [], [], [], [], []
    for p in _PROFILES:
        access = bike_access(p.tags)
        if access is None:  # pragma: no cover - every profile is rideable
            msg = f"profile {p.tags} is not rideable"
            raise ValueError(msg)
        fwd.append(access[0])
        bwd.append(access[1])
        hw.append(p.tags["highway"])
        wc.append(way_class(p.tags))
        bf.append(bike_factor(p.tags, in_cycle_route=p.cycle_route))
        cr.append(p.cycle_route)
        ow.append(not (access[0] and access[1]))
        extra.append({k: p.tags[k] for k in _EDGE_TAGS if k in p.tags})
    return _ProfileTable(np.array(fwd), np.array(bwd), hw, wc, bf, cr, ow, extra)


@dataclass
class SynthStats:
    """Sizes of a generated network."""

    nodes: int
    edges: int
    km: float
    grid_side: int
    seconds: float


# ------------------------------------------------------------------ geometry
def _spacings(side: int, rng: np.random.Generator) -> FloatArray:
    """Positions of ``side`` grid lines: small blocks in the centre, large outside."""
    t = np.linspace(-1.0, 1.0, side - 1)
    # lognormal variety, smoothed a little so neighbouring blocks are alike
    noise = rng.lognormal(0.0, 0.35, side - 1)
    noise = np.convolve(noise, np.ones(3) / 3.0, mode="same")
    width = _MEAN_BLOCK_M * (0.65 + 0.7 * np.abs(t)) * noise
    pos: FloatArray = np.concatenate([[0.0], np.cumsum(width)])
    centred: FloatArray = pos - pos[side // 2]
    return centred


def _node_xy(side: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Metres east/north of the centre for every grid node (row-major)."""
    px = _spacings(side, rng)
    py = _spacings(side, rng)
    gx, gy = np.meshgrid(px, py)  # gx[j, i] = px[i]
    half = max(float(np.abs(px).max()), float(np.abs(py).max()))
    u = gx / half
    v = gy / half
    # square-to-disc (elliptical grid mapping): central lines → radials, squares → rings
    x = u * np.sqrt(np.clip(1.0 - v * v / 2.0, 0.0, None)) * half
    y = v * np.sqrt(np.clip(1.0 - u * u / 2.0, 0.0, None)) * half
    # gentle bends: a smooth displacement field with wavelengths of a few km
    for _ in range(3):
        k = rng.uniform(2 * math.pi / 6000.0, 2 * math.pi / 2500.0, size=2)
        ph = rng.uniform(0, 2 * math.pi, size=2)
        amp = rng.uniform(20.0, 45.0)
        x += amp * np.sin(k[0] * y + ph[0])
        y += amp * np.sin(k[1] * x + ph[1])
    # local jitter, ±12 % of the mean block
    x += rng.normal(0.0, 0.12 * _MEAN_BLOCK_M / 2, size=x.shape)
    y += rng.normal(0.0, 0.12 * _MEAN_BLOCK_M / 2, size=y.shape)
    return x.ravel(), y.ravel()


def _to_lonlat(x: FloatArray, y: FloatArray, lat0: float,
               lon0: float) -> tuple[FloatArray, FloatArray]:
    ky = EARTH_RADIUS_M * math.pi / 180.0
    kx = ky * math.cos(math.radians(lat0))
    return lon0 + x / kx, lat0 + y / ky


# ------------------------------------------------------------------ streets
def _line_roles(side: int, c: int) -> tuple[IntArray, IntArray]:
    """Role per grid line (0 quiet, 1 cycle street, 2 tertiary, 3 main) and main rank."""
    off = np.arange(side) - c
    role = np.zeros(side, dtype=np.int64)
    role[np.mod(off, _CYCLE_EVERY) == _CYCLE_EVERY // 2] = 1
    role[np.mod(off, _TERTIARY_EVERY) == _TERTIARY_EVERY // 2] = 2
    main = np.mod(off, _MAIN_EVERY) == 0
    role[main] = 3
    rank = np.where(main, np.abs(off) // _MAIN_EVERY, -1)
    return role, rank


def _street_profiles(
    o: IntArray, line: IntArray, pos: IntArray, side: int, c: int, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Profile and way chunk of each grid link.

    ``o`` is 0 for east-west links (``line`` = row) and 1 for north-south links.
    """
    role_l, rank_l = _line_roles(side, c)
    n_chunks = side // _CHUNK + 2
    offset = rng.integers(0, _CHUNK, size=(2, side))
    chunk = (pos + offset[o, line]) // _CHUNK
    u1 = rng.random((2, side, n_chunks))[o, line, chunk]
    u2 = rng.random((2, side, n_chunks))[o, line, chunk]
    role = role_l[line]
    rank = rank_l[line]
    prof = np.full(len(o), P_RESIDENTIAL, dtype=np.int64)

    # quiet streets
    q = role == 0
    prof[q & (u1 < 0.05)] = P_LIVING
    prof[q & (u1 >= 0.05) & (u1 < 0.20)] = P_UNCLASSIFIED
    prof[q & (u1 >= 0.20) & (u1 < 0.28)] = P_SERVICE
    prof[q & (u1 >= 0.28) & (u1 < 0.31)] = P_PROMENADE
    prof[q & (u1 >= 0.31) & (u1 < 0.34)] = P_ONEWAY_FWD
    prof[q & (u1 >= 0.34) & (u1 < 0.37)] = P_ONEWAY_REV
    prof[q & (u1 >= 0.37) & (u1 < 0.40)] = P_ONEWAY_CONTRA
    # cycle streets and greenways (local cycle routes); plain residential elsewhere
    cyc = role == 1
    prof[cyc & (u1 < 0.30)] = P_CYCLEWAY_ROUTE
    prof[cyc & (u1 >= 0.30) & (u1 < 0.50)] = P_BICYCLE_ROAD_ROUTE
    prof[cyc & (u1 >= 0.50) & (u1 < 0.60)] = P_CYCLEWAY
    # tertiary
    t = role == 2
    prof[t] = np.where(u1[t] < 0.3, P_TERTIARY_LANE, P_TERTIARY)
    # main roads: primary on even ranks, secondary on odd ones, a trunk at rank 3
    m = role == 3
    is_primary = m & (rank % 2 == 0)
    is_trunk = m & (rank == 3)
    track = u1 < 0.45
    prof[m & ~is_primary] = np.where(track[m & ~is_primary], P_SECONDARY_TRACK, P_SECONDARY)
    prof[is_primary] = np.where(track[is_primary], P_PRIMARY_TRACK, P_PRIMARY)
    prof[is_trunk] = np.where(u1[is_trunk] < 0.15, P_PRIMARY_TRACK, P_TRUNK)
    route = m & ~is_trunk & track & (u2 < 0.4)
    prof[route] = P_MAIN_TRACK_ROUTE

    # ring roads: concentric grid squares (circles after the warp), secondary
    across = np.abs(pos - c + 0.5) + 0.5  # |distance| of the link's midpoint along the line
    dist_line = np.abs(line - c)
    for radius in _RING_RADII:
        if radius >= c:
            break
        ring = (dist_line == radius) & (across <= radius)
        prof[ring] = np.where(u1[ring] < 0.5, P_SECONDARY_TRACK, P_SECONDARY)
    # outskirts: quiet streets become farm tracks and field paths
    cheb = np.maximum(dist_line, across)
    outer = (cheb > 0.8 * c) & (role <= 1) & (u2 < 0.6)
    prof[outer & (u1 < 0.5)] = P_TRACK_GRAVEL
    prof[outer & (u1 >= 0.5) & (u1 < 0.8)] = P_TRACK_GROUND
    prof[outer & (u1 >= 0.8)] = P_PATH_COMPACTED
    way = (o * side + line) * n_chunks + chunk
    return prof, way


def _holes(side: int, c: int, rng: np.random.Generator) -> BoolArray:
    """Nodes removed for parks and lakes (row-major mask)."""
    n_holes = max(1, round(side * side / 2500))
    ci = rng.integers(0, side, n_holes)
    cj = rng.integers(0, side, n_holes)
    rad = rng.uniform(1.5, 5.0, n_holes)
    gone = np.zeros((side, side), dtype=bool)
    jj, ii = np.ogrid[:side, :side]
    for a, b, r in zip(ci, cj, rad, strict=True):
        lo_i, hi_i = max(0, int(a - r - 1)), min(side, int(a + r + 2))
        lo_j, hi_j = max(0, int(b - r - 1)), min(side, int(b + r + 2))
        sub = (ii[:, lo_i:hi_i] - a) ** 2 + (jj[lo_j:hi_j, :] - b) ** 2 <= r * r
        gone[lo_j:hi_j, lo_i:hi_i] |= sub
    # streets of the hierarchy pass along parks and lakes
    role, _ = _line_roles(side, c)
    keep_line = role >= 2
    gone[keep_line, :] = False
    gone[:, keep_line] = False
    return gone.ravel()


def _river_rows(side: int, c: int, rng: np.random.Generator) -> IntArray:
    """Row below which the river runs, per column (a gentle meander south of the centre)."""
    i = np.arange(side)
    amp = 0.08 * side
    phase = rng.uniform(0, 2 * math.pi)
    base = c - max(3, side // 7)
    return np.clip(base + amp * np.sin(2 * math.pi * i / max(side, 1) * 1.5 + phase),
                   1, side - 2).astype(np.int64)


# ------------------------------------------------------------------ builder
def synth_graph(
    n_nodes: int,
    *,
    seed: int = 0,
    lat0: float = CENTER_LAT,
    lon0: float = CENTER_LON,
    keep_estimate: float = _KEEP_ESTIMATE,
) -> nx.MultiDiGraph:
    """Generate a city-like, strongly connected bike graph of about ``n_nodes`` nodes.

    Parameters
    ----------
    n_nodes
        Wanted node count (the result is within a few per cent).
    seed
        Random seed; equal seeds give equal graphs.
    lat0, lon0
        Centre of the city.
    keep_estimate
        Expected surviving share of grid nodes (sizes the grid).

    Returns
    -------
    networkx.MultiDiGraph
        osmnx-style graph like :func:`ringroute._build.build_graph` makes: nodes
        with ``x``/``y``; edges with ``length_m``, ``length``, ``highway``, ``name``,
        ``way_class``, ``bike_factor``, ``cycle_route``, ``oneway``, ``osmid`` and
        ``surface``/``tracktype``/``cycleway``/``bicycle`` where tagged.
    """
    if n_nodes < 50:
        msg = f"n_nodes={n_nodes} is too small: use at least 50"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    side = max(8, math.ceil(math.sqrt(n_nodes / keep_estimate)))
    c = side // 2
    x, y = _node_xy(side, rng)
    lon, lat = _to_lonlat(x, y, lat0, lon0)
    table = _profile_table()

    # grid links: east-west (o=0, line=row j, pos=column i) and north-south (o=1)
    jj, ii = np.meshgrid(np.arange(side), np.arange(side - 1), indexing="ij")
    ew_a = (jj * side + ii).ravel()
    ew_b = ew_a + 1
    ew_line, ew_pos = jj.ravel(), ii.ravel()
    jj, ii = np.meshgrid(np.arange(side - 1), np.arange(side), indexing="ij")
    ns_a = (jj * side + ii).ravel()
    ns_b = ns_a + side
    ns_line, ns_pos = ii.ravel(), jj.ravel()
    a = np.concatenate([ew_a, ns_a])
    b = np.concatenate([ew_b, ns_b])
    o = np.concatenate([np.zeros(len(ew_a), np.int64), np.ones(len(ns_a), np.int64)])
    line = np.concatenate([ew_line, ns_line])
    pos = np.concatenate([ew_pos, ns_pos])
    prof, way = _street_profiles(o, line, pos, side, c, rng)
    names = _line_names(o, line, prof, side)

    keep = np.ones(len(a), dtype=bool)
    # missing links among quiet streets → dead ends and irregular blocks
    quiet = np.isin(prof, [P_RESIDENTIAL, P_LIVING, P_UNCLASSIFIED, P_SERVICE, P_PROMENADE,
                           P_ONEWAY_FWD, P_ONEWAY_REV, P_ONEWAY_CONTRA, P_TRACK_GRAVEL,
                           P_TRACK_GROUND, P_PATH_COMPACTED])
    keep &= ~(quiet & (rng.random(len(a)) < _DROP_QUIET))
    # the river: north-south links across it survive as bridges on bigger streets
    river = _river_rows(side, c, rng)
    role_l, _ = _line_roles(side, c)
    crosses = (o == 1) & (pos == river[line])
    bridge = (role_l[line] >= 2) | (prof == P_CYCLEWAY_ROUTE)
    keep &= ~(crosses & ~bridge)
    # parks and lakes
    gone = _holes(side, c, rng)
    keep &= ~(gone[a] | gone[b])

    a, b, prof, way, names = a[keep], b[keep], prof[keep], way[keep], names[keep]

    # diagonal cycle paths through some blocks (they cross no street)
    n_diag = round(_DIAGONAL_SHARE * (side - 1) ** 2)
    di = rng.integers(0, side - 1, n_diag)
    dj = rng.integers(0, side - 1, n_diag)
    da = np.unique(dj * side + di)
    flip = rng.random(len(da)) < 0.5
    d_from = np.where(flip, da + 1, da)
    d_to = np.where(flip, da + side, da + side + 1)
    ok = ~(gone[d_from] | gone[d_to])
    d_from, d_to = d_from[ok], d_to[ok]
    a = np.concatenate([a, d_from])
    b = np.concatenate([b, d_to])
    prof = np.concatenate([prof, np.full(len(d_from), P_DIAGONAL, np.int64)])
    way = np.concatenate([way, 10_000_000 + np.arange(len(d_from))])
    names = np.concatenate([names, np.full(len(d_from), "Parkweg", dtype=object)])

    # directed edges per allowed direction (way node order = a → b)
    fwd = table.fwd[prof]
    bwd = table.bwd[prof]
    u = np.concatenate([a[fwd], b[bwd]])
    v = np.concatenate([b[fwd], a[bwd]])
    eprof = np.concatenate([prof[fwd], prof[bwd]])
    eway = np.concatenate([way[fwd], way[bwd]])
    ename = np.concatenate([names[fwd], names[bwd]])

    # largest strongly connected component
    n_grid = side * side
    adj = coo_array((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n_grid, n_grid)).tocsr()
    _, labels = connected_components(adj, directed=True, connection="strong")
    used = np.zeros(n_grid, dtype=bool)
    used[u] = True
    used[v] = True
    counts = np.bincount(labels[used], minlength=int(labels.max()) + 1)
    big = int(np.argmax(counts))
    in_big = labels == big
    sel = in_big[u] & in_big[v]
    u, v, eprof, eway, ename = u[sel], v[sel], eprof[sel], eway[sel], ename[sel]
    nodes = np.nonzero(in_big & used)[0]

    length = haversine_m_array(lat[u], lon[u], lat[v], lon[v])
    g = nx.MultiDiGraph(crs="epsg:4326", simplified=True,
                        source=f"synthetic:n={n_nodes},seed={seed}")
    ids = nodes + NODE_ID_BASE
    g.add_nodes_from(
        (int(n), {"x": float(xx), "y": float(yy)})
        for n, xx, yy in zip(ids.tolist(), lon[nodes].tolist(), lat[nodes].tolist(),
                             strict=True)
    )
    base = [
        {"highway": table.highway[k], "way_class": table.way_class[k],
         "bike_factor": table.bike_factor[k], "cycle_route": table.cycle_route[k],
         "oneway": table.oneway[k], **table.extra[k]}
        for k in range(len(_PROFILES))
    ]
    add_edges_fast(g, (
        (uu, vv, {**base[p], "osmid": w, "name": nm, "length": ln, "length_m": ln})
        for uu, vv, p, w, nm, ln in zip(
            (u + NODE_ID_BASE).tolist(), (v + NODE_ID_BASE).tolist(), eprof.tolist(),
            (eway + WAY_ID_BASE).tolist(), ename.tolist(), length.tolist(), strict=True)
    ))
    return g


def add_edges_fast(g: nx.MultiDiGraph,
                   edges: Iterable[tuple[int, int, dict[str, Any]]]) -> None:
    """Add edges ``(u, v, data)`` with key 0 between existing nodes of ``g``.

    Equivalent to ``g.add_edges_from((u, v, 0, data) ...)`` for edges that are
    new and whose nodes exist, but fills networkx's adjacency dicts directly:
    ``add_edges_from`` costs about 8 µs per edge, which is most of the time of
    a million-node graph. The data dicts are used as given (not copied).
    """
    succ = g._succ
    pred = g._pred
    for uu, vv, data in edges:
        keydict = {0: data}
        succ[uu][vv] = keydict
        pred[vv][uu] = keydict
    nx._clear_cache(g)


def _line_names(o: IntArray, line: IntArray, prof: IntArray, side: int) -> npt.NDArray[Any]:
    """A street name per link: the stem of its profile and the number of its line."""
    stems = np.array([p.stem for p in _PROFILES], dtype=object)
    # build each distinct (profile, line) name once and share the string objects
    code = (prof * 2 + o) * side + line
    uniq, inv = np.unique(code, return_inverse=True)
    table = np.array(
        [f"{stems[k // (2 * side)]} {'NS' if (k // side) % 2 else 'OW'}{k % side}"
         for k in uniq.tolist()], dtype=object)
    return table[inv]


def synth_network(n_nodes: int, *, seed: int = 0, lat0: float = CENTER_LAT,
                  lon0: float = CENTER_LON, tolerance: float = 0.05) -> Network:
    """Generate a synthetic :class:`~ringroute.network.Network` of about ``n_nodes`` nodes.

    The grid is sized from an estimate of how many nodes survive; if the result
    misses ``n_nodes`` by more than ``tolerance`` it is generated once more with a
    corrected grid. ``timings_s["generate"]`` holds the seconds spent.
    """
    t0 = time.perf_counter()
    # millions of small dicts: the cyclic GC would rescan them over and over
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        g = synth_graph(n_nodes, seed=seed, lat0=lat0, lon0=lon0)
        got = g.number_of_nodes()
        if abs(got - n_nodes) > tolerance * n_nodes:
            ratio = _KEEP_ESTIMATE * got / n_nodes
            g = synth_graph(n_nodes, seed=seed, lat0=lat0, lon0=lon0, keep_estimate=ratio)
    finally:
        if was_enabled:
            gc.enable()
    net = Network(g, str(g.graph["source"]))
    net.timings_s["generate"] = time.perf_counter() - t0
    return net


def network_km(g: nx.MultiDiGraph) -> float:
    """Kilometres of ways, each direction counted once."""
    total = 0.0
    for u, v, d in g.edges(data="length_m"):
        if not (g.has_edge(v, u) and v < u):
            total += float(d)
    return total / 1000.0


def main(argv: list[str] | None = None) -> int:
    """Command line: generate one network and print its size."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--nodes", type=int, default=100_000, help="wanted node count")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    net = synth_network(args.nodes, seed=args.seed)
    g = net.graph
    from collections import Counter

    classes: Counter[str] = Counter()
    for _, _, d in g.edges(data=True):
        classes[d["way_class"]] += d["length_m"]
    total = sum(classes.values())
    lons = [d["x"] for _, d in g.nodes(data=True)]
    lats = [d["y"] for _, d in g.nodes(data=True)]
    print(f"synthetic network: {g.number_of_nodes():,} nodes, {g.number_of_edges():,} "
          f"directed edges, {network_km(g):,.0f} km of ways, generated in "
          f"{net.timings_s['generate']:.1f} s")
    print(f"bbox lat {min(lats):.4f}..{max(lats):.4f}, lon {min(lons):.4f}..{max(lons):.4f}")
    print("length share per class: " + ", ".join(
        f"{k} {v / total:.1%}" for k, v in classes.most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
