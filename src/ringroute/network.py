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
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox
import requests
from shapely.geometry import Polygon, box

from ringroute import _cache
from ringroute._alongside import WayKey, alongside_ways
from ringroute._bike import OVERPASS_FILTERS, WAY_TAGS
from ringroute._build import ProgressFn, build_graph
from ringroute._osmfile import SUFFIXES, RawNetwork, missing_file_message, read_osm_file
from ringroute._router import Router
from ringroute._types import FloatArray
from ringroute.cities import City
from ringroute.errors import DownloadError, OSMDataError
from ringroute.settings import Settings, get_settings

log = logging.getLogger("ringroute")

#: Bump when the graph building rules change, to invalidate prepared graphs.
LOADER_VERSION = "8"  # 8: the graph keeps where the ways left out lie


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

    @cached_property
    def alongside(self) -> dict[WayKey, frozenset[WayKey]]:
        """Ways that run alongside others (see :func:`ringroute._alongside.alongside_ways`).

        Keyed by :func:`ringroute._alongside.way_key` of the way's end nodes; built on
        first use.
        """
        return alongside_ways(self.graph)

    def edge_lonlat(self, u: int, v: int, key: int) -> tuple[list[float], list[float]]:
        """The vertices ``lon, lat`` of edge ``(u, v, key)``, in order from ``u`` to ``v``.

        The way's own geometry where it has one, else the straight line between its
        nodes. (Plain lists: callers that gather every edge's vertices build one
        array of all of them.)
        """
        g = self.graph
        geom = g.edges[u, v, key].get("geometry")
        if geom is None:
            return ([float(g.nodes[u]["x"]), float(g.nodes[v]["x"])],
                    [float(g.nodes[u]["y"]), float(g.nodes[v]["y"])])
        xs, ys = geom.xy
        lon, lat = [float(x) for x in xs], [float(y) for y in ys]
        if (lon[0], lat[0]) != (g.nodes[u]["x"], g.nodes[u]["y"]):
            lon.reverse()
            lat.reverse()
        return lon, lat

    def edge_track(self, u: int, v: int, key: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:meth:`edge_lonlat`, and the share of the edge's length at each vertex.

        The share runs from 0 to 1 (in proportion to the distance in degrees). Kept
        once computed: loops are assembled from these.
        """
        got = self._tracks.get((u, v, key))
        if got is None:
            lon_list, lat_list = self.edge_lonlat(u, v, key)
            lon, lat = np.asarray(lon_list), np.asarray(lat_list)
            frac = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(lon), np.diff(lat)))])
            frac = frac / frac[-1] if frac[-1] > 0 else np.linspace(0, 1, len(frac))
            got = self._tracks[(u, v, key)] = lon, lat, frac
        return got

    @cached_property
    def _tracks(self) -> dict[tuple[int, int, int], tuple[FloatArray, FloatArray, FloatArray]]:
        return {}

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
        raise OSMDataError(missing_file_message(path))
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
    """Turn answers that must be retried into exceptions (a requests response hook).

    osmnx retries HTTP 429 and 504 itself, every 55 s and without end, and it only
    logs an Overpass ``remark`` such as ``runtime error: Query timed out`` before
    using the empty or partial answer as data. Raising here lets ringroute's
    bounded retry with backoff decide instead, and keeps partial downloads out of
    the cache.

    Parameters
    ----------
    response
        The response just received.
    *args, **kwargs
        Passed by requests; ignored.

    Raises
    ------
    requests.HTTPError
        For HTTP 429, 500, 502, 503 and 504.
    osmnx._errors.InsufficientResponseError
        For an Overpass answer whose ``remark`` reports an error.
    """
    if response.status_code in {429, 500, 502, 503, 504}:
        response.raise_for_status()
    if (
        response.ok
        and response.url.split("?")[0].endswith("/interpreter")
        and b'"remark"' in response.content
    ):
        try:
            doc = response.json()
        except ValueError:
            return  # not JSON: osmnx reports that itself
        remark = doc.get("remark") if isinstance(doc, dict) else None
        if isinstance(remark, str) and "error" in remark.lower():
            first = remark.strip().splitlines()[0] if remark.strip() else remark
            msg = f"Overpass answered without complete data: {first[:200]}"
            raise ox._errors.InsufficientResponseError(msg)


@contextlib.contextmanager
def _osmnx_settings(s: Settings) -> Iterator[None]:
    """Point osmnx at the configured servers for the duration of a ``with`` block.

    Parameters
    ----------
    s
        Server URLs and the request timeout.

    Yields
    ------
    None
        Inside the block, ``osmnx.settings`` use ringroute's values; the previous
        values are restored afterwards, also on errors.
    """
    # Overpass accepts only a positive integer as its own [timeout:N]
    overpass_timeout = max(1, int(-(-s.timeout_s // 1)))
    values: dict[str, Any] = {
        "overpass_url": s.overpass_url.rstrip("/"),
        "nominatim_url": s.nominatim_url if s.nominatim_url.endswith("/")
        else s.nominatim_url + "/",
        "use_cache": False,
        "log_console": False,
        "requests_timeout": s.timeout_s,
        "requests_kwargs": {"hooks": {"response": [_raise_for_retryable]}},
        "doh_url_template": None,
        "overpass_rate_limit": True,
        "overpass_settings": f"[out:json][timeout:{overpass_timeout}]{{maxsize}}",
        "useful_tags_way": list(WAY_TAGS),
        "useful_tags_node": ["ele", "highway", "name"],
        "all_oneway": True,
    }
    saved = {k: getattr(ox.settings, k) for k in values}
    # osmnx pins a resolved address by replacing socket.getaddrinfo process-wide
    saved_getaddrinfo = socket.getaddrinfo
    try:
        for k, v in values.items():
            setattr(ox.settings, k, v)
        yield
    finally:
        for k, v in saved.items():
            setattr(ox.settings, k, v)
        socket.getaddrinfo = saved_getaddrinfo


_RETRYABLE: tuple[type[BaseException], ...] = (
    requests.RequestException,
    ox._errors.InsufficientResponseError,
    ox._errors.ResponseStatusCodeError,
    ValueError,  # osmnx raises it for a body that is not JSON
)


#: first pause (s) before retrying a request that reached no server, doubled each time
_NO_SERVER_BACKOFF_S = 1.0


def _name_unknown(exc: BaseException) -> bool:
    """Whether ``exc`` comes from a host name the resolver does not know.

    That is ``EAI_NONAME`` ("Name or service not known": no such host, or no
    resolver reachable), not a temporary failure (``EAI_AGAIN``), which is
    worth a retry. The cause is looked for along the exception's causes and
    arguments (requests wraps urllib3's errors, which wrap the socket error).
    """
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, socket.gaierror):
            return e.errno == socket.EAI_NONAME
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
    return False


def _with_retries(what: str, fn: Callable[[], Any], s: Settings) -> Any:
    """Call ``fn``; retry transient network failures with exponential backoff.

    Parameters
    ----------
    what
        What is being done, for messages (e.g. ``"Overpass download"``).
    fn
        One attempt.
    s
        ``retries`` (attempts after the first), ``backoff_s`` (first pause,
        doubled after each further failure; at most 1 s, 2 s, 4 s, ... where no
        server answered) and ``timeout_s`` (for messages).

    Returns
    -------
    Any
        What ``fn`` returned.

    Raises
    ------
    DownloadError
        With a one-line reason when the last attempt failed too.
    """

    def _reason(exc: BaseException) -> str:
        request = getattr(exc, "request", None)
        url = str(getattr(request, "url", None) or "the server").split("?")[0]
        text = str(exc)
        if isinstance(exc, requests.ConnectTimeout):
            return f"no connection to {url} within {s.timeout_s:g} s"
        if isinstance(exc, requests.Timeout):
            return f"no answer from {url} within {s.timeout_s:g} s"
        if isinstance(exc, requests.ConnectionError):
            lowered = text.lower()
            if "refused" in lowered:
                detail = " (connection refused)"
            elif "resolve" in lowered or "name or service" in lowered:
                detail = " (host name not found)"
            elif "aborted" in lowered or "reset" in lowered:
                detail = " (connection closed by the server)"
            else:
                detail = ""
            return f"cannot connect to {url}{detail}"
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            return f"the answer from {url} broke off before its end"
        response = getattr(exc, "response", None)
        if isinstance(exc, requests.HTTPError) and response is not None:
            return f"{url} answered HTTP {response.status_code} {response.reason}".rstrip()
        lines = text.strip().splitlines()
        return lines[0][:200] if lines else type(exc).__name__

    pause = s.backoff_s
    for attempt in range(s.retries + 1):
        try:
            return fn()
        except _RETRYABLE as exc:
            reason = _reason(exc)
            if attempt == s.retries or _name_unknown(exc):
                # a name the resolver does not know (typically: offline) stays unknown
                # for the next minute; waiting for it would only delay the error
                attempts = f"{attempt + 1} attempt{'s' if attempt else ''}"
                msg = f"{what} failed after {attempts}: {reason}"
                raise DownloadError(msg) from exc
            wait = pause
            if isinstance(exc, requests.ConnectionError):
                # no server answered: there is no rate limit to respect, only a network
                # blip to ride out (an offline machine should not wait a minute)
                wait = min(pause, _NO_SERVER_BACKOFF_S * 2**attempt)
            # a note on the way, not a problem yet: a quiet run (-q) leaves it out
            log.warning("%s failed (%s); retrying in %.1f s", what, reason, wait,
                        extra={"ringroute_progress": True})
            time.sleep(wait)
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

    Transient failures are retried with backoff; an answer without results is
    final and not retried.

    Parameters
    ----------
    place
        A Nominatim query such as ``"Tsukuba, Ibaraki, Japan"``.
    settings
        Nominatim URL, timeout, retries and backoff; defaults to the environment's.

    Returns
    -------
    shapely.geometry.Polygon
        The place's boundary (a Polygon or MultiPolygon) in WGS 84.

    Raises
    ------
    DownloadError
        If Nominatim cannot be reached or knows no polygon for ``place``.
    """
    s = settings or get_settings()

    def _go() -> Polygon:
        try:
            gdf = ox.geocode_to_gdf(place)
        except ox._errors.InsufficientResponseError as exc:
            if "0 results" in str(exc):  # a definite answer: asking again cannot help
                msg = f"Nominatim does not know {place!r}"
                raise DownloadError(msg) from exc
            raise
        geom = gdf.geometry.iloc[0]
        if geom.geom_type not in {"Polygon", "MultiPolygon"}:
            msg = f"Nominatim returned a {geom.geom_type}, not an area, for {place!r}"
            raise DownloadError(msg)
        return geom

    with _osmnx_settings(s):
        try:
            result: Polygon = _with_retries(f"geocoding {place!r}", _go, s)
        except TypeError as exc:  # osmnx: "did not geocode query ... to a (Multi)Polygon"
            msg = f"Nominatim knows no area for {place!r}"
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
    network; the prepared graph is cached as well. A download made for the
    ``bbox`` fallback is cached as that box's download, not as the place's, so
    that a later run geocodes the place again instead of keeping the fallback.

    Parameters
    ----------
    polygon
        The area to download (WGS 84 lon/lat).
    place
        A Nominatim query for the area, used when ``polygon`` is None.
    bbox
        ``(south, west, north, east)``: the area when neither ``polygon`` nor
        ``place`` is given, and the fallback when geocoding ``place`` fails.
    settings
        Servers, timeout, retries, backoff and cache; defaults to the environment's.
    progress
        Optional callback ``(stage, fraction)``.

    Returns
    -------
    Network
        The prepared network.

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

    def _key(
        poly: Polygon | None, name: str | None, box_: tuple[float, float, float, float] | None
    ) -> str:
        query_id = "|".join([
            s.overpass_url.rstrip("/"), *OVERPASS_FILTERS,
            poly.wkt if poly is not None else "", name or "", repr(box_),
        ])
        return _cache.cache_key("overpass", LOADER_VERSION, query_id)

    def _download(area: Polygon) -> RawNetwork:
        if progress is not None:
            progress("downloading from Overpass", 0.05)
        log.info("downloading bike network from %s", s.overpass_url)
        status_url = s.overpass_url.rstrip("/") + "/status"

        def _attempt() -> nx.MultiDiGraph:
            # osmnx sleeps 60 s before each request whose status page it cannot
            # reach or read. Look first: an unreachable server then fails at once
            # (and is retried with backoff), and a server without a usable status
            # page is not waited for.
            status = requests.get(
                status_url, timeout=s.timeout_s,
                headers={"User-Agent": ox.settings.http_user_agent},
                hooks={"response": [_raise_for_retryable]},
            )
            lines = status.text.split("\n") if status.ok else []
            word = lines[4].split(" ")[0] if len(lines) > 4 else ""
            ox.settings.overpass_rate_limit = word.isdigit() or word in {"Slot", "Currently"}
            return ox.graph_from_polygon(
                area, custom_filter=list(OVERPASS_FILTERS), simplify=False,
                retain_all=True, truncate_by_edge=True,
            )

        with _osmnx_settings(s):
            g = _with_retries("Overpass download", _attempt, s)
        return _raw_from_osmnx_graph(g)

    key = _key(polygon, place, bbox)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    raw_folder = s.cache_dir / "overpass"
    raw = _cache.load(raw_folder, key) if s.use_cache else None
    source = f"overpass:{place or bbox or 'polygon'}"
    area = polygon
    if not isinstance(raw, RawNetwork) and area is None and place:
        if progress is not None:
            progress(f"geocoding {place}", 0.0)
        try:
            area = geocode_area(place, settings=s)
        except DownloadError as exc:
            if bbox is None:
                raise
            log.warning("%s; using the catalogue's bounding box instead", exc)
            key = _key(None, None, bbox)
            source = f"overpass:{bbox}"
            raw = _cache.load(raw_folder, key) if s.use_cache else None
    if isinstance(raw, RawNetwork):
        timings["download_cache"] = time.perf_counter() - t0
        log.info("using cached download %s", key)
    else:
        if area is None:
            if bbox is None:  # pragma: no cover - guarded above
                msg = "no query area"
                raise ValueError(msg)
            area = bbox_polygon(bbox)
        raw = _download(area)
        timings["download"] = time.perf_counter() - t0
        if s.use_cache:
            _cache.store(raw_folder, key, raw)
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
