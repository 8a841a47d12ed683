"""Safe reading of GPX files from any tool.

The bytes are first parsed with :mod:`defusedxml` with DTDs forbidden, which
rejects XML external entities (XXE), entity expansion ("billion laughs") and
any other DTD trickery before gpxpy (which may use lxml) ever sees the text.
Only a well-formed document whose root element is ``gpx`` is then handed to
gpxpy. Every failure becomes a one-line :class:`~ringroute.errors.GPXImportError`
that names the file.
"""

from __future__ import annotations

import codecs
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml
import defusedxml.ElementTree
import gpxpy
import gpxpy.gpx
import numpy as np

from ringroute._types import FloatArray
from ringroute.errors import GPXImportError

#: Larger files are refused (a day-long 1 Hz recording is about 10 MB).
MAX_GPX_BYTES = 200 * 1024 * 1024

_ENCODING_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


@dataclass(frozen=True)
class TrackSegment:
    """Points of one ``<trkseg>`` or ``<rte>`` in file order.

    Attributes
    ----------
    lat, lon
        Degrees (WGS 84).
    ele
        Elevation in metres, NaN where a point has no ``<ele>``.
    """

    lat: FloatArray
    lon: FloatArray
    ele: FloatArray


@dataclass(frozen=True)
class GPXRoute:
    """What ringroute needs of a GPX file: a name and the ridden segments.

    Attributes
    ----------
    name
        The document's, first track's or first route's ``<name>`` (unescaped
        text exactly as in the file), else the file's stem.
    source
        The file's name (without folders).
    segments
        Track segments, or routes when the file has no track points.
    kind
        ``"track"`` or ``"route"``.
    """

    name: str
    source: str
    segments: list[TrackSegment] = field(default_factory=list)
    kind: str = "track"

    @property
    def n_points(self) -> int:
        """Number of points over all segments."""
        return sum(len(s.lat) for s in self.segments)


def _one_line(text: object, limit: int = 160) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _fail(path: Path, why: str) -> GPXImportError:
    return GPXImportError(_one_line(f"cannot import GPX file {path.name!r}: {why}", 300))


def _decode(path: Path, data: bytes) -> str:
    """Decode the document as its BOM or XML declaration says; drop the declaration."""
    if data.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16"
    else:
        m = _ENCODING_DECL.match(data)
        enc = m.group(1).decode("ascii") if m else "utf-8"
    try:
        text = data.decode(enc)
    except (LookupError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot decode it as {enc}") from exc
    # gpxpy re-encodes the text as UTF-8; a stale encoding declaration would lie
    return _XML_DECL.sub("", text, count=1)


#: the GPX elements with a position
_POINTS = ("trkpt", "rtept", "wpt")


def _check_xml(path: Path, data: bytes) -> None:
    """Parse with defusedxml (no DTD allowed); check the root and every point's position.

    gpxpy's message for a ``lat`` or ``lon`` that is not a number names neither the
    point nor the attribute, hence the check of every point here.
    """
    try:
        root = defusedxml.ElementTree.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden as exc:
        raise _fail(path, "it contains a DTD (<!DOCTYPE …>), which GPX never needs; "
                          "refused for safety (external entities, entity expansion)") from exc
    except defusedxml.DefusedXmlException as exc:
        raise _fail(path, f"unsafe XML refused ({type(exc).__name__})") from exc
    except defusedxml.ElementTree.ParseError as exc:
        raise _fail(path, f"not well-formed XML ({exc})") from exc
    except (ValueError, UnicodeError, LookupError) as exc:  # LookupError: unknown encoding
        raise _fail(path, f"not readable XML ({exc})") from exc
    tag = str(root.tag)
    local = tag.rsplit("}", 1)[-1]
    if local != "gpx":
        raise _fail(path, f"not a GPX file (root element <{_one_line(local, 40)}>)")
    counts: dict[str, int] = {}
    for el in root.iter():
        kind = str(el.tag).rsplit("}", 1)[-1]
        if kind not in _POINTS:
            continue
        counts[kind] = counts.get(kind, 0) + 1
        for attr, most in (("lat", 90), ("lon", 180)):
            raw = el.get(attr)
            try:
                float(raw if raw is not None else "")
            except ValueError:
                what = (f"no {attr}" if raw is None else
                        f"{attr}={_one_line(raw, 40)!r} is not a number")
                raise _fail(path, f"<{kind}> {counts[kind]}: {what} (valid: a number from "
                                  f"-{most} to {most})") from None


def _segment(path: Path, points: list[gpxpy.gpx.GPXTrackPoint] | list[gpxpy.gpx.GPXRoutePoint],
             ) -> TrackSegment:
    lat = np.array([float(p.latitude) for p in points], dtype=float)
    lon = np.array([float(p.longitude) for p in points], dtype=float)
    ele = np.array([float(p.elevation) if p.elevation is not None else math.nan
                    for p in points], dtype=float)
    bad = ~(np.isfinite(lat) & np.isfinite(lon)) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        i = int(np.nonzero(bad)[0][0])
        raise _fail(path, f"point {i + 1} has an invalid position {lat[i]}, {lon[i]}")
    ele[~np.isfinite(ele)] = math.nan
    return TrackSegment(lat=lat, lon=lon, ele=ele)


def read_gpx(path: Path) -> GPXRoute:
    """Read a GPX 1.0/1.1 file (tracks or routes, any number of segments) safely.

    Track points are used when the file has any; otherwise route points.
    Waypoints alone do not make a route. Segments are kept apart (their gaps
    are not counted as ridden length).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    GPXRoute
        Name, segments and kind.

    Raises
    ------
    GPXImportError
        If the file cannot be read, is larger than :data:`MAX_GPX_BYTES`, is
        not well-formed XML, contains a DTD (XXE, entity expansion), is not GPX,
        has invalid coordinates or has no track or route points. The message
        is one line and names the file.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_GPX_BYTES:
            raise _fail(path, f"{size / 1e6:.0f} MB is larger than the limit of "
                              f"{MAX_GPX_BYTES / 1e6:.0f} MB")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise _fail(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise _fail(path, "it is a folder") from exc
    except OSError as exc:
        raise _fail(path, exc.strerror or str(exc)) from exc
    if not data.strip():
        raise _fail(path, "the file is empty")
    _check_xml(path, data)
    text = _decode(path, data)
    try:
        doc = gpxpy.parse(text)
    except (gpxpy.gpx.GPXException, ValueError, TypeError, AttributeError, KeyError,
            IndexError) as exc:
        raise _fail(path, f"invalid GPX ({_one_line(exc, 120)})") from exc
    segments = [_segment(path, seg.points) for trk in doc.tracks for seg in trk.segments
                if seg.points]
    kind = "track"
    if not segments:
        segments = [_segment(path, rte.points) for rte in doc.routes if rte.points]
        kind = "route"
    if not segments:
        raise _fail(path, "it has no track or route points")
    if sum(len(seg.lat) for seg in segments) < 2:
        raise _fail(path, "it has only one point")
    names = [doc.name, *(t.name for t in doc.tracks), *(r.name for r in doc.routes)]
    name = next((n.strip() for n in names if n and n.strip()), "") or path.stem
    return GPXRoute(name=name, source=path.name, segments=segments, kind=kind)
