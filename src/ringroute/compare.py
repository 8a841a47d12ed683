"""Compare routes: GPX files from any tool, or planned loops, measured like ringroute's loops.

Every route is first map-matched onto the bike network (see
:mod:`ringroute._mapmatch`: a hidden Markov model over the network's directed
edges, solved by Viterbi, with shortest paths between matched edges). The
matched path is then measured with the same functions the planner uses
(:mod:`ringroute._metrics`), so a planned loop and the same loop re-imported
from its GPX get the same numbers:

* **length** of the matched path (router edge lengths) and the raw GPX length
  (sum of the great-circle steps within each segment; gaps between segments
  are not counted);
* **matched share**: the share of the GPX length whose points lie within
  30 m of the matched path, and the **mean deviation** (m) of those points;
* **repeated share**: share of the length on physical ways ridden more than
  once, in either direction (parts of an edge count separately, so a loop that
  starts and ends in the middle of a way is not counted as repeating it);
* **way classes**: metres per router ``way_class``, and grouped as
  ``cycleway`` (cycleways, designated paths, bicycle roads), ``quiet_road``
  (residential and service streets, paved tracks and paths), ``main_road``
  (``tertiary``, ``main_with_cycleway`` and ``main``: roads with through
  traffic, even where they have a cycle lane) and ``unpaved``;
* **sights** of the city catalogue passed within 150 m (which, at which km;
  a sight counts again only after riding at least 300 m outside that radius)
  and the **longest stretch without a sight** (from the start to the first
  sight, between sights and from the last sight to the finish);
* **turns per km** (:func:`ringroute._metrics.count_turns` on the matched
  path), the **riding time** at a given speed, and **elevation gain/loss**
  where the GPX has ``<ele>``: elevations are resampled every 10 m, smoothed
  with a 110 m moving average and summed between summits and valleys that
  differ by more than 3 m (hysteresis), which removes
  GPS/barometer noise without flattening real climbs.

Outputs (CSV, JSON and one HTML report with a Folium map and bar charts) are
written atomically; their names are derived from the input file names reduced
to ``[a-z0-9_-]``, so no user-provided name can reach outside the output folder.
Everything shown in the report is HTML-escaped.

Twin reports (``--twin``) put one ride of each partner city side by side. Each
file's city is inferred from its position: the catalogue whose ``area.bbox``
holds most of its points. A ``--osm`` extract is used for every ride that lies
inside it (the ride keeps its inferred city's sights, if any); other rides are
matched on their city's network (local extract or download). A ride that lies
in no catalogue's area and outside ``--osm`` is refused.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import folium
import numpy as np
from branca.element import Figure
from scipy.spatial import cKDTree

from ringroute import __version__
from ringroute._bike import WAY_CLASSES
from ringroute._geo import LocalProjection, haversine_m_array
from ringroute._gpxread import GPXRoute, TrackSegment, read_gpx
from ringroute._html import Raw as _Raw
from ringroute._html import escape as _e
from ringroute._html import tooltip as _tooltip
from ringroute._io import OutputBatch, batch_or_new
from ringroute._mapmatch import (
    MATCHED_WITHIN_M,
    SEARCH_RADIUS_M,
    MatchedPath,
    Piece,
    build_path,
    dense_points,
    deviations,
    match_track,
    points_near,
)
from ringroute._metrics import class_shares, count_turns, repeated_share
from ringroute._text import LANGS, heading
from ringroute._text import text as _t
from ringroute.cities import City, available_cities, load_city
from ringroute.errors import InputError, OSMDataError
from ringroute.loop import Loop
from ringroute.network import Network, load_network
from ringroute.settings import Settings, get_settings
from ringroute.webmap import ATTRIBUTION_HTML, COLORS, inline_leaflet

log = logging.getLogger("ringroute")

ProgressFn = Callable[[str, float], None]

#: Sights within this distance of the path count as passed.
SIGHT_RADIUS_M = 150.0
#: A sight counts as passed again only after riding this far outside its radius.
SIGHT_REPASS_M = 300.0
MAX_FILES = 50
#: riding speeds (km/h) that time estimates accept (plan and compare alike)
MIN_SPEED_KMH = 3.0
MAX_SPEED_KMH = 60.0
_ELE_STEP_M = 10.0
_ELE_WINDOW = 11  # samples of the moving average (110 m)
_ELE_HYSTERESIS_M = 3.0

#: Reported groups of way classes.
CLASS_GROUPS: dict[str, tuple[str, ...]] = {
    "cycleway": ("cycleway",),
    "quiet_road": ("quiet",),
    "main_road": ("tertiary", "main_with_cycleway", "main"),
    "unpaved": ("unpaved",),
}
GROUP_COLORS: dict[str, str] = {
    "cycleway": "#1a9850", "quiet_road": "#4575b4", "main_road": "#d73027",
    "unpaved": "#8c510a",
}
#: the way class whose name (see :mod:`ringroute._text`) names each group
_GROUP_NAMED_BY: dict[str, str] = {
    "cycleway": "cycleway", "quiet_road": "quiet", "main_road": "main", "unpaved": "unpaved",
}


def _group_name(group: str, lang: str) -> str:
    return heading(_GROUP_NAMED_BY[group], lang)


# ---------------------------------------------------------------- data model
@dataclass(frozen=True, kw_only=True)
class SightPass:
    """A catalogue sight passed by a route.

    Attributes
    ----------
    key
        Catalogue key.
    name
        Display name in the requested language.
    km
        Distance along the route where it is passed closest.
    distance_m
        Distance from the sight to the route there.
    """

    key: str
    name: str
    km: float
    distance_m: float


@dataclass(kw_only=True)
class RouteMetrics:
    """Everything measured about one route.

    Attributes
    ----------
    name
        The route's name (from the GPX, or given).
    source
        Input file name, or ``"plan"`` for planned loops.
    city
        The city whose sights were looked for, if any.
    network_source
        The network the route was matched on.
    n_points
        Points in the GPX (or vertices of the planned polyline).
    gpx_length_m
        Length of the GPX itself.
    length_m
        Length of the matched path on the network.
    matched_share
        Share of the GPX length within 30 m of the matched path.
    mean_deviation_m
        Mean distance of the GPX from the matched path.
    runs
        Connected parts of the matched path (1 unless the GPX has gaps the
        network cannot bridge).
    repeated_share
        Share of the length on ways ridden more than once (either direction).
    way_class_m
        Metres per way class (:data:`WAY_CLASSES`).
    turns
        Turns (heading changes of more than 50° within 40 m).
    sights
        Sights passed, in riding order.
    longest_without_sight_km
        Longest stretch without passing a sight; ``None`` without a catalogue.
    speed_kmh
        Speed of the riding time estimate.
    ele_gain_m, ele_loss_m
        Smoothed elevation gain and loss; ``None`` without ``<ele>`` data.
    track
        ``(lat, lon)`` lists of each GPX segment (for maps).
    path
        The matched path.
    """

    name: str
    source: str
    city: City | None
    network_source: str
    n_points: int
    gpx_length_m: float
    length_m: float
    matched_share: float
    mean_deviation_m: float
    runs: int
    repeated_share: float
    way_class_m: dict[str, float]
    turns: int
    sights: list[SightPass]
    longest_without_sight_km: float | None
    speed_kmh: float
    ele_gain_m: float | None = None
    ele_loss_m: float | None = None
    track: list[tuple[list[float], list[float]]] = field(default_factory=list, repr=False)
    path: MatchedPath = field(default_factory=MatchedPath, repr=False)

    @property
    def turns_per_km(self) -> float:
        """Turns per kilometre of the matched length."""
        return self.turns / (self.length_m / 1000.0) if self.length_m > 0 else 0.0

    @property
    def riding_time_s(self) -> float:
        """Riding time of the matched length at :attr:`speed_kmh`."""
        return self.length_m / (self.speed_kmh / 3.6)

    def way_class_share(self) -> dict[str, float]:
        """Share of the length per way class (all of :data:`WAY_CLASSES`, others appended)."""
        total = sum(self.way_class_m.values()) or 1.0
        keys = [*WAY_CLASSES, *sorted(k for k in self.way_class_m if k not in WAY_CLASSES)]
        return {k: self.way_class_m.get(k, 0.0) / total for k in keys}

    def group_share(self) -> dict[str, float]:
        """Share of the length per group of :data:`CLASS_GROUPS` (unknown classes: quiet)."""
        shares = self.way_class_share()
        out = {g: sum(shares.get(c, 0.0) for c in members) for g, members in CLASS_GROUPS.items()}
        known = {c for members in CLASS_GROUPS.values() for c in members}
        out["quiet_road"] += sum(v for k, v in shares.items() if k not in known)
        return out

    @property
    def distinct_sights(self) -> list[str]:
        """Keys of the sights passed, each once, in order of first passing."""
        return list(dict.fromkeys(s.key for s in self.sights))

    def to_json(self) -> dict[str, object]:
        """JSON-ready metrics (no geometry)."""
        return {
            "name": self.name,
            "file": self.source,
            "city": self.city.key if self.city else None,
            "network": self.network_source,
            "points": self.n_points,
            "gpx_length_m": round(self.gpx_length_m, 1),
            "length_m": round(self.length_m, 1),
            "matched_share": round(self.matched_share, 4),
            "mean_deviation_m": (round(self.mean_deviation_m, 2)
                                 if math.isfinite(self.mean_deviation_m) else None),
            "runs": self.runs,
            "repeated_share": round(self.repeated_share, 4),
            "way_class_share": {k: round(v, 4) for k, v in self.way_class_share().items()},
            "way_class_group_share": {k: round(v, 4) for k, v in self.group_share().items()},
            "turns": self.turns,
            "turns_per_km": round(self.turns_per_km, 2),
            "sights": [{"key": s.key, "name": s.name, "km": round(s.km, 2),
                        "distance_m": round(s.distance_m, 1)} for s in self.sights],
            "sights_passed": len(self.distinct_sights),
            "longest_without_sight_km": (None if self.longest_without_sight_km is None
                                         else round(self.longest_without_sight_km, 2)),
            "speed_kmh": self.speed_kmh,
            "riding_time_s": round(self.riding_time_s),
            "riding_time": _hm(self.riding_time_s),
            "elevation_gain_m": None if self.ele_gain_m is None else round(self.ele_gain_m, 1),
            "elevation_loss_m": None if self.ele_loss_m is None else round(self.ele_loss_m, 1),
        }


def _hm(seconds: float) -> str:
    minutes = round(seconds / 60.0)
    return f"{minutes // 60}:{minutes % 60:02d}"


# ---------------------------------------------------------------- measuring
def _repeated(network: Network, pieces: Sequence[Piece]) -> float:
    """:func:`repeated_share` over pieces split where other pieces of the same way end."""
    r = network.router
    spans: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for p in pieces:
        a, b = int(r.src[p.edge]), int(r.dst[p.edge])
        length = float(r.length[p.edge])
        lo, hi = (p.start_m, p.end_m) if a < b else (length - p.end_m, length - p.start_m)
        spans.setdefault((min(a, b), max(a, b)), []).append((lo, hi))
    keys: list[tuple[int, int, float, float]] = []
    lengths: list[float] = []
    for way, items in spans.items():
        cuts = sorted({round(x, 3) for lo, hi in items for x in (lo, hi)})
        for lo, hi in items:
            inner = [c for c in cuts if lo + 1e-3 < c < hi - 1e-3]
            bounds = [lo, *inner, hi]
            for x0, x1 in pairwise(bounds):
                keys.append((way[0], way[1], round(x0, 1), round(x1, 1)))
                lengths.append(x1 - x0)
    return repeated_share(keys, lengths)


def _sight_passes(network: Network, path: MatchedPath, city: City | None,
                  lang: str) -> tuple[list[SightPass], float | None]:
    length_km = path.length_m / 1000.0
    if city is None:
        return [], None
    px, py, pc = dense_points(network, path)
    passes: list[SightPass] = []
    if len(px):
        tree = cKDTree(np.column_stack([px, py]))
        proj = network.router.proj
        for s in city.sights:
            sx, sy = proj.to_xy(s.lat, s.lon)
            idx = np.asarray(tree.query_ball_point([float(sx), float(sy)], SIGHT_RADIUS_M),
                             dtype=np.int64)
            if len(idx) == 0:
                continue
            order = np.argsort(pc[idx], kind="stable")
            idx = idx[order]
            d = np.hypot(px[idx] - float(sx), py[idx] - float(sy))
            breaks = np.nonzero(np.diff(pc[idx]) > SIGHT_REPASS_M)[0] + 1
            for group in np.split(np.arange(len(idx)), breaks):
                j = group[int(np.argmin(d[group]))]
                passes.append(SightPass(key=s.key, name=s.name(lang),
                                        km=float(pc[idx[j]]) / 1000.0,
                                        distance_m=float(d[j])))
    passes.sort(key=lambda p: (p.km, p.key))
    marks = [0.0, *(p.km for p in passes), length_km]
    gap = max((b - a for a, b in pairwise(marks)), default=length_km)
    return passes, max(0.0, gap)


def _elevation(segments: Sequence[TrackSegment]) -> tuple[float, float] | None:
    """Smoothed elevation gain and loss (m), or ``None`` without elevations."""
    gain = loss = 0.0
    seen = False
    for seg in segments:
        ok = np.isfinite(seg.ele)
        if int(ok.sum()) < 2:
            continue
        proj = LocalProjection(float(np.mean(seg.lat)), float(np.mean(seg.lon)))
        x, y = proj.to_xy(seg.lat, seg.lon)
        pos = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])[ok]
        ele = seg.ele[ok]
        seen = True
        if pos[-1] <= pos[0]:
            continue
        s = np.arange(pos[0], pos[-1] + 1e-9, _ELE_STEP_M)
        samples = np.interp(s, pos, ele)
        kernel = np.ones(min(_ELE_WINDOW, len(samples)))
        smooth = (np.convolve(samples, kernel, mode="same")
                  / np.convolve(np.ones_like(samples), kernel, mode="same"))
        g, lo = _hysteresis(smooth.tolist(), _ELE_HYSTERESIS_M)
        gain += g
        loss += lo
    return (gain, loss) if seen else None


def _hysteresis(values: Sequence[float], threshold: float) -> tuple[float, float]:
    """Rises and falls between turning points (summits, valleys) confirmed by ``threshold``.

    A summit counts once the profile has fallen more than ``threshold`` below
    it (a valley likewise), so wiggles smaller than that are ignored while real
    climbs are counted in full, up to their summit.
    """
    gain = loss = 0.0
    if not values:
        return gain, loss
    anchor = extreme = values[0]  # last turning point; extreme of the current trend
    trend = 0  # +1 climbing, -1 descending, 0 not yet known
    for v in values[1:]:
        if trend == 0:
            if abs(v - anchor) > threshold:
                trend, extreme = (1 if v > anchor else -1), v
        elif trend == 1:
            if v > extreme:
                extreme = v
            elif extreme - v > threshold:
                gain += extreme - anchor
                anchor, extreme, trend = extreme, v, -1
        elif v < extreme:
            extreme = v
        elif v - extreme > threshold:
            loss += anchor - extreme
            anchor, extreme, trend = extreme, v, 1
    if trend == 1:
        gain += extreme - anchor
    elif trend == -1:
        loss += anchor - extreme
    return gain, loss


def measure_path(
    network: Network,
    path: MatchedPath,
    *,
    name: str,
    source: str,
    city: City | None = None,
    segments: Sequence[TrackSegment] = (),
    speed_kmh: float = 18.0,
    lang: str = "en",
) -> RouteMetrics:
    """Measure a path on ``network`` (and the GPX it came from, if any).

    Parameters
    ----------
    network
        The network the path lies on.
    path
        The matched (or planned) path.
    name, source
        Route name and input name.
    city
        Catalogue whose sights are looked for.
    segments
        The GPX segments; without them the path's own polyline stands for the GPX.
    speed_kmh
        Speed for the riding time.
    lang
        Language of sight names.

    Returns
    -------
    RouteMetrics
        The metrics.
    """
    r = network.router
    pieces = path.pieces
    lengths = [p.length_m for p in pieces]
    classes = [r.way_class[p.edge] for p in pieces]
    if segments:
        track = [(seg.lat.tolist(), seg.lon.tolist()) for seg in segments]
        gpx_len = float(sum(
            haversine_m_array(seg.lat[:-1], seg.lon[:-1], seg.lat[1:], seg.lon[1:]).sum()
            for seg in segments))
        dev = deviations(network, path, [s.lat for s in segments], [s.lon for s in segments])
        matched = float(np.mean(dev <= MATCHED_WITHIN_M)) if len(dev) else 0.0
        finite = dev[np.isfinite(dev)]
        mean_dev = float(finite.mean()) if len(finite) else math.inf
        n_points = sum(len(s.lat) for s in segments)
        ele = _elevation(segments)
    else:
        track = list(zip(path.lat, path.lon, strict=True))
        gpx_len = float(sum(
            haversine_m_array(np.asarray(la[:-1]), np.asarray(lo[:-1]), np.asarray(la[1:]),
                              np.asarray(lo[1:])).sum()
            for la, lo in zip(path.lat, path.lon, strict=True)))
        matched, mean_dev = 1.0, 0.0
        n_points = sum(len(la) for la in path.lat)
        ele = None
    turns = sum(count_turns(la, lo) for la, lo in zip(path.lat, path.lon, strict=True))
    passes, gap = _sight_passes(network, path, city, lang)
    return RouteMetrics(
        name=name, source=source, city=city, network_source=network.source,
        n_points=n_points, gpx_length_m=gpx_len, length_m=float(sum(lengths)),
        matched_share=matched, mean_deviation_m=mean_dev, runs=len(path.runs),
        repeated_share=_repeated(network, pieces),
        way_class_m=class_shares(classes, lengths), turns=turns, sights=passes,
        longest_without_sight_km=gap, speed_kmh=speed_kmh,
        ele_gain_m=None if ele is None else ele[0], ele_loss_m=None if ele is None else ele[1],
        track=track, path=path,
    )


def _check_speed(speed_kmh: float) -> None:
    if not (math.isfinite(speed_kmh) and MIN_SPEED_KMH <= speed_kmh <= MAX_SPEED_KMH):
        msg = (f"--speed {speed_kmh:.12g} is out of range: valid is {MIN_SPEED_KMH:g} to "
               f"{MAX_SPEED_KMH:g} km/h")
        raise InputError(msg)


def compare_route(
    route: GPXRoute,
    network: Network,
    *,
    city: City | None = None,
    speed_kmh: float = 18.0,
    lang: str = "en",
) -> RouteMetrics:
    """Map-match one GPX route onto ``network`` and measure it.

    Parameters
    ----------
    route
        The route as read by :func:`ringroute._gpxread.read_gpx`.
    network
        The bike network.
    city
        Catalogue whose sights are looked for (``None``: no sight metrics).
    speed_kmh
        Speed for the riding time.
    lang
        Language of sight names.

    Returns
    -------
    RouteMetrics
        The metrics.

    Raises
    ------
    InputError
        If the route follows no way of the network (no point, or too few points,
        within :data:`~ringroute._mapmatch.SEARCH_RADIUS_M` of it).
    """
    _check_speed(speed_kmh)
    lat = np.concatenate([s.lat for s in route.segments])
    lon = np.concatenate([s.lon for s in route.segments])
    seg_id = np.repeat(np.arange(len(route.segments), dtype=np.int64),
                       [len(s.lat) for s in route.segments])
    path = match_track(network, lat, lon, seg_id)
    if not path.runs and len(lat) and np.ptp(lat) + np.ptp(lon) < 1e-5:
        msg = f"{route.source!r} has no length: all its points lie within about a metre"
        raise InputError(msg)
    if not path.runs:
        s, w, n, e = network.bbox
        near = points_near(network, lat, lon)
        where = (f"{Path(network.source).name!r} (lat {s:.3f}..{n:.3f}, "
                 f"lon {w:.3f}..{e:.3f})")
        if near:
            verb = "lies" if near == 1 else "lie"
            msg = (f"{route.source!r} follows no way of the loaded network: only {near} of "
                   f"its {len(lat)} points {verb} within {SEARCH_RADIUS_M:.0f} m of a "
                   f"rideable way of {where}, too few to trace a path")
        else:
            msg = (f"{route.source!r} lies off the loaded network: no point is within "
                   f"{SEARCH_RADIUS_M:.0f} m of a rideable way of {where}")
        raise InputError(msg)
    m = measure_path(network, path, name=route.name, source=route.source, city=city,
                     segments=route.segments, speed_kmh=speed_kmh, lang=lang)
    log.info("%s: matched %.1f%% of %.2f km, mean deviation %.1f m", route.source,
             100 * m.matched_share, m.gpx_length_m / 1000, m.mean_deviation_m)
    if m.matched_share < 0.8:
        log.warning("%s: only %.0f%% of the route lies within %.0f m of the bike network; "
                    "its metrics describe the matched path", route.source,
                    100 * m.matched_share, MATCHED_WITHIN_M)
    return m


def compare_loops(
    loops: Sequence[Loop],
    network: Network,
    *,
    city: City | None = None,
    speed_kmh: float = 18.0,
    lang: str = "en",
    names: Sequence[str] | None = None,
) -> list[RouteMetrics]:
    """Measure planned loops exactly like compared GPX routes (no matching needed).

    Parameters
    ----------
    loops
        Loops from :func:`ringroute.loop.plan_loops` on ``network``.
    network
        Their network.
    city
        Catalogue whose sights are looked for.
    speed_kmh
        Speed for the riding time.
    lang
        Language of names.
    names
        Route names; default "Route", "Alternative 1", ….

    Returns
    -------
    list of RouteMetrics
        One per loop, in order.
    """
    _check_speed(speed_kmh)
    r = network.router
    out: list[RouteMetrics] = []
    for i, loop in enumerate(loops):
        pieces = []
        for u, v, _k in loop.edges:
            e = r.edge_index(r.index[u], r.index[v])
            pieces.append(Piece(e, 0.0, float(r.length[e])))
        path = build_path(network, [pieces])
        if names is not None and i < len(names):
            name = names[i]
        else:
            name = _t("route", lang) if i == 0 else f"{_t('alternative', lang)} {i}"
        m = measure_path(network, path, name=name, source="plan", city=city,
                         speed_kmh=speed_kmh, lang=lang)
        ele = getattr(loop, "ele", None)
        if ele:
            seg = TrackSegment(lat=np.asarray(loop.lat, dtype=float),
                               lon=np.asarray(loop.lon, dtype=float),
                               ele=np.asarray([math.nan if v is None else v for v in ele],
                                              dtype=float))
            gl = _elevation([seg]) if len(seg.ele) == len(seg.lat) else None
            if gl is not None:
                m.ele_gain_m, m.ele_loss_m = gl
        out.append(m)
    return out


# ---------------------------------------------------------------- the job
@dataclass(frozen=True, kw_only=True)
class CompareRequest:
    """What to compare; mirrors the options of ``ringroute compare``."""

    files: tuple[Path, ...]
    city: str | None = None
    osm_path: Path | None = None
    out_dir: Path = Path("maps")
    speed_kmh: float = 18.0
    lang: str = "en"
    twin: bool = False
    download: bool = True
    offline_map: bool = False


@dataclass(kw_only=True)
class CompareResult:
    """Routes measured and files written."""

    routes: list[RouteMetrics]
    city: City | None = None
    twin: bool = False
    speed_kmh: float = 18.0
    lang: str = "en"
    written: list[Path] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The ``--json`` document (the JSON file plus the list of files written)."""
        doc = report_document(self.routes, twin=self.twin, speed_kmh=self.speed_kmh,
                              city=self.city)
        doc["files"] = [str(p) for p in self.written]
        return doc

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Header and rows of the terminal table (plain text, not markup)."""
        return summary_table(self.routes, lang=self.lang)


def report_document(
    metrics: Sequence[RouteMetrics],
    *,
    twin: bool = False,
    speed_kmh: float = 18.0,
    city: City | None = None,
) -> dict[str, object]:
    """The JSON document of a comparison."""
    cities = sorted({m.city.key for m in metrics if m.city is not None})
    return {
        "ringroute": __version__,
        "kind": "twin" if twin else "compare",
        "city": city.key if city else (cities[0] if len(cities) == 1 and not twin else None),
        "speed_kmh": speed_kmh,
        "attribution": "© OpenStreetMap contributors, ODbL 1.0",
        "routes": [m.to_json() for m in metrics],
    }


def summary_table(metrics: Sequence[RouteMetrics], *,
                  lang: str = "en") -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per route (plain text)."""
    header = ["#", "route", "km", "GPX km", "matched", "dev m", "ridden twice", "cycleway",
              "quiet", "main", "unpaved", "turns/km", "sights", "max gap km", "time",
              "climb m"]
    rows: list[list[str]] = []
    for i, m in enumerate(metrics):
        g = m.group_share()
        rows.append([
            str(i + 1), m.name, f"{m.length_m / 1000:.2f}", f"{m.gpx_length_m / 1000:.2f}",
            f"{m.matched_share:.1%}", f"{m.mean_deviation_m:.1f}", f"{m.repeated_share:.1%}",
            f"{g['cycleway']:.0%}", f"{g['quiet_road']:.0%}", f"{g['main_road']:.0%}",
            f"{g['unpaved']:.0%}", f"{m.turns_per_km:.1f}",
            str(len(m.distinct_sights)) if m.city else "–",
            "–" if m.longest_without_sight_km is None else f"{m.longest_without_sight_km:.1f}",
            _hm(m.riding_time_s),
            "–" if m.ele_gain_m is None else f"{m.ele_gain_m:.0f}",
        ])
    return header, rows


