"""GPX 1.1 export of planned loops (validates against the official schema)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import gpxpy.gpx

from ringroute import __version__
from ringroute._io import OutputBatch, batch_or_new
from ringroute._simplify import simplify_indices
from ringroute._text import text as label
from ringroute.cities import LANGUAGES, City
from ringroute.loop import Loop

log = logging.getLogger("ringroute")

ODBL_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
OSM_COPYRIGHT_URL = "https://www.openstreetmap.org/copyright"
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"

#: Garmin waypoint symbols by sight category.
_SYMBOLS: dict[str, str] = {
    "museum": "Museum",
    "park": "Park",
    "station": "Ground Transportation",
    "university": "School",
    "science": "Civil",
    "landmark": "Scenic Area",
    "historic": "Scenic Area",
    "mountain": "Summit",
    "lake": "Swimming Area",
    "sport": "Stadium",
    "nature": "Scenic Area",
}


def _stop_name(loop: Loop, i: int, lang: str) -> str:
    return loop.stops[i].place.place.name(lang)


def _other_names(loop: Loop, i: int, lang: str) -> str:
    sight = loop.stops[i].place.place.sight
    if sight is None:
        return ""
    return " / ".join(sight.names[lg] for lg in LANGUAGES if lg != lang and sight.names.get(lg))


def loop_title(loop: Loop, *, city: City | None = None, lang: str = "en") -> str:
    """Human title such as ``"Tsukuba 30 km loop"``."""
    place = city.name(lang) if city else _stop_name(loop, 0, lang)
    return f"{place} {loop.target_m / 1000:g} km {label('loop', lang)}"


#: characters XML 1.0 does not allow (control characters other than tab and newlines)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def build_gpx(
    loop: Loop,
    *,
    city: City | None = None,
    lang: str = "en",
    max_points: int | None = None,
    with_route: bool = False,
    time: dt.datetime | None = None,
    title: str | None = None,
) -> gpxpy.gpx.GPX:
    """Build the GPX document of a loop.

    Parameters
    ----------
    loop
        The planned loop.
    city
        Its city (for names).
    lang
        Language of names and descriptions (``en``, ``de`` or ``ja``).
    max_points
        Simplify the track to at most this many points (start, finish and sight
        points are always kept); ``None`` keeps every vertex.
    with_route
        Also write a ``<rte>`` with the start and sights as route points.
    time
        Metadata time (default: now, UTC).
    title
        Name of the document, track and route (default :func:`loop_title`).

    Returns
    -------
    gpxpy.gpx.GPX
        The document (GPX 1.1 when serialised with ``to_xml(version="1.1")``).
    """
    g = gpxpy.gpx.GPX()
    g.creator = f"ringroute {__version__}"
    title = title or loop_title(loop, city=city, lang=lang)
    sights = ", ".join(_stop_name(loop, i, lang) for i in range(1, len(loop.stops)))
    g.name = title
    g.description = (
        f"{label('target', lang)} {loop.target_m / 1000:.1f} km, "
        f"{label('actual', lang)} {loop.length_m / 1000:.2f} km"
        + (f"; {label('sights_in_text', lang)}: {sights}" if sights else "")
        + f". Map data {ATTRIBUTION}."
    )
    g.time = time or dt.datetime.now(dt.UTC).replace(microsecond=0)
    g.author_name = "ringroute"
    g.copyright_author = "OpenStreetMap contributors"
    g.copyright_year = str(g.time.year)
    g.copyright_license = ODBL_URL
    g.link = OSM_COPYRIGHT_URL
    g.link_text = "© OpenStreetMap contributors"

    for i, stop in enumerate(loop.stops):
        place = stop.place.place
        name = label("start_finish", lang) + f": {place.name(lang)}" if i == 0 else (
            f"{i}. {place.name(lang)}")
        desc_parts = [p for p in (_other_names(loop, i, lang),
                                  place.sight.description if place.sight else "",
                                  f"{label('at_km', lang)} {stop.at_m / 1000:.1f}") if p]
        wpt = gpxpy.gpx.GPXWaypoint(
            latitude=round(place.lat, 7), longitude=round(place.lon, 7), name=name,
            description=" — ".join(desc_parts),
            symbol="Flag, Green" if i == 0 else _SYMBOLS.get(
                place.sight.category if place.sight else "", "Flag, Blue"),
            type="start" if i == 0 else (place.sight.category if place.sight else "waypoint"),
        )
        g.waypoints.append(wpt)

    keep = _stop_vertex_indices(loop)
    idx = list(range(len(loop.lat)))
    if max_points is not None:
        idx = simplify_indices(loop.lat, loop.lon, max_points, keep)
    trk = gpxpy.gpx.GPXTrack(name=title, description=g.description)
    trk.type = "cycling"  # type: ignore[assignment]  # gpxpy's stubs type it as None
    seg = gpxpy.gpx.GPXTrackSegment()
    ele = loop.ele
    for i in idx:
        e = ele[i] if ele is not None else None
        seg.points.append(gpxpy.gpx.GPXTrackPoint(
            round(loop.lat[i], 7), round(loop.lon[i], 7),
            elevation=round(e, 1) if e is not None else None))
    trk.segments.append(seg)
    g.tracks.append(trk)
    if with_route and len(g.waypoints) < 2:
        log.warning("--gpx-route: the loop passes no sight, so a route would hold only "
                    "its start; no <rte> written (the track has the whole loop)")
    elif with_route:
        rte = gpxpy.gpx.GPXRoute(name=title)
        for w in g.waypoints:
            rte.points.append(gpxpy.gpx.GPXRoutePoint(w.latitude, w.longitude, name=w.name))
        first = g.waypoints[0]
        rte.points.append(gpxpy.gpx.GPXRoutePoint(first.latitude, first.longitude,
                                                  name=label("start_finish", lang)))
        g.routes.append(rte)
    b = g.get_bounds()
    if b is not None:
        g.bounds = b
    return g


def _stop_vertex_indices(loop: Loop) -> list[int]:
    """Indices of track vertices where the stops are passed."""
    out = []
    j = 0
    for stop in loop.stops[1:]:
        while j < len(loop.cum_m) - 1 and loop.cum_m[j] < stop.at_m - 0.5:
            j += 1
        out.append(j)
    return out


def write_gpx(
    loop: Loop,
    path: Path,
    *,
    city: City | None = None,
    lang: str = "en",
    max_points: int | None = None,
    with_route: bool = False,
    title: str | None = None,
    batch: OutputBatch | None = None,
) -> Path:
    """Write ``loop`` as GPX 1.1 to ``path`` atomically; options as :func:`build_gpx`.

    Characters XML does not allow (control characters, e.g. from a name in OSM or a
    catalogue) are left out. With a ``batch``, the file is staged there and put in
    place with the batch's other files.
    """
    g = build_gpx(loop, city=city, lang=lang, max_points=max_points, with_route=with_route,
                  title=title)
    with batch_or_new(batch) as out:
        return out.write_text(path, _NOT_XML.sub("", g.to_xml(version="1.1")))
