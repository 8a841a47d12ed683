"""Bike networks: from local OSM extracts or downloaded from Overpass via osmnx.

Lookup order of :func:`load_network`: an explicit ``osm_path``; else
``$RINGROUTE_OSM_DIR/<extract>.osm[.pbf|.bz2|.gz]``; else ``data/osm/``; else a
download of the city's area (cached). Prepared graphs are cached by the hash of
their source, so loading a city a second time skips parsing and simplification.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx
import osmnx as ox
import requests
from shapely.geometry import Polygon, box

from ringroute import _cache
from ringroute._bike import OVERPASS_FILTERS, WAY_TAGS
from ringroute._build import ProgressFn, build_graph
from ringroute._osmfile import SUFFIXES, RawNetwork, read_osm_file
from ringroute._router import Router
from ringroute.cities import City
from ringroute.errors import DownloadError, OSMDataError
from ringroute.settings import Settings, get_settings

log = logging.getLogger("ringroute")

#: Bump when the graph building rules change, to invalidate prepared graphs.
LOADER_VERSION = "3"


@dataclass
class Network:
    """A loaded bike network.

    Attributes
    ----------
    graph
        The simplified, strongly connected osmnx-style MultiDiGraph.
    source
        Where it came from (file path or ``overpass:<query>``).
    named_features
        ``(name, lon, lat)`` of named OSM objects in the source data.
    timings_s
        Seconds spent per loading stage (``parse``, ``build``, ``cache_load`` …).
    """

    graph: nx.MultiDiGraph
    source: str
    named_features: list[tuple[str, float, float]] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    from_cache: bool = False

    @cached_property
    def router(self) -> Router:
        """The compiled shortest-path mirror of :attr:`graph` (built on first use)."""
        return Router(self.graph)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(south, west, north, east)`` of the graph's nodes."""
        r = self.router
        return (float(r.lat.min()), float(r.lon.min()), float(r.lat.max()), float(r.lon.max()))

    @property
    def total_length_m(self) -> float:
        """Length of all rideable ways, each direction counted once."""
        seen: set[tuple[int, int, float]] = set()
        total = 0.0
        for u, v, d in self.graph.edges(data=True):
            key = (min(u, v), max(u, v), round(float(d["length_m"]), 1))
            if key not in seen:
                seen.add(key)
                total += float(d["length_m"])
        return total


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def network_from_file(
    path: Path | str,
    *,
    settings: Settings | None = None,
    progress: ProgressFn | None = None,
) -> Network:
    """Load the bike network of a local OSM extract.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf`` file.
    settings
        Cache location; defaults to the environment's settings.
    progress
        Optional callback ``(stage, fraction)``.

    Returns
    -------
    Network
        The prepared network (from the prepared-graph cache when possible).

    Raises
    ------
    OSMDataError
        If the file is missing, empty, unreadable or holds no bike network.
    """
    s = settings or get_settings()
    path = Path(path)
    if not path.is_file():
        msg = f"OSM file {str(path)!r} does not exist"
        raise OSMDataError(msg)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    key = _cache.cache_key("file", LOADER_VERSION, _file_digest(path))
    folder = s.cache_dir / "graphs"
    if s.use_cache:
        cached = _cache.load(folder, key)
        if isinstance(cached, dict) and isinstance(cached.get("graph"), nx.MultiDiGraph):
            timings["cache_load"] = time.perf_counter() - t0
            log.info("loaded prepared graph of %s from cache in %.2f s", path.name,
                     timings["cache_load"])
            return Network(cached["graph"], str(path), cached.get("named", []), timings,
                           from_cache=True)
    if progress is not None:
        progress(f"reading {path.name}", 0.0)
    raw = read_osm_file(path)
    timings["parse"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    graph = build_graph(raw, progress=progress)
    graph.graph["source"] = str(path)
    timings["build"] = time.perf_counter() - t1
    net = Network(graph, str(path), raw.named_features, timings)
    if s.use_cache:
        _cache.store(folder, key, {"graph": graph, "named": raw.named_features})
    return net


# ------------------------------------------------------------------ download
def bbox_polygon(bbox: tuple[float, float, float, float]) -> Polygon:
    """Polygon of a ``(south, west, north, east)`` box."""
    south, west, north, east = bbox
    return box(west, south, east, north)


def _raise_for_retryable(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    # osmnx retries HTTP 429/504 itself every 55 s without end; turn them into
    # errors so that ringroute's bounded retry with backoff decides instead.
    if response.status_code in {429, 500, 502, 503, 504}:
        response.raise_for_status()


@contextlib.contextmanager
def _osmnx_settings(s: Settings) -> Iterator[None]:
    values: dict[str, Any] = {
        "overpass_url": s.overpass_url.rstrip("/"),
        "nominatim_url": s.nominatim_url if s.nominatim_url.endswith("/")
        else s.nominatim_url + "/",
        "use_cache": False,
        "log_console": False,
        "requests_timeout": s.timeout_s,
        "requests_kwargs": {"hooks": {"response": [_raise_for_retryable]}},
        "doh_url_template": None,
        "useful_tags_way": list(WAY_TAGS),
        "useful_tags_node": ["ele", "highway", "name"],
        "all_oneway": True,
    }
    saved = {k: getattr(ox.settings, k) for k in values}
    try:
        for k, v in values.items():
            setattr(ox.settings, k, v)
        yield
    finally:
        for k, v in saved.items():
            setattr(ox.settings, k, v)


_RETRYABLE: tuple[type[BaseException], ...] = (
    requests.RequestException,
    ox._errors.InsufficientResponseError,
    ox._errors.ResponseStatusCodeError,
    ValueError,  # osmnx raises it for a body that is not JSON
)


def _with_retries(what: str, fn: Callable[[], Any], s: Settings) -> Any:
    pause = s.backoff_s
    for attempt in range(s.retries + 1):
        try:
            return fn()
        except _RETRYABLE as exc:
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            if attempt == s.retries:
                msg = f"{what} failed after {attempt + 1} attempts: {reason}"
                raise DownloadError(msg) from exc
            log.warning("%s failed (%s); retrying in %.1f s", what, reason, pause)
            time.sleep(pause)
            pause *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _raw_from_osmnx_graph(g: nx.MultiDiGraph) -> RawNetwork:
    raw = RawNetwork()
    for n, d in g.nodes(data=True):
        raw.coords[int(n)] = (float(d["x"]), float(d["y"]))
        if "ele" in d:
            with contextlib.suppress(TypeError, ValueError):
                raw.node_ele[int(n)] = float(d["ele"])
    # with settings.all_oneway osmnx adds each way once, in node order, except that
    # it reverses the node order of oneway=-1 ways; undo that to get OSM order back.
    for u, v, d in g.edges(data=True):
        tags = {k: str(d[k]) for k in WAY_TAGS if k in d and d[k] is not None}
        a, b = (v, u) if tags.get("oneway") in {"-1", "reverse", "T"} else (u, v)
        raw.ways.append((int(d["osmid"]), [int(a), int(b)], tags))
    return raw


def geocode_area(place: str, *, settings: Settings | None = None) -> Polygon:
    """Return the boundary polygon of ``place`` from Nominatim via osmnx.

    Raises
    ------
    DownloadError
        If Nominatim cannot be reached or knows no polygon for ``place``.
    """
    s = settings or get_settings()

    def _go() -> Polygon:
        gdf = ox.geocode_to_gdf(place)
        geom = gdf.geometry.iloc[0]
        if geom.geom_type not in {"Polygon", "MultiPolygon"}:
            msg = f"Nominatim returned a {geom.geom_type}, not an area, for {place!r}"
            raise DownloadError(msg)
        return geom

    with _osmnx_settings(s):
        try:
            result: Polygon = _with_retries(f"geocoding {place!r}", _go, s)
        except TypeError as exc:  # osmnx: "Nominatim could not geocode query"
            msg = f"Nominatim does not know {place!r}"
            raise DownloadError(msg) from exc
    return result


def network_from_overpass(
    *,
    polygon: Polygon | None = None,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    settings: Settings | None = None,
    progress: ProgressFn | None = None,
) -> Network:
    """Download a bike network with osmnx from the Overpass API (cached).

    The area is ``polygon``, else the Nominatim boundary of ``place``, else
    ``bbox`` (also the fallback when geocoding fails). The raw download is cached
    under a hash of the query and written atomically, so a second run needs no
    network; the prepared graph is cached as well.

    Raises
    ------
    DownloadError
        If the servers fail after the configured retries.
    ValueError
        If no area is given.
    """
    s = settings or get_settings()
    if polygon is None and not place and bbox is None:
        msg = "network_from_overpass needs polygon, place or bbox"
        raise ValueError(msg)
    query_id = "|".join([
        s.overpass_url.rstrip("/"), *OVERPASS_FILTERS,
        polygon.wkt if polygon is not None else "", place or "", repr(bbox),
    ])
    key = _cache.cache_key("overpass", LOADER_VERSION, query_id)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    raw_folder = s.cache_dir / "overpass"
    raw = _cache.load(raw_folder, key) if s.use_cache else None
    source = f"overpass:{place or bbox or 'polygon'}"
    if not isinstance(raw, RawNetwork):
        area = polygon
        if area is None and place:
            if progress is not None:
                progress(f"geocoding {place}", 0.0)
            try:
                area = geocode_area(place, settings=s)
            except DownloadError as exc:
                if bbox is None:
                    raise
                log.warning("%s; using the catalogue's bounding box instead", exc)
        if area is None:
            if bbox is None:  # pragma: no cover - guarded above
                msg = "no query area"
                raise ValueError(msg)
            area = bbox_polygon(bbox)
        if progress is not None:
            progress("downloading from Overpass", 0.05)
        log.info("downloading bike network from %s", s.overpass_url)

        def _download() -> nx.MultiDiGraph:
            return ox.graph_from_polygon(
                area, custom_filter=list(OVERPASS_FILTERS), simplify=False,
                retain_all=True, truncate_by_edge=True,
            )

        with _osmnx_settings(s):
            g = _with_retries("Overpass download", _download, s)
        raw = _raw_from_osmnx_graph(g)
        timings["download"] = time.perf_counter() - t0
        if s.use_cache:
            _cache.store(raw_folder, key, raw)
    else:
        timings["download_cache"] = time.perf_counter() - t0
        log.info("using cached download %s", key)
    t1 = time.perf_counter()
    graph_key = _cache.cache_key("graph", LOADER_VERSION, key)
    cached = _cache.load(s.cache_dir / "graphs", graph_key) if s.use_cache else None
    if isinstance(cached, nx.MultiDiGraph):
        timings["cache_load"] = time.perf_counter() - t1
        return Network(cached, source, raw.named_features, timings, from_cache=True)
    graph = build_graph(raw, progress=progress)
    graph.graph["source"] = source
    timings["build"] = time.perf_counter() - t1
    if s.use_cache:
        _cache.store(s.cache_dir / "graphs", graph_key, graph)
    return Network(graph, source, raw.named_features, timings)


# ------------------------------------------------------------------ lookup
def find_extract(city: City, *, settings: Settings | None = None) -> Path | None:
    """Find a local extract for ``city`` in ``$RINGROUTE_OSM_DIR`` or ``data/osm/``."""
    s = settings or get_settings()
    folders = [f for f in (s.osm_dir, s.local_osm_dir) if f is not None]
    for folder in folders:
        for stem in (city.key, *city.extracts):
            for suffix in SUFFIXES[:4]:
                candidate = folder / f"{stem}{suffix}"
                if candidate.is_file():
                    return candidate
    return None


def load_network(
    city: City | None = None,
    *,
    osm_path: Path | str | None = None,
    settings: Settings | None = None,
    download: bool = True,
    progress: ProgressFn | None = None,
) -> Network:
    """Load the bike network for a city or an extract.

    Parameters
    ----------
    city
        The city catalogue (its extracts and query area are used).
    osm_path
        An explicit extract; wins over everything else.
    settings
        Folders, cache and servers; defaults to the environment's settings.
    download
        Allow the Overpass download when no local extract is found.
    progress
        Optional callback ``(stage, fraction)``.

    Raises
    ------
    OSMDataError
        If no source is available or the source is unusable.
    DownloadError
        If the download fails.
    """
    s = settings or get_settings()
    if osm_path is not None:
        return network_from_file(osm_path, settings=s, progress=progress)
    if city is None:
        msg = "no OSM source: give an extract (--osm PATH) or a city"
        raise OSMDataError(msg)
    found = find_extract(city, settings=s)
    if found is not None:
        log.info("using local extract %s", found)
        return network_from_file(found, settings=s, progress=progress)
    if not download:
        msg = (
            f"no local extract for {city.key!r} in $RINGROUTE_OSM_DIR or data/osm/ "
            "and downloading is off"
        )
        raise OSMDataError(msg)
    return network_from_overpass(place=city.place or None, bbox=city.bbox, settings=s,
                                 progress=progress)