def _validate(req: CompareRequest) -> None:
    if not req.files:
        msg = "no GPX files given"
        raise InputError(msg)
    if len(req.files) > MAX_FILES:
        msg = f"{len(req.files)} files given: at most {MAX_FILES} can be compared at once"
        raise InputError(msg)
    _check_speed(req.speed_kmh)
    if req.lang not in LANGS:
        msg = f"--lang {req.lang!r} is not supported: valid are {', '.join(LANGS)}"
        raise InputError(msg)
    if req.twin:
        if len(req.files) != 2:
            msg = f"--twin compares exactly 2 rides (one per city); {len(req.files)} given"
            raise InputError(msg)
        if req.city:
            msg = ("--twin infers each ride's city from where it lies; drop --city "
                   "(use --osm for a ride outside the catalogues' areas)")
            raise InputError(msg)


def _slug(text: str, fallback: str = "route") -> str:
    stem = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return stem[:40].strip("-_") or fallback


def output_stem(files: Sequence[Path], *, twin: bool = False) -> str:
    """File-name stem of the outputs, made of ``[a-z0-9_-]`` only (no path separators)."""
    names = [_slug(Path(f).stem) for f in files]
    if twin:
        return "twin-" + "-".join(names[:2])
    stem = "compare-" + "-".join(names[:3])
    if len(names) > 3:
        stem += f"-and-{len(names) - 3}-more"
    return stem


