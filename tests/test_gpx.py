"""GPX export: schema-valid, parsed back with gpxpy, read by a real client (gpsbabel)."""

from __future__ import annotations

import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import gpxpy
import pytest
import xmlschema

from conftest import GPX_XSD
from ringroute._geo import haversine_m
from ringroute.cities import City
from ringroute.gpx import build_gpx, write_gpx
from ringroute.loop import Loop, plan_loops
from ringroute.network import Network
from ringroute.sights import resolve, snap


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(GPX_XSD))


@pytest.fixture(scope="module")
def loop(tsukuba: City, science_city: Network) -> Loop:
    start = snap(resolve("station", tsukuba), science_city, max_snap_m=500)
    via = [snap(resolve(k, tsukuba), science_city, max_snap_m=500) for k in ("univ", "expo")]
    return plan_loops(science_city, start, via, target_km=20)[0]


def _track_length_m(g: gpxpy.gpx.GPX) -> float:
    pts = [p for t in g.tracks for s in t.segments for p in s.points]
    return sum(haversine_m(a.latitude, a.longitude, b.latitude, b.longitude)
               for a, b in pairwise(pts))


@pytest.mark.parametrize("lang", ["en", "de", "ja"])
def test_round_trip(lang: str, loop: Loop, tsukuba: City, tmp_path: Path,
                    schema: xmlschema.XMLSchema) -> None:
    path = write_gpx(loop, tmp_path / "loop.gpx", city=tsukuba, lang=lang)
    schema.validate(str(path))
    g = gpxpy.parse(path.read_text(encoding="utf-8"))
    assert len(g.tracks) == 1 and len(g.tracks[0].segments) == 1
    pts = g.tracks[0].segments[0].points
    assert (pts[0].latitude, pts[0].longitude) == (pts[-1].latitude, pts[-1].longitude)
    assert _track_length_m(g) == pytest.approx(loop.length_m, rel=0.01)
    assert len(g.waypoints) == len(loop.stops)
    names = [w.name for w in g.waypoints]
    assert loop.stops[1].place.place.name(lang) in (names[1] or "")
    others = [x for x in ("en", "de", "ja") if x != lang]
    sight = loop.stops[1].place.place.sight
    assert sight is not None
    for other in others:
        assert sight.names[other] in (g.waypoints[1].description or "")
    assert g.copyright_author == "OpenStreetMap contributors"
    assert "odbl" in (g.copyright_license or "").lower()
    assert g.creator and g.creator.startswith("ringroute ")
    assert g.time is not None and g.bounds is not None
    assert g.waypoints[0].symbol == "Flag, Green"


def test_max_points_keeps_loop_closed_and_sights(loop: Loop, tmp_path: Path,
                                                 schema: xmlschema.XMLSchema) -> None:
    budget = len(loop.lat) // 3
    assert budget >= 100
    path = write_gpx(loop, tmp_path / "small.gpx", max_points=budget)
    schema.validate(str(path))
    g = gpxpy.parse(path.read_text(encoding="utf-8"))
    pts = g.tracks[0].segments[0].points
    assert budget - 5 <= len(pts) <= budget
    assert (pts[0].latitude, pts[0].longitude) == (pts[-1].latitude, pts[-1].longitude)
    for stop in loop.sights:
        node = stop.place.node
        lat, lon = stop.place.place.lat, stop.place.place.lon
        d = min(haversine_m(lat, lon, p.latitude, p.longitude) for p in pts)
        assert d <= stop.place.snap_m + 1, node
    # simplification shortens the track only a little
    assert _track_length_m(g) == pytest.approx(loop.length_m, rel=0.03)


def test_route_option(loop: Loop, schema: xmlschema.XMLSchema, tmp_path: Path) -> None:
    g = build_gpx(loop, with_route=True)
    assert len(g.routes) == 1 and len(g.routes[0].points) == len(loop.stops) + 1
    path = tmp_path / "r.gpx"
    path.write_text(g.to_xml(version="1.1"), encoding="utf-8")
    schema.validate(str(path))
    assert build_gpx(loop).routes == []


def test_escaping_in_gpx(loop: Loop, tmp_path: Path, schema: xmlschema.XMLSchema) -> None:
    import dataclasses

    evil = '<script>alert("x")</script> & {{ 7*7 }}'
    first = loop.stops[1]
    assert first.place.place.sight is not None
    sight = dataclasses.replace(first.place.place.sight, names={"en": evil})
    place = dataclasses.replace(first.place.place, sight=sight)
    stop = dataclasses.replace(first, place=dataclasses.replace(first.place, place=place))
    bad = dataclasses.replace(loop, stops=[loop.stops[0], stop, *loop.stops[2:]])
    path = write_gpx(bad, tmp_path / "evil.gpx")
    text = path.read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text
    schema.validate(str(path))
    assert evil in (gpxpy.parse(text).waypoints[1].name or "")


def test_control_characters_never_reach_the_gpx(loop: Loop, tmp_path: Path,
                                                schema: xmlschema.XMLSchema) -> None:
    """XML cannot hold U+0000 or U+0008: a name with them still gives a valid file."""
    import dataclasses

    first = loop.stops[1]
    assert first.place.place.sight is not None
    sight = dataclasses.replace(first.place.place.sight, names={"en": "Expo\x00\x08 Hall\x1b"})
    place = dataclasses.replace(first.place.place, sight=sight)
    stop = dataclasses.replace(first, place=dataclasses.replace(first.place, place=place))
    bad = dataclasses.replace(loop, stops=[loop.stops[0], stop, *loop.stops[2:]])
    path = write_gpx(bad, tmp_path / "ctl.gpx", title="Ride\x07 one")
    schema.validate(str(path))
    g = gpxpy.parse(path.read_text(encoding="utf-8"))
    assert g.name == "Ride one" and g.waypoints[1].name == "1. Expo Hall"


def test_a_route_needs_a_sight(tsukuba: City, science_city: Network,
                               caplog: pytest.LogCaptureFixture) -> None:
    start = snap(resolve("station", tsukuba), science_city, max_snap_m=500)
    alone = plan_loops(science_city, start, [], target_km=8)[0]
    with caplog.at_level("WARNING", logger="ringroute"):
        g = build_gpx(alone, with_route=True)
    assert g.routes == [] and len(g.tracks[0].segments[0].points) > 10
    assert any("passes no sight" in r.getMessage() for r in caplog.records)


@pytest.mark.peer
@pytest.mark.skipif(shutil.which("gpsbabel") is None, reason="gpsbabel not installed")
@pytest.mark.parametrize("fmt", ["kml", "geojson", "csv"])
def test_gpsbabel_reads_it(fmt: str, loop: Loop, tmp_path: Path) -> None:
    path = write_gpx(loop, tmp_path / "loop.gpx", max_points=500)
    out = tmp_path / f"loop.{fmt}"
    proc = subprocess.run(["gpsbabel", "-t", "-w", "-i", "gpx", "-f", str(path), "-o", fmt,
                           "-F", str(out)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 1000
