"""Turn raw OSM ways into a simplified, strongly connected bike graph."""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox

from ringroute._bike import bike_access, bike_factor, way_class
from ringroute._geo import haversine_m_array
from ringroute._osmfile import RawNetwork
from ringroute.errors import OSMDataError

log = logging.getLogger("ringroute")

ProgressFn = Callable[[str, float], None]

_EDGE_KEEP = ("highway", "name", "name:en", "name:de", "name:ja", "ref", "surface", "cycleway",
              "cycleway:left", "cycleway:right", "cycleway:both", "bicycle", "tracktype")


def _cycle_route(wid: int, tags: dict[str, str], route_ways: set[int]) -> bool:
    return wid in route_ways or any(tags.get(k) == "yes" for k in ("lcn", "rcn", "ncn"))


def build_graph(raw: RawNetwork, *, progress: ProgressFn | None = None) -> nx.MultiDiGraph:
    """Build the routable bike graph from raw ways.

    Keeps only rideable ways (:func:`ringroute._bike.bike_access`), adds one
    directed edge per allowed direction, simplifies the topology with osmnx
    (interstitial nodes removed, endpoints kept where the way class, cost or
    name changes), and keeps the largest strongly connected component so that
    every node can reach every other.

    Parameters
    ----------
    raw
        Ways and node positions, e.g. from :func:`ringroute._osmfile.read_osm_file`.
    progress
        Optional callback ``(stage, fraction)``.

    Returns
    -------
    networkx.MultiDiGraph
        osmnx-style graph (``crs`` EPSG:4326, nodes with ``x``/``y``); edges carry
        ``length_m``, ``length``, ``highway``, ``name``, ``surface``, cycleway tags,
        ``way_class``, ``bike_factor``, ``cycle_route`` and ``geometry`` where simplified.

    Raises
    ------
    OSMDataError
        If no rideable way remains.
    """
    edges_u: list[int] = []
    edges_v: list[int] = []
    edge_attrs: list[dict[str, Any]] = []
    coords = raw.coords
    n_ways = 0
    for i, (wid, refs, tags) in enumerate(raw.ways):
        if progress is not None and i % 5000 == 0:
            progress("filtering ways", 0.3 * i / max(1, len(raw.ways)))
        access = bike_access(tags)
        if access is None:
            continue
        n_ways += 1
        fwd, bwd = access
        route = _cycle_route(wid, tags, raw.cycle_route_ways)
        attrs: dict[str, Any] = {k: tags[k] for k in _EDGE_KEEP if k in tags}
        attrs.update(
            osmid=wid,
            way_class=way_class(tags),
            bike_factor=bike_factor(tags, in_cycle_route=route),
            cycle_route=route,
            oneway=not (fwd and bwd),
        )
        for a, b in pairwise(refs):
            if fwd:
                edges_u.append(a)
                edges_v.append(b)
                edge_attrs.append(attrs)
            if bwd:
                edges_u.append(b)
                edges_v.append(a)
                edge_attrs.append(attrs)
    if not edges_u:
        msg = "the OSM data holds no way a bicycle may use"
        raise OSMDataError(msg)
    u_arr = np.array(edges_u, dtype=np.int64)
    v_arr = np.array(edges_v, dtype=np.int64)
    ulon = np.array([coords[n][0] for n in edges_u])
    ulat = np.array([coords[n][1] for n in edges_u])
    vlon = np.array([coords[n][0] for n in edges_v])
    vlat = np.array([coords[n][1] for n in edges_v])
    lengths = haversine_m_array(ulat, ulon, vlat, vlon)
    if progress is not None:
        progress("building graph", 0.35)
    G = nx.MultiDiGraph(crs="epsg:4326")
    used = set(edges_u) | set(edges_v)
    G.add_nodes_from(
        (n, {"x": coords[n][0], "y": coords[n][1], **({"ele": raw.node_ele[n]}
                                                     if n in raw.node_ele else {})})
        for n in used
    )
    G.add_edges_from(
        (int(u), int(v), {**a, "length": float(length)})
        for u, v, a, length in zip(u_arr, v_arr, edge_attrs, lengths, strict=True)
    )
    log.info("bike network: %d rideable ways, %d nodes, %d directed segments",
             n_ways, G.number_of_nodes(), G.number_of_edges())
    if progress is not None:
        progress("simplifying topology", 0.5)
    G = ox.simplify_graph(G, edge_attrs_differ=["way_class", "bike_factor", "name"])
    if progress is not None:
        progress("keeping the largest connected part", 0.85)
    whole = G
    G = ox.truncate.largest_component(G, strongly=True)
    # where the ways left out lie (their ends and bends): a sight on one is told why it
    # is off the network
    xs: list[float] = []
    ys: list[float] = []
    for u, v, data in whole.edges(data=True):
        if u in G and v in G:
            continue
        geom = data.get("geometry")
        if geom is not None:
            gx, gy = geom.xy
            xs.extend(gx)
            ys.extend(gy)
        else:
            xs.extend((whole.nodes[u]["x"], whole.nodes[v]["x"]))
            ys.extend((whole.nodes[u]["y"], whole.nodes[v]["y"]))
    G.graph["left_out_lat"] = np.asarray(ys, dtype=float)
    G.graph["left_out_lon"] = np.asarray(xs, dtype=float)
    for _, _, data in G.edges(data=True):
        for key, value in list(data.items()):
            if isinstance(value, list) and key not in {"osmid"}:
                data[key] = value[0]
        data["length_m"] = float(data["length"])
    if progress is not None:
        progress("done", 1.0)
    log.info("simplified strongly connected graph: %d nodes, %d edges",
             G.number_of_nodes(), G.number_of_edges())
    return G