def _points_in(route: GPXRoute, bbox: tuple[float, float, float, float]) -> float:
    s, w, n, e = bbox
    lat = np.concatenate([seg.lat for seg in route.segments])
    lon = np.concatenate([seg.lon for seg in route.segments])
    return float(np.mean((lat >= s) & (lat <= n) & (lon >= w) & (lon <= e)))


def infer_city(route: GPXRoute, *, settings: Settings | None = None) -> City | None:
    """The catalogue whose ``area.bbox`` holds most of the route's points (at least half)."""
    s = settings or get_settings()
    best: tuple[float, float, City] | None = None
    for key in available_cities(settings=s):
        city = load_city(key, settings=s)
        share = _points_in(route, city.bbox)
        south, west, north, east = city.bbox
        area = (north - south) * (east - west)
        if share >= 0.5 and (best is None or (share, -area) > (best[0], best[1])):
            best = (share, -area, city)
    return best[2] if best else None


def _check_region(city: City, network: Network) -> None:
    s, w, n, e = network.bbox
    cs, cw, cn, ce = city.bbox
    if n < cs or s > cn or e < cw or w > ce:
        msg = (f"the OSM extract {network.source!r} covers lat {s:.2f}..{n:.2f}, "
               f"lon {w:.2f}..{e:.2f}, which is not in {city.name('en')} "
               f"(lat {cs:.2f}..{cn:.2f}, lon {cw:.2f}..{ce:.2f})")
        raise OSMDataError(msg)


