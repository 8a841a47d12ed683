"""Resolve what a user types into places on the network.

A *place spec* is a catalogue key (``univ``), a sight name in English, German or
Japanese (case-, width- and accent-insensitive, tolerant of small typos), or a
``lat,lon`` pair. Resolved places are snapped to the nearest node of the bike
network; a place farther than ``Settings.max_snap_m`` (default 500 m) from the
network is refused.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ringroute._geo import haversine_m, haversine_m_array
from ringroute.cities import LANGUAGES, City, Sight
from ringroute.errors import InputError, SightOffNetworkError, UnknownSightError
from ringroute.network import Network

log = logging.getLogger("ringroute")

_LATLON = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*[,;\s]\s*([+-]?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True, kw_only=True)
class Place:
    """A resolved place: a catalogue sight or a bare coordinate.

    Attributes
    ----------
    key
        The sight key, or ``"lat,lon"`` (6 decimals) for a coordinate.
    lat, lon
        Position in degrees.
    sight
        The catalogue entry, if any.
    """

    key: str
    lat: float
    lon: float
    sight: Sight | None = None

    def name(self, lang: str = "en") -> str:
        """Display name in ``lang`` (the coordinate text for bare points)."""
        return self.sight.name(lang) if self.sight is not None else self.key


@dataclass(frozen=True, kw_only=True)
class SnappedPlace:
    """A place tied to a network node.

    Attributes
    ----------
    place
        The resolved place.
    node
        OSM node id of the nearest network node.
    snap_m
        Distance from the place to that node in metres.
    """

    place: Place
    node: int
    snap_m: float


def normalize(text: str) -> str:
    """Fold case, width and accents; drop punctuation and spaces."""
    t = unicodedata.normalize("NFKC", text).casefold()
    t = t.replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", t)
    t = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in t if c.isalnum())


def parse_latlon(text: str) -> tuple[float, float] | None:
    """Parse ``"lat,lon"``; ``None`` if ``text`` is not of that form.

    Raises
    ------
    InputError
        If it is of that form but out of range.
    """
    m = _LATLON.match(text)
    if not m:
        return None
    lat, lon = float(m.group(1)), float(m.group(2))
    if not (-90.0 <= lat <= 90.0):
        msg = f"latitude {lat} in {text.strip()!r} is out of range: valid is -90 to 90"
        raise InputError(msg)
    if not (-180.0 <= lon <= 180.0):
        msg = f"longitude {lon} in {text.strip()!r} is out of range: valid is -180 to 180"
        raise InputError(msg)
    return lat, lon


def _candidates(city: City) -> list[tuple[str, Sight]]:
    out: list[tuple[str, Sight]] = []
    for s in city.sights:
        out.append((normalize(s.key), s))
        for lang in LANGUAGES:
            if s.names.get(lang):
                out.append((normalize(s.names[lang]), s))
    return out


def closest_sights(text: str, city: City, n: int = 3) -> list[Sight]:
    """The ``n`` catalogue sights whose key or names are most like ``text``."""
    q = normalize(text)
    scored: dict[str, tuple[float, Sight]] = {}
    for cand, sight in _candidates(city):
        ratio = difflib.SequenceMatcher(None, q, cand).ratio()
        if q and cand and (q in cand or cand in q):
            ratio = max(ratio, 0.75)
        if ratio > scored.get(sight.key, (-1.0, sight))[0]:
            scored[sight.key] = (ratio, sight)
    ranked = sorted(scored.values(), key=lambda rs: (-rs[0], rs[1].key))
    return [s for _, s in ranked[:n]]


def resolve(text: str, city: City | None) -> Place:
    """Resolve one place spec.

    Parameters
    ----------
    text
        Catalogue key, name (en/de/ja) or ``lat,lon``.
    city
        The catalogue to search; ``None`` allows only ``lat,lon``.

    Returns
    -------
    Place
        The resolved place.

    Raises
    ------
    UnknownSightError
        If nothing matches; the message names the 3 closest sights.
    InputError
        For an out-of-range coordinate.
    """
    latlon = parse_latlon(text)
    if latlon is not None:
        lat, lon = latlon
        return Place(key=f"{lat:.6f},{lon:.6f}", lat=lat, lon=lon)
    if city is None:
        msg = f"unknown place {text!r}: without a city only 'lat,lon' places are valid"
        raise UnknownSightError(msg)
    q = normalize(text)
    if not q:
        msg = f"empty place name {text!r}: give a sight key, a name or 'lat,lon'"
        raise UnknownSightError(msg)
    exact = [s for cand, s in _candidates(city) if cand == q]
    if exact:
        s = exact[0]
        return Place(key=s.key, lat=s.lat, lon=s.lon, sight=s)
    prefix = {s.key: s for cand, s in _candidates(city) if len(q) >= 4 and cand.startswith(q)}
    if len(prefix) == 1:
        s = next(iter(prefix.values()))
        return Place(key=s.key, lat=s.lat, lon=s.lon, sight=s)
    best: tuple[float, Sight] | None = None
    for cand, s in _candidates(city):
        ratio = difflib.SequenceMatcher(None, q, cand).ratio()
        if best is None or ratio > best[0]:
            best = (ratio, s)
    # a typo tolerance that grows with the length of the name
    if best is not None and best[0] >= (0.85 if len(q) < 6 else 0.8):
        s = best[1]
        return Place(key=s.key, lat=s.lat, lon=s.lon, sight=s)
    close = closest_sights(text, city)
    names = ", ".join(f"{s.key} ({s.name('en')})" for s in close)
    msg = f"unknown sight {text!r} in {city.key}; closest matches: {names}"
    raise UnknownSightError(msg)


def refine(place: Place, network: Network) -> Place:
    """Use the position of a matching named OSM object for an imprecise sight.

    A catalogue position with an accuracy worse than 100 m (an estimate) is replaced
    by the position of an object in the loaded OSM data whose name equals one of the
    sight's names, if it lies within 1.5 × the stated accuracy.
    """
    sight = place.sight
    if sight is None or sight.accuracy_m <= 100 or not network.named_features:
        return place
    names = {normalize(n) for n in sight.names.values() if n}
    best: tuple[float, float, float] | None = None
    for name, lon, lat in network.named_features:
        if normalize(name) in names:
            d = haversine_m(place.lat, place.lon, lat, lon)
            if d <= 1.5 * sight.accuracy_m and (best is None or d < best[0]):
                best = (d, lat, lon)
    if best is None:
        return place
    log.info("sight %s: using the OSM position %.0f m from the catalogue's estimate",
             place.key, best[0])
    return Place(key=place.key, lat=best[1], lon=best[2], sight=place.sight)


def snap(place: Place, network: Network, *, max_snap_m: float) -> SnappedPlace:
    """Tie ``place`` to a node of ``network``.

    The nearest node is used, unless it lies on a dead-end spur and a node of the
    network's loop-able core is at most 100 m farther: then that one, so that a loop
    can pass the sight instead of riding in and out.

    Raises
    ------
    SightOffNetworkError
        If the nearest node is farther than ``max_snap_m``; the message gives the distance.
    """
    router = network.router
    dists, near = router.nearest(place.lat, place.lon, k=16)
    idx = int(near[0])
    if not router.core[idx]:
        for d, i in zip(dists.tolist(), near.tolist(), strict=True):
            if d > min(dists[0] + 100.0, max_snap_m):
                break
            if router.core[int(i)]:
                idx = int(i)
                break
    node = int(router.node_ids[idx])
    dist = haversine_m(place.lat, place.lon, float(router.lat[idx]), float(router.lon[idx]))
    if not math.isfinite(dist) or dist > max_snap_m:
        what = f"sight {place.key!r}" if place.sight else f"point {place.key}"
        left = _left_out_within(network, place, min(dist, max_snap_m))
        if left is not None:
            msg = (
                f"{what} is {_fmt_dist(left)} from a way that does not connect to the rest "
                f"of the loaded network (only the largest part in which every junction "
                f"reaches every other is kept), and {_fmt_dist(dist)} from the nearest "
                f"way of that part (limit {max_snap_m:.0f} m); choose a place on the "
                f"connected network ({_fmt_bbox(network.bbox)})"
            )
            raise SightOffNetworkError(msg)
        msg = (
            f"{what} is {_fmt_dist(dist)} from the nearest rideable way of the loaded "
            f"network (limit {max_snap_m:.0f} m); choose a place inside the network "
            f"({_fmt_bbox(network.bbox)}) or load a larger extract"
        )
        raise SightOffNetworkError(msg)
    return SnappedPlace(place=place, node=node, snap_m=dist)


def _left_out_within(network: Network, place: Place, radius_m: float) -> float | None:
    """Distance to the nearest node of the ways the network left out, if within ``radius_m``.

    Those ways do not connect to the rest (see :mod:`ringroute._build`); ``None``
    where none lies that near, or the graph does not say where they lie.
    """
    lat = network.graph.graph.get("left_out_lat")
    lon = network.graph.graph.get("left_out_lon")
    if lat is None or lon is None or len(lat) == 0:
        return None
    la, lo = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    d = haversine_m_array(np.full(len(la), place.lat), np.full(len(lo), place.lon), la, lo)
    best = float(d.min())
    return best if best <= radius_m else None


def _fmt_dist(d: float) -> str:
    return f"{d / 1000:.1f} km" if d >= 1000 else f"{d:.0f} m"


def _fmt_bbox(b: tuple[float, float, float, float]) -> str:
    return f"lat {b[0]:.3f}..{b[2]:.3f}, lon {b[1]:.3f}..{b[3]:.3f}"


def resolve_all(texts: Sequence[str], city: City | None) -> list[Place]:
    """Resolve several specs, dropping duplicates (same key) but keeping order."""
    out: list[Place] = []
    seen: set[str] = set()
    for t in texts:
        p = resolve(t, city)
        if p.key not in seen:
            seen.add(p.key)
            out.append(p)
    return out