def run_compare(
    req: CompareRequest,
    *,
    settings: Settings | None = None,
    progress: ProgressFn | None = None,
) -> CompareResult:
    """Read, match and measure GPX routes; write CSV, JSON and an HTML report.

    All files are read (and refused, if unreadable) before any network is
    loaded; the outputs are written only after every route was measured, each
    atomically, so on any error nothing is written.

    Without ``--city`` and ``--osm`` the city is inferred from the routes'
    position (all must lie in the same catalogue's area). With ``--osm`` but
    no city, the routes are measured without sights.

    Raises
    ------
    InputError
        For bad input (exit code 2 in the CLI), among them
        :class:`~ringroute.errors.GPXImportError` for unreadable GPX files.
    ringroute.errors.RingrouteRuntimeError
        For failures of downloads or output (exit code 1).
    """
    s = settings or get_settings()
    _validate(req)
    routes: list[GPXRoute] = []
    for i, f in enumerate(req.files):
        if progress is not None:
            progress(f"reading {Path(f).name}", 0.05 * i / len(req.files))
        routes.append(read_gpx(Path(f)))
    if req.twin:
        metrics = _run_twin(req, routes, s, progress)
        city = None
    else:
        if req.city:
            city = load_city(req.city, settings=s)
        elif req.osm_path is None:
            found = {r.source: infer_city(r, settings=s) for r in routes}
            keys = {c.key for c in found.values() if c is not None}
            lost = [name for name, c in found.items() if c is None]
            if lost or len(keys) != 1:
                msg = ("no --city and no --osm given, and "
                       + (f"{lost[0]!r} lies in no city catalogue's area" if lost
                          else "the routes lie in different cities (" + ", ".join(sorted(keys))
                          + "); use --twin for two cities")
                       + ": give --city or --osm")
                raise InputError(msg)
            city = next(c for c in found.values() if c is not None)
        else:
            city = None
        network = load_network(city, osm_path=req.osm_path, settings=s, download=req.download,
                               progress=progress)
        if city is not None and req.osm_path is not None:
            _check_region(city, network)
        metrics = []
        for i, route in enumerate(routes):
            if progress is not None:
                progress(f"matching {route.source}", 0.3 + 0.6 * i / len(routes))
            metrics.append(compare_route(route, network, city=city, speed_kmh=req.speed_kmh,
                                         lang=req.lang))
    result = CompareResult(routes=metrics, city=city, twin=req.twin, speed_kmh=req.speed_kmh,
                           lang=req.lang)
    if progress is not None:
        progress("writing report", 0.95)
    result.written = write_report(metrics, req.out_dir, output_stem(req.files, twin=req.twin),
                                  lang=req.lang, twin=req.twin, speed_kmh=req.speed_kmh,
                                  city=city, offline=req.offline_map)
    if progress is not None:
        progress("done", 1.0)
    return result


def _run_twin(req: CompareRequest, routes: Sequence[GPXRoute], s: Settings,
              progress: ProgressFn | None) -> list[RouteMetrics]:
    cities = [infer_city(r, settings=s) for r in routes]
    given: Network | None = None
    if req.osm_path is not None:
        given = load_network(None, osm_path=req.osm_path, settings=s, progress=progress)
    on_given = [given is not None and _points_in(r, given.bbox) >= 0.5 for r in routes]
    for route, city, inside in zip(routes, cities, on_given, strict=True):
        if city is None and not inside:
            where = " or the --osm extract" if given is not None else ""
            msg = (f"{route.source!r} lies in no city catalogue's area{where}: "
                   "pass the extract of its area with --osm")
            raise InputError(msg)
    by_city: dict[str, Network] = {}
    metrics: list[RouteMetrics] = []
    for i, (route, city, inside) in enumerate(zip(routes, cities, on_given, strict=True)):
        if inside and given is not None:
            network = given
        elif city is not None:
            if city.key not in by_city:
                by_city[city.key] = load_network(city, settings=s, download=req.download,
                                                 progress=progress)
            network = by_city[city.key]
        else:  # pragma: no cover - such a route was refused above
            msg = f"no network for {route.source!r}"
            raise RuntimeError(msg)
        if progress is not None:
            progress(f"matching {route.source}", 0.3 + 0.3 * i)
        metrics.append(compare_route(route, network, city=city, speed_kmh=req.speed_kmh,
                                     lang=req.lang))
    if len({m.city.key if m.city else m.network_source for m in metrics}) == 1:
        log.info("both rides of the twin report lie in the same city")
    return metrics


# ---------------------------------------------------------------- outputs
def _csv_cell(value: object) -> str:
    """Text for a CSV cell; text that spreadsheets would run as a formula is quoted with '."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) \
        else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv(metrics: Sequence[RouteMetrics]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["name", "file", "city", "points", "gpx_length_km", "length_km", "matched_share",
              "mean_deviation_m", "runs", "repeated_share",
              *(f"{g}_share" for g in CLASS_GROUPS), *(f"class_{c}_share" for c in WAY_CLASSES),
              "turns", "turns_per_km", "sights_passed", "sights", "longest_without_sight_km",
              "speed_kmh", "riding_time", "elevation_gain_m", "elevation_loss_m"]
    w.writerow(header)
    for m in metrics:
        g = m.group_share()
        c = m.way_class_share()
        row: list[object] = [
            m.name, m.source, m.city.key if m.city else "", m.n_points,
            f"{m.gpx_length_m / 1000:.3f}", f"{m.length_m / 1000:.3f}",
            f"{m.matched_share:.4f}", f"{m.mean_deviation_m:.2f}", m.runs,
            f"{m.repeated_share:.4f}", *(f"{g[k]:.4f}" for k in CLASS_GROUPS),
            *(f"{c[k]:.4f}" for k in WAY_CLASSES), m.turns, f"{m.turns_per_km:.2f}",
            len(m.distinct_sights) if m.city else "",
            "; ".join(f"{p.key}@{p.km:.1f}" for p in m.sights),
            "" if m.longest_without_sight_km is None else f"{m.longest_without_sight_km:.2f}",
            f"{m.speed_kmh:g}", _hm(m.riding_time_s),
            "" if m.ele_gain_m is None else f"{m.ele_gain_m:.0f}",
            "" if m.ele_loss_m is None else f"{m.ele_loss_m:.0f}",
        ]
        w.writerow([_csv_cell(v) for v in row])
    return buf.getvalue()


def _route_map(metrics: Sequence[RouteMetrics], colors: Sequence[str], lang: str,
               offline: bool = False) -> str:
    """A standalone Folium page with one toggleable layer per route."""
    lats = [x for m in metrics for la, _ in m.track for x in la]
    lons = [x for m in metrics for _, lo in m.track for x in lo]
    center = (float(np.mean(lats)), float(np.mean(lons))) if lats else (0.0, 0.0)
    fmap = folium.Map(location=center, zoom_start=13, tiles=None, control_scale=True)
    if offline:
        inline_leaflet(fmap)
    folium.TileLayer("OpenStreetMap", attr=ATTRIBUTION_HTML, name="OpenStreetMap").add_to(fmap)
    for n, (m, color) in enumerate(zip(metrics, colors, strict=True)):
        label = f"{n + 1}. {m.name}: {m.gpx_length_m / 1000:.1f} km"
        layer = folium.FeatureGroup(name=_e(label), show=True)
        for la, lo in m.track:
            if len(la) < 2:
                continue
            line = folium.PolyLine(  # type: ignore[no-untyped-call]
                list(zip(la, lo, strict=True)), color=color, weight=5, opacity=0.8,
                class_name=f"rr-track rr-track-{n}")
            _tooltip(_e(label)).add_to(line)
            line.add_to(layer)
        for la, lo in zip(m.path.lat, m.path.lon, strict=True):
            line = folium.PolyLine(  # type: ignore[no-untyped-call]
                list(zip(la, lo, strict=True)), color="#222", weight=2, opacity=0.7,
                dash_array="4 6", class_name=f"rr-matched rr-matched-{n}")
            _tooltip(_e(f"{label} ({_t('matched_path', lang)})")).add_to(line)
            line.add_to(layer)
        if m.track and m.track[0][0]:
            start = folium.CircleMarker(
                (m.track[0][0][0], m.track[0][1][0]), radius=7, color="#111", weight=2,
                fill=True, fill_color=color, fill_opacity=1.0)
            _tooltip(_e(f"{_t('start', lang)}: {m.name}")).add_to(start)
            start.add_to(layer)
        if m.city is not None:
            by_key = {s.key: s for s in m.city.sights}
            for p in m.sights:
                sight = by_key[p.key]
                mk = folium.CircleMarker(
                    (sight.lat, sight.lon), radius=6, color=color, weight=3, fill=True,
                    fill_color="#fff", fill_opacity=1.0)
                _tooltip(_e(f"{p.name} — {_t('at_km', lang)} {p.km:.1f}")).add_to(mk)
                mk.add_to(layer)
        layer.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    if lats:
        fmap.fit_bounds([(min(lats), min(lons)), (max(lats), max(lons))], padding=(20, 20))
    root = fmap.get_root()
    if not isinstance(root, Figure):  # pragma: no cover - folium always makes one
        msg = "folium map without a page"
        raise TypeError(msg)
    note = (f'<div class="rr-attribution" style="position:fixed;top:10px;left:60px;'
            f'z-index:1000;background:#fff;padding:2px 6px;font:11px sans-serif">'
            f"{ATTRIBUTION_HTML}</div>")
    _Raw(note).add_to(root.html, name="rr_attribution")
    return str(root.render())


def _charts(metrics: Sequence[RouteMetrics], colors: Sequence[str],
            lang: str) -> list[tuple[str, str]]:
    """Bar charts as ``(caption HTML, base64 PNG)``; texts in images are numbers only."""
    from matplotlib.figure import Figure as MplFigure  # noqa: PLC0415 - slow import

    ticks = [f"#{i + 1}" for i in range(len(metrics))]
    x = np.arange(len(metrics))

    def render(fig: MplFigure) -> str:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return base64.b64encode(buf.getvalue()).decode("ascii")

    def bars(values: Sequence[float], fmt: str) -> str:
        fig = MplFigure(figsize=(max(3.0, 0.7 * len(metrics) + 1.5), 2.4))
        ax = fig.add_subplot()
        rects = ax.bar(x, values, color=list(colors), width=0.6)
        ax.bar_label(rects, labels=[fmt.format(v) for v in values], fontsize=8, padding=2)
        ax.set_xticks(x, ticks)
        ax.set_ylim(0, max([*values, 1e-9]) * 1.25)
        ax.spines[["top", "right"]].set_visible(False)
        return render(fig)

    out: list[tuple[str, str]] = []
    out.append((_e(_t("length_km", lang)), bars([m.length_m / 1000 for m in metrics], "{:.1f}")))
    out.append((_e(_t("repeated", lang)) + " (%)",
                bars([100 * m.repeated_share for m in metrics], "{:.0f}")))
    # way class groups, stacked
    fig = MplFigure(figsize=(max(3.0, 0.7 * len(metrics) + 1.5), 2.4))
    ax = fig.add_subplot()
    bottom = np.zeros(len(metrics))
    for g in CLASS_GROUPS:
        vals = np.array([100 * m.group_share()[g] for m in metrics])
        ax.bar(x, vals, bottom=bottom, color=GROUP_COLORS[g], width=0.6)
        bottom += vals
    ax.set_xticks(x, ticks)
    ax.set_ylim(0, 100)
    ax.spines[["top", "right"]].set_visible(False)
    legend = " · ".join(
        f'<span style="color:{GROUP_COLORS[g]}">&#9632;</span> {_e(_group_name(g, lang))}'
        for g in CLASS_GROUPS)
    out.append((f"{_e(_t('classes', lang))} (%): {legend}", render(fig)))
    out.append((_e(_t("turns", lang)), bars([m.turns_per_km for m in metrics], "{:.1f}")))
    if any(m.city is not None for m in metrics):
        out.append((_e(_t("sights_passed", lang)),
                    bars([float(len(m.distinct_sights)) for m in metrics], "{:.0f}")))
        out.append((_e(_t("gap", lang)), bars([m.longest_without_sight_km or 0.0 for m in metrics],
                                          "{:.1f}")))
    out.append((f"{_e(_t('time', lang))} (h)",
                bars([m.riding_time_s / 3600 for m in metrics], "{:.2f}")))
    if any(m.ele_gain_m is not None for m in metrics):
        out.append((_e(_t("climb", lang)),
                    bars([m.ele_gain_m or 0.0 for m in metrics], "{:.0f}")))
    out.append((_e(_t("matched", lang)) + " (%)",
                bars([100 * m.matched_share for m in metrics], "{:.0f}")))
    return out


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:12px 18px;
color:#222}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:22px 0 8px}
iframe.rr-map{width:100%;height:520px;border:1px solid #bbb;border-radius:4px}
.rr-twin{display:grid;grid-template-columns:1fr 1fr;gap:14px}
@media (max-width:800px){.rr-twin{grid-template-columns:1fr}}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;
text-align:right}th:first-child,td:first-child,td.rr-name{text-align:left}
.rr-charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}
figcaption{font-size:12px;max-width:360px}.rr-swatch{font-size:16px}
.rr-attribution{font-size:12px;color:#444}
"""


def _metric_rows(metrics: Sequence[RouteMetrics], lang: str) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = []

    def add(key: str, values: list[str], *, name: str | None = None) -> None:
        rows.append((name or _t(key, lang), values))

    add("file", [m.source for m in metrics])
    add("city", [m.city.name(lang) if m.city else "–" for m in metrics])
    add("length_km", [f"{m.length_m / 1000:.2f}" for m in metrics])
    add("gpx_length", [f"{m.gpx_length_m / 1000:.2f}" for m in metrics])
    add("matched", [f"{m.matched_share:.1%}" for m in metrics])
    add("deviation", [f"{m.mean_deviation_m:.1f}" for m in metrics])
    add("repeated", [f"{m.repeated_share:.1%}" for m in metrics])
    for g in CLASS_GROUPS:
        add(g, [f"{m.group_share()[g]:.1%}" for m in metrics], name=_group_name(g, lang))
    add("turns", [f"{m.turns_per_km:.1f}" for m in metrics])
    add("sights_passed", [str(len(m.distinct_sights)) if m.city else "–" for m in metrics])
    add("gap", ["–" if m.longest_without_sight_km is None else f"{m.longest_without_sight_km:.1f}"
                for m in metrics])
    add("time", [f"{_hm(m.riding_time_s)} ({_t('speed', lang)} {m.speed_kmh:g} km/h)"
                 for m in metrics])
    add("climb", ["–" if m.ele_gain_m is None else
                  f"{m.ele_gain_m:.0f} / {m.ele_loss_m or 0.0:.0f}" for m in metrics])
    return rows


def _iframe(doc: str, title: str) -> str:
    return (f'<iframe class="rr-map" title="{_e(title)}" loading="lazy" '
            f'sandbox="allow-scripts allow-popups allow-popups-to-escape-sandbox" '
            f'srcdoc="{html.escape(doc, quote=True)}"></iframe>')


def render_report(
    metrics: Sequence[RouteMetrics],
    *,
    lang: str = "en",
    title: str | None = None,
    twin: bool = False,
    offline: bool = False,
) -> str:
    """The HTML report: map(s), metrics table, sights and bar charts.

    Every text from the inputs is escaped; maps are standalone Folium pages
    embedded with ``<iframe srcdoc>`` (escaped as an attribute value).
    """
    colors = [COLORS[i % len(COLORS)] for i in range(len(metrics))]
    heading = title or (_t("twin", lang) if twin else _t("compare_title", lang))
    parts = [f'<!DOCTYPE html>\n<html lang="{_e(lang)}"><head><meta charset="utf-8">'
             '<meta name="viewport" content="width=device-width, initial-scale=1">'
             f"<title>{_e(heading)}</title><style>{_CSS}</style></head><body>"
             f"<h1>{_e(heading)}</h1>"]
    if twin:
        parts.append('<div class="rr-twin">')
        for i, m in enumerate(metrics):
            city = m.city.name(lang) if m.city else Path(m.network_source).name
            parts.append(
                f'<section class="rr-side"><h2><span class="rr-swatch" style="color:{colors[i]}">'
                f"&#9632;</span> {i + 1}. {_e(m.name)} — {_e(city)}</h2>"
                f"{_iframe(_route_map([m], [colors[i]], lang, offline), m.name)}</section>")
        parts.append("</div>")
    else:
        parts.append(f"<h2>{_e(_t('map', lang))}</h2>"
                     f"{_iframe(_route_map(metrics, colors, lang, offline), heading)}")
    parts.append(f'<p class="rr-attribution">{_e(_t("odbl", lang))}: {ATTRIBUTION_HTML} '
                 '(<a href="https://opendatacommons.org/licenses/odbl/1-0/">ODbL 1.0</a>)</p>')
    # metrics: one column per route
    head = "".join(
        f'<th><span class="rr-swatch" style="color:{colors[i]}">&#9632;</span> '
        f"{i + 1}. {_e(m.name)}</th>" for i, m in enumerate(metrics))
    body = "".join(
        f"<tr><td>{_e(label)}</td>{''.join(f'<td>{_e(v)}</td>' for v in values)}</tr>"
        for label, values in _metric_rows(metrics, lang))
    parts.append(f"<h2>{_e(_t('metrics', lang))}</h2><table class=\"rr-metrics\">"
                 f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>")
    if any(m.city is not None for m in metrics):
        parts.append(f"<h2>{_e(_t('sights_passed', lang))}</h2><ol class=\"rr-sights\">")
        for m in metrics:
            items = ", ".join(f"{_e(p.name)} ({_e(_t('at_km', lang))} {p.km:.1f})"
                              for p in m.sights) or _e(_t("none", lang))
            parts.append(f"<li><b>{_e(m.name)}</b>: {items}</li>")
        parts.append("</ol>")
    parts.append(f"<h2>{_e(_t('charts', lang))}</h2><div class=\"rr-charts\">")
    for caption, png in _charts(metrics, colors, lang):
        parts.append(f'<figure><img alt="" src="data:image/png;base64,{png}">'
                     f"<figcaption>{caption}</figcaption></figure>")
    parts.append("</div>")
    parts.append(f'<p class="rr-attribution">ringroute {_e(__version__)} · '
                 f"{_e(_t('odbl', lang))}: {ATTRIBUTION_HTML}</p></body></html>\n")
    return "".join(parts)


def write_report(
    metrics: Sequence[RouteMetrics],
    out_dir: Path,
    stem: str,
    *,
    lang: str = "en",
    title: str | None = None,
    twin: bool = False,
    speed_kmh: float | None = None,
    city: City | None = None,
    extra: Mapping[str, object] | None = None,
    offline: bool = False,
    batch: OutputBatch | None = None,
) -> list[Path]:
    """Write ``<stem>.csv``, ``<stem>.json`` and ``<stem>.html`` into ``out_dir``: all, or none.

    Parameters
    ----------
    metrics
        The measured routes (from :func:`run_compare`'s matching,
        :func:`compare_route` or :func:`compare_loops`).
    out_dir
        Output folder (created if missing).
    stem
        File-name stem; reduced to ``[a-z0-9_-]`` (at most 80 characters).
    lang
        Language of the report's labels (``en``, ``de``, ``ja``).
    title
        Report heading.
    twin
        One map per route, side by side, instead of one map with all routes.
    speed_kmh
        Recorded in the JSON (default: the first route's speed).
    city
        Recorded in the JSON.
    extra
        More top-level entries for the JSON document.
    offline
        Inline Leaflet into the maps so the report works without internet.
    batch
        Stage the files there, to be put in place with the batch's other files.

    Returns
    -------
    list of Path
        The CSV, JSON and HTML files, in that order.

    Raises
    ------
    ValueError
        If ``metrics`` is empty.
    ringroute.errors.OutputError
        If a file cannot be written.
    """
    if not metrics:
        msg = "metrics must not be empty"
        raise ValueError(msg)
    if lang not in LANGS:
        msg = f"lang {lang!r} is not supported: valid are {', '.join(LANGS)}"
        raise InputError(msg)
    safe = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")[:80].strip("-_") or "compare"
    speed = speed_kmh if speed_kmh is not None else metrics[0].speed_kmh
    doc = report_document(metrics, twin=twin, speed_kmh=speed, city=city)
    if extra:
        doc.update(extra)
    page = render_report(metrics, lang=lang, title=title, twin=twin, offline=offline)
    csv_text = _csv(metrics)
    with batch_or_new(batch) as out:
        return [
            out.write_text(out_dir / f"{safe}.csv", csv_text),
            out.write_text(out_dir / f"{safe}.json",
                           json.dumps(doc, ensure_ascii=False, indent=2) + "\n"),
            out.write_text(out_dir / f"{safe}.html", page),
        ]
