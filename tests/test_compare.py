"""ringroute compare: safe GPX import, map matching, metrics like the planner's, reports."""

from __future__ import annotations

import csv
import dataclasses
import html
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import gpxpy
import gpxpy.gpx
import numpy as np
import pytest

from conftest import HEIDELBERG, OSM_DIR, SCIENCE_CITY
from ringroute._geo import LocalProjection
from ringroute._gpxread import read_gpx
from ringroute._mapmatch import Piece, build_path
from ringroute.cities import City
from ringroute.cli import main
from ringroute.compare import (
    CompareRequest,
    RouteMetrics,
    _elevation,
    compare_loops,
    compare_route,
    infer_city,
    output_stem,
    run_compare,
    write_report,
)
from ringroute.errors import GPXImportError, InputError
from ringroute.gpx import write_gpx
from ringroute.loop import Loop, plan_loops
from ringroute.network import Network
from ringroute.settings import Settings
from ringroute.sights import Place, resolve, snap

MALICIOUS = '<script>alert("x")</script><img src=x onerror=alert(1)>{{7*7}}'


# ------------------------------------------------------------------ helpers
def run_cli(args: Sequence[str], cache_dir: Path, cwd: Path,
            env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m ringroute ...`` (returns the running process)."""
    full_env = {k: v for k, v in os.environ.items() if k != "RINGROUTE_OSM_DIR"}
    full_env.update({"RINGROUTE_CACHE_DIR": str(cache_dir), **(env or {})})
    return subprocess.Popen([sys.executable, "-m", "ringroute", *args], cwd=cwd, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def write_track(path: Path, segments: Sequence[tuple[Sequence[float], Sequence[float]]], *,
                name: str | None = None, ele: Sequence[Sequence[float]] | None = None,
                as_route: bool = False) -> Path:
    """A GPX file with one track (a segment per item) or one route per item."""
    g = gpxpy.gpx.GPX()
    g.name = name
    trk = gpxpy.gpx.GPXTrack(name=name)
    for k, (lat, lon) in enumerate(segments):
        if as_route:
            rte = gpxpy.gpx.GPXRoute(name=name)
            rte.points = [gpxpy.gpx.GPXRoutePoint(a, b) for a, b in zip(lat, lon, strict=True)]
            g.routes.append(rte)
            continue
        seg = gpxpy.gpx.GPXTrackSegment()
        for i, (a, b) in enumerate(zip(lat, lon, strict=True)):
            seg.points.append(gpxpy.gpx.GPXTrackPoint(
                round(a, 7), round(b, 7), elevation=None if ele is None else ele[k][i]))
        trk.segments.append(seg)
    if not as_route:
        g.tracks.append(trk)
    path.write_text(g.to_xml(version="1.1"), encoding="utf-8")
    return path


def edges_of(network: Network, loop: Loop) -> list[int]:
    r = network.router
    return [r.edge_index(r.index[u], r.index[v]) for u, v, _ in loop.edges]


def polyline(network: Network, edges: Sequence[int]) -> tuple[list[float], list[float]]:
    r = network.router
    path = build_path(network, [[Piece(e, 0.0, float(r.length[e])) for e in edges]])
    return path.lat[0], path.lon[0]


def assert_like_planner(m: RouteMetrics, loop: Loop, *, rel_len: float = 0.01,
                        share_tol: float = 0.01) -> None:
    assert m.length_m == pytest.approx(loop.length_m, rel=rel_len)
    assert abs(m.repeated_share - loop.overlap_ratio) <= share_tol
    planned = loop.way_class_share()
    got = m.way_class_share()
    for k in set(planned) | set(got):
        assert abs(got.get(k, 0.0) - planned.get(k, 0.0)) <= share_tol, k


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def loops(science_city: Network, tsukuba: City) -> list[Loop]:
    start = snap(resolve("station", tsukuba), science_city, max_snap_m=500)
    via = [snap(resolve(k, tsukuba), science_city, max_snap_m=500) for k in ("univ", "expo")]
    found = plan_loops(science_city, start, via, target_km=20, alternatives=2)
    assert len(found) == 2
    return found


@pytest.fixture(scope="module")
def gpx_files(loops: list[Loop], tsukuba: City,
              tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("gpx")
    return [write_gpx(loop, folder / f"loop{i}.gpx", city=tsukuba)
            for i, loop in enumerate(loops)]


# ------------------------------------------------------------------ measuring
def test_loop_compared_with_itself_is_identical(loops: list[Loop], science_city: Network,
                                                tsukuba: City, gpx_files: list[Path]) -> None:
    a, b = compare_loops([loops[0], loops[0]], science_city, city=tsukuba, names=["A", "A"])
    assert a.to_json() == b.to_json()
    # the planner's own numbers, exactly: the same edges measured by the same functions
    assert a.length_m == pytest.approx(loops[0].length_m, abs=1e-6)
    assert a.repeated_share == pytest.approx(loops[0].overlap_ratio, abs=1e-12)
    assert a.turns_per_km == pytest.approx(loops[0].turns_per_km, abs=1e-12)
    assert_like_planner(a, loops[0], rel_len=1e-9, share_tol=1e-9)
    route = read_gpx(gpx_files[0])
    x = compare_route(route, science_city, city=tsukuba)
    y = compare_route(route, science_city, city=tsukuba)
    assert x.to_json() == y.to_json()


@pytest.mark.parametrize("which", [0, 1])
def test_reimported_loop_matches_planner(which: int, loops: list[Loop], gpx_files: list[Path],
                                         science_city: Network, tsukuba: City) -> None:
    loop = loops[which]
    m = compare_route(read_gpx(gpx_files[which]), science_city, city=tsukuba)
    assert m.matched_share >= 0.98
    assert m.mean_deviation_m < 2.0
    assert m.runs == 1
    assert m.gpx_length_m == pytest.approx(loop.length_m, rel=0.01)
    assert_like_planner(m, loop)
    # Turns are counted on the matched path's network geometry, so identical edges give
    # identical counts; only the ends (matched at a node or a few cm into an edge) can
    # move a turn across the 40 m window: allow one turn either way.
    assert abs(m.turns - loop.turns_per_km * loop.length_m / 1000) <= 1.0
    # sights: the loop passes its start and via sights, and the gaps add up
    keys = set(m.distinct_sights)
    assert {"station", "univ", "expo"} <= keys
    assert m.longest_without_sight_km is not None
    assert 0 < m.longest_without_sight_km <= m.length_m / 1000
    assert m.riding_time_s == pytest.approx(m.length_m / (18 / 3.6))
    assert m.ele_gain_m is None


def test_noisy_recording_still_matches(loops: list[Loop], science_city: Network,
                                       tmp_path: Path) -> None:
    """A 1 Hz-like recording (a point every 5 m, 5 m GPS noise) gives the planner's numbers."""
    loop = loops[0]
    proj = LocalProjection(loop.lat[0], loop.lon[0])
    x, y = proj.to_xy(loop.lat, loop.lon)
    pos = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    s = np.arange(0.0, pos[-1], 5.0)
    rng = np.random.default_rng(7)
    pts = [proj.to_latlon(float(a), float(b)) for a, b in zip(
        np.interp(s, pos, x) + rng.normal(0, 5, len(s)),
        np.interp(s, pos, y) + rng.normal(0, 5, len(s)), strict=True)]
    path = write_track(tmp_path / "noisy.gpx", [([p[0] for p in pts], [p[1] for p in pts])])
    m = compare_route(read_gpx(path), science_city)
    assert m.matched_share >= 0.98
    assert 2.0 < m.mean_deviation_m < 10.0
    assert_like_planner(m, loop, rel_len=0.02, share_tol=0.02)


# ------------------------------------------------------------------ repeated riding
def _reversible_path(network: Network, a: int, b: int) -> list[int] | None:
    r = network.router
    sp = r.shortest_paths(a, r.length)
    if not math.isfinite(float(sp.dist[b])):
        return None
    edges = r.path_edges(sp, b)
    return edges if edges and all(int(r.reverse[e]) >= 0 for e in edges) else None


def _nodes_at(network: Network, centre: int, lo: float, hi: float) -> list[int]:
    r = network.router
    d = np.hypot(r.xm - r.xm[centre], r.ym - r.ym[centre])
    return [int(i) for i in np.nonzero((d >= lo) & (d <= hi))[0]]


def test_out_and_back_is_all_repeated(science_city: Network, loops: list[Loop],
                                      tmp_path: Path) -> None:
    r = science_city.router
    a = r.index[loops[0].edges[0][0]]
    stem = next(p for b in _nodes_at(science_city, a, 1500, 2500)
                if (p := _reversible_path(science_city, a, b)) is not None)
    lat, lon = polyline(science_city, stem)
    back = [int(r.reverse[e]) for e in reversed(stem)]
    blat, blon = polyline(science_city, back)
    path = write_track(tmp_path / "out-and-back.gpx", [(lat + blat[1:], lon + blon[1:])])
    m = compare_route(read_gpx(path), science_city)
    one_way = float(r.length[np.asarray(stem)].sum())
    assert m.matched_share >= 0.98
    assert m.length_m == pytest.approx(2 * one_way, rel=0.01)
    assert m.repeated_share >= 0.98


def test_lollipop_repeats_its_stem(science_city: Network, loops: list[Loop],
                                   tmp_path: Path) -> None:
    r = science_city.router
    loop = loops[0]
    loop_edges = edges_of(science_city, loop)
    n = r.n_nodes
    phys = {min(int(r.src[e]), int(r.dst[e])) * n + max(int(r.src[e]), int(r.dst[e]))
            for e in loop_edges}
    # the stem joins the loop at one of its nodes on two-way ways the loop does not ride;
    # the lollipop rides the stem, the whole loop from that node, and the stem back
    w = r.length.copy()
    w[[e for e in range(r.n_edges)
       if min(int(r.src[e]), int(r.dst[e])) * n + max(int(r.src[e]), int(r.dst[e])) in phys]] = (
        np.inf)
    w[r.reverse < 0] = np.inf
    stem: list[int] | None = None
    for k in range(0, len(loop_edges), 5):
        c = int(r.src[loop_edges[k]])
        to_c = r.shortest_paths_to(c, w)
        ring = [a for a in _nodes_at(science_city, c, 900, 1600)
                if math.isfinite(float(to_c.dist[a]))]
        if ring:
            stem = r.path_edges(r.shortest_paths(ring[0], w), c)
            loop_edges = loop_edges[k:] + loop_edges[:k]
            break
    assert stem is not None
    back = [int(r.reverse[e]) for e in reversed(stem)]
    lat: list[float] = []
    lon: list[float] = []
    for part in (stem, loop_edges, back):
        la, lo = polyline(science_city, part)
        skip = 1 if lat else 0
        lat += la[skip:]
        lon += lo[skip:]
    s = float(r.length[np.asarray(stem)].sum())
    total = 2 * s + loop.length_m
    expected = (2 * s + loop.overlap_ratio * loop.length_m) / total
    m = compare_route(read_gpx(write_track(tmp_path / "lollipop.gpx", [(lat, lon)])),
                      science_city)
    assert 0.1 < 2 * s / total < 0.5  # a real stem, not a degenerate one
    assert m.length_m == pytest.approx(total, rel=0.01)
    assert m.repeated_share == pytest.approx(expected, abs=0.02)


def test_segments_routes_and_gaps(science_city: Network, loops: list[Loop],
                                  tmp_path: Path) -> None:
    loop = loops[0]
    lat, lon = loop.lat, loop.lon
    k = len(lat) // 2
    # two track segments with a few points missing between them: the matcher joins them
    two = write_track(tmp_path / "two.gpx", [(lat[:k], lon[:k]), (lat[k + 3:], lon[k + 3:])])
    m = compare_route(read_gpx(two), science_city)
    assert m.runs == 1 and m.matched_share >= 0.98
    assert m.length_m == pytest.approx(loop.length_m, rel=0.01)
    assert m.gpx_length_m < loop.length_m  # the gap is not counted as ridden
    # a sparse <rte> (a point about every 250 m) follows the same streets
    proj = LocalProjection(lat[0], lon[0])
    x, y = proj.to_xy(lat, lon)
    pos = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    pick = sorted({int(np.searchsorted(pos, d)) for d in np.arange(0, pos[-1], 250.0)}
                  | {len(lat) - 1})
    rte = write_track(tmp_path / "rte.gpx", [([lat[i] for i in pick], [lon[i] for i in pick])],
                      as_route=True)
    route = read_gpx(rte)
    assert route.kind == "route"
    m = compare_route(route, science_city)
    assert m.length_m == pytest.approx(loop.length_m, rel=0.05)
    assert m.repeated_share <= loop.overlap_ratio + 0.03


def test_elevation_is_smoothed() -> None:
    from ringroute._gpxread import TrackSegment

    # 4 km straight: 100 m up, 100 m down, with ±2 m barometer noise every 5 m
    s = np.arange(0.0, 4000.0, 5.0)
    true = np.where(s < 2000, s / 20, (4000 - s) / 20)
    noisy = true + np.random.default_rng(3).uniform(-2, 2, len(s))
    lat = 36.0 + s / 111_195.0
    seg = TrackSegment(lat=lat, lon=np.full(len(s), 140.1), ele=noisy)
    gain_loss = _elevation([seg])
    assert gain_loss is not None
    gain, loss = gain_loss
    assert gain == pytest.approx(100, abs=8) and loss == pytest.approx(100, abs=8)
    raw_gain = float(np.clip(np.diff(noisy), 0, None).sum())
    assert raw_gain > 150  # what unsmoothed summing would report
    no_ele = TrackSegment(lat=lat, lon=seg.lon, ele=np.full(len(s), np.nan))
    assert _elevation([no_ele]) is None


# ------------------------------------------------------------------ unsafe and bad files
GOOD_POINTS = ('<trkpt lat="36.08" lon="140.11"></trkpt>'
               '<trkpt lat="36.081" lon="140.111"></trkpt>')
BAD_FILES: dict[str, bytes] = {
    "malformed": (b'<?xml version="1.0"?><gpx version="1.1" creator="x" '
                  b'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
                  + GOOD_POINTS.encode() + b"</trkseg>"),
    "empty": b"",
    "no-points": (b'<?xml version="1.0"?><gpx version="1.1" creator="x" '
                  b'xmlns="http://www.topografix.com/GPX/1/1"><metadata><name>n</name>'
                  b'</metadata><wpt lat="36.08" lon="140.11"/></gpx>'),
    "not-xml": b"\x89PNG\r\n\x1a\n this is not XML at all \x00\x01",
    "not-gpx": b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"></kml>',
    "bad-coordinate": (b'<?xml version="1.0"?><gpx version="1.1" creator="x">'
                       b'<trk><trkseg><trkpt lat="236.08" lon="140.11"/>'
                       b'<trkpt lat="36.081" lon="140.111"/></trkseg></trk></gpx>'),
    "not-a-number": (b'<?xml version="1.0"?><gpx version="1.1" creator="x">'
                     b'<trk><trkseg><trkpt lat="36.08" lon="140.11"/>'
                     b'<trkpt lat="abc" lon="140.111"/></trkseg></trk></gpx>'),
    "no-lat": (b'<?xml version="1.0"?><gpx version="1.1" creator="x">'
               b'<rte><rtept lon="140.11"/><rtept lat="36.081" lon="140.111"/></rte></gpx>'),
    "xxe": (b'<?xml version="1.0"?>\n<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'\n<gpx version="1.1" creator="x"><metadata><name>&xxe;</name></metadata>'
            b"<trk><trkseg>" + GOOD_POINTS.encode() + b"</trkseg></trk></gpx>"),
    "billion-laughs": (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
                   .encode() for i in range(1, 10))
        + b']>\n<gpx version="1.1" creator="x"><metadata><name>&lol9;</name></metadata>'
        b"<trk><trkseg>" + GOOD_POINTS.encode() + b"</trkseg></trk></gpx>"),
}


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad")
    for name, data in BAD_FILES.items():
        (folder / f"{name}.gpx").write_bytes(data)
    return folder


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_gpx_is_refused(name: str, bad_dir: Path) -> None:
    with pytest.raises(GPXImportError) as info:
        read_gpx(bad_dir / f"{name}.gpx")
    msg = str(info.value)
    assert f"{name}.gpx" in msg and "\n" not in msg
    assert "root:" not in msg  # nothing of /etc/passwd


@pytest.mark.parametrize(("name", "fragment"), [
    ("not-a-number", "<trkpt> 2: lat='abc' is not a number (valid: a number from -90 to 90)"),
    ("no-lat", "<rtept> 1: no lat (valid: a number from -90 to 90)"),
])
def test_a_position_that_is_no_number_is_named(name: str, fragment: str,
                                               bad_dir: Path) -> None:
    with pytest.raises(GPXImportError) as info:
        read_gpx(bad_dir / f"{name}.gpx")
    assert fragment in str(info.value)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GPXImportError, match="no such file"):
        read_gpx(tmp_path / "nope.gpx")


#: The payloads run through the real CLI in a subprocess (all at once: they only start
#: Python); all payloads also run through ``main()`` in-process.
CLI_PAYLOADS = ("malformed", "empty", "not-xml", "xxe", "billion-laughs")


@pytest.fixture(scope="module")
def bad_cli_runs(bad_dir: Path, gpx_files: list[Path], cache_dir: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str, Path]]:
    work = tmp_path_factory.mktemp("badcli")
    procs = {}
    for name in CLI_PAYLOADS:
        out = work / f"out-{name}"
        procs[name] = (run_cli(["compare", str(gpx_files[0]), str(bad_dir / f"{name}.gpx"),
                                "--city", "tsukuba", "--osm", str(SCIENCE_CITY),
                                "--out", str(out), "--json"], cache_dir, work), out)
    return {name: (*finish(p), out) for name, (p, out) in procs.items()}


@pytest.mark.parametrize("name", CLI_PAYLOADS)
def test_bad_gpx_cli_exit_2(name: str, bad_cli_runs: dict[str, tuple[int, str, str, Path]]
                            ) -> None:
    code, out, err, out_dir = bad_cli_runs[name]
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("ringroute: error: ")
    assert f"{name}.gpx" in err
    assert "Traceback" not in err and "root:" not in err
    assert not out_dir.exists()


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_gpx_main_exit_2(name: str, bad_dir: Path, gpx_files: list[Path], tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["compare", str(gpx_files[0]), str(bad_dir / f"{name}.gpx"), "--osm",
                 str(SCIENCE_CITY), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1 and f"{name}.gpx" in captured.err
    assert not out.exists()


# ------------------------------------------------------------------ CLI end to end
def test_cli_end_to_end(gpx_files: list[Path], loops: list[Loop], cache_dir: Path,
                        tmp_path: Path) -> None:
    # b: the second loop under a malicious name, with elevations
    loop = loops[1]
    n = len(loop.lat)
    ele = [50 + 30 * math.sin(i / n * 2 * math.pi) for i in range(n)]
    b = write_track(tmp_path / "b.gpx", [(loop.lat, loop.lon)], name=MALICIOUS, ele=[ele])
    out = tmp_path / "out"
    code, stdout, err = finish(run_cli(
        ["compare", str(gpx_files[0]), str(b), "--city", "tsukuba", "--osm", str(SCIENCE_CITY),
         "--out", str(out), "--json", "--lang", "de"], cache_dir, tmp_path))
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["kind"] == "compare" and doc["city"] == "tsukuba"
    r0, r1 = doc["routes"]
    assert r0["file"] == "loop0.gpx" and r1["name"] == MALICIOUS
    for r, lp in zip((r0, r1), loops, strict=True):
        assert r["matched_share"] >= 0.98
        assert r["length_m"] == pytest.approx(lp.length_m, rel=0.01)
        assert r["repeated_share"] == pytest.approx(lp.overlap_ratio, abs=0.01)
        assert {"station", "univ", "expo"} <= {s["key"] for s in r["sights"]}
        assert sum(r["way_class_group_share"].values()) == pytest.approx(1.0)
    assert r0["elevation_gain_m"] is None
    assert r1["elevation_gain_m"] == pytest.approx(60, abs=10)
    files = [Path(f) for f in doc["files"]]
    assert sorted(p.name for p in files) == sorted(p.name for p in out.iterdir())
    assert {p.suffix for p in files} == {".csv", ".json", ".html"}
    assert all(p.parent == out for p in files)
    with (out / "compare-loop0-b.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["file"] for row in rows] == ["loop0.gpx", "b.gpx"]
    saved = json.loads((out / "compare-loop0-b.json").read_text(encoding="utf-8"))
    assert saved["routes"] == doc["routes"]
    page = (out / "compare-loop0-b.html").read_text(encoding="utf-8")
    # the name is shown, escaped, in the page and in the embedded map
    assert "<script>alert" not in page and "<img src=x" not in page
    assert html.escape(MALICIOUS, quote=True).split("{")[0] in page
    maps = [html.unescape(m) for m in re.findall(r'srcdoc="([^"]*)"', page)]
    assert len(maps) == 1
    inner = maps[0]
    assert "<script>alert" not in inner and "<img src=x" not in inner
    # the name reaches the map's scripts as escaped HTML inside JSON strings; its braces
    # are character references, so no template engine evaluated them
    assert "\\u0026lt;script\\u0026gt;alert" in inner
    assert "\\u0026#123;\\u0026#123;7*7\\u0026#125;" in inner and "{{7*7}}" not in inner
    assert "OpenStreetMap</a> contributors" in inner and "OpenStreetMap</a> contributors" in page
    assert inner.count("L.polyline(") >= 4  # 2 routes: GPX track + matched path each
    assert "L.control.layers" in inner
    assert page.count("data:image/png;base64,") >= 6
    assert "Doppelt gefahren" in page  # --lang de


def test_cli_table_output(gpx_files: list[Path], tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    seg = read_gpx(gpx_files[0]).segments[0]
    evil = write_track(tmp_path / "[red]evil.gpx", [(seg.lat.tolist(), seg.lon.tolist())],
                       name="[bold red]markup[/] x")
    code = main(["compare", str(gpx_files[0]), str(evil), "--city", "tsukuba", "--osm",
                 str(SCIENCE_CITY), "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "[bold red]markup[/] x" in captured.out  # shown as text, not run as rich markup
    assert captured.out.count("wrote ") == 3
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "compare-loop0-red-evil.csv", "compare-loop0-red-evil.html",
        "compare-loop0-red-evil.json"]


def test_cli_table_on_a_narrow_terminal(gpx_files: list[Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """At 80 columns the table turns round: a row per measure, a column per route."""
    monkeypatch.setenv("COLUMNS", "80")
    code = main(["compare", str(gpx_files[0]), str(gpx_files[1]), "--city", "tsukuba",
                 "--osm", str(SCIENCE_CITY), "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    table = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 80  # the paths after it are whole
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in lines if line.count("│") == 4}
    assert {"route", "km", "matched", "ridden twice", "turns/km", "sights"} <= set(rows)
    report = json.loads((tmp_path / "o" / "compare-loop0-loop1.json").read_text("utf-8"))
    assert rows["km"] == [f"{r['length_m'] / 1000:.2f}" for r in report["routes"]]
    assert all("…" not in cell for cells in rows.values() for cell in cells)  # all whole


def test_a_report_is_written_whole_or_not_at_all(gpx_files: list[Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    (out / "compare-loop0.html").mkdir(parents=True)  # in the way of the third file
    code = main(["compare", str(gpx_files[0]), "--city", "tsukuba", "--osm",
                 str(SCIENCE_CITY), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "compare-loop0.html" in err and "a folder of that name" in err
    assert [p.name for p in out.iterdir()] == ["compare-loop0.html"]  # no CSV, no JSON


def test_a_ride_near_the_network_at_one_point_only(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Two points, one 37 m from a way and one far off: not "no point is near"."""
    two = write_track(tmp_path / "two.gpx", [([36.0826, 36.0865], [140.1112, 140.1103])])
    code = main(["compare", str(two), "--city", "tsukuba", "--osm", str(SCIENCE_CITY),
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert ("'two.gpx' follows no way of the loaded network: only 1 of its 2 points lies "
            "within 50 m of a rideable way") in err
    far = write_track(tmp_path / "far.gpx", [([36.0, 36.001], [140.3, 140.301])])
    assert main(["compare", str(far), "--city", "tsukuba", "--osm", str(SCIENCE_CITY),
                 "--out", str(tmp_path / "o")]) == 2
    assert "no point is within 50 m of a rideable way" in capsys.readouterr().err


@pytest.mark.parametrize("speed", ["2", "61", "100"])
def test_compare_takes_the_speeds_plan_takes(speed: str, gpx_files: list[Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(gpx_files[0]), "--osm", str(SCIENCE_CITY), "--speed", speed,
                 "--out", str(tmp_path / "o")]) == 2
    assert f"--speed {speed} is out of range: valid is 3 to 60 km/h" in capsys.readouterr().err


def test_segments_far_apart_stay_apart(loops: list[Loop], science_city: Network,
                                       tmp_path: Path) -> None:
    """Two pieces of a loop recorded as segments: joined through the network when a
    few hundred metres apart (a lost fix), left apart when kilometres apart (the
    recording stopped), so no riding the file does not hold is counted."""
    from ringroute._geo import haversine_m
    from ringroute.compare import compare_route

    loop = loops[0]
    lat, lon, cum = np.asarray(loop.lat), np.asarray(loop.lon), np.asarray(loop.cum_m)
    a_end = int(np.searchsorted(cum, 3000.0))
    near = int(np.searchsorted(cum, cum[a_end] + 150.0))
    dist_from_a = np.array([haversine_m(lat[a_end], lon[a_end], la, lo)
                            for la, lo in zip(lat, lon, strict=True)])
    far = int(np.argmax(np.where(cum < loop.length_m - 3000.0, dist_from_a, 0.0)))
    assert dist_from_a[far] > 2000.0

    def piece(i: int) -> tuple[list[float], list[float]]:
        j = int(np.searchsorted(cum, cum[i] + 2000.0))
        return lat[i:j + 1].tolist(), lon[i:j + 1].tolist()

    first = (lat[:a_end + 1].tolist(), lon[:a_end + 1].tolist())
    joined = compare_route(read_gpx(write_track(tmp_path / "near.gpx", [first, piece(near)])),
                           science_city)
    apart = compare_route(read_gpx(write_track(tmp_path / "far.gpx", [first, piece(far)])),
                          science_city)
    assert joined.runs == 1
    assert joined.length_m == pytest.approx(joined.gpx_length_m + 150.0, abs=40.0)
    assert apart.runs == 2
    assert apart.length_m == pytest.approx(apart.gpx_length_m, abs=40.0)


# ------------------------------------------------------------------ library API details
def test_write_report_for_planned_alternatives(loops: list[Loop], science_city: Network,
                                               tsukuba: City, tmp_path: Path) -> None:
    metrics = compare_loops(loops, science_city, city=tsukuba, lang="ja")
    spoof = dataclasses.replace(metrics[1], name="=HYPERLINK(\"http://x\")")
    paths = write_report([metrics[0], spoof], tmp_path / "out", "../../tsukuba 20km/../x",
                         lang="ja")
    assert [p.parent for p in paths] == [tmp_path / "out"] * 3
    assert [p.suffix for p in paths] == [".csv", ".json", ".html"]
    assert paths[0].name == "tsukuba-20km-x.csv"
    with paths[0].open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[1]["name"].startswith("'=")  # not run as a spreadsheet formula
    assert rows[0]["file"] == "plan" and float(rows[0]["matched_share"]) == 1.0
    page = paths[2].read_text(encoding="utf-8")
    assert "重複区間" in page  # lang="ja"
    assert output_stem([Path("../../etc/passwd.gpx"), Path("つくば.gpx")]) == (
        "compare-passwd-route")
    assert output_stem([Path("a.gpx"), Path("b.gpx")], twin=True) == "twin-a-b"


def test_request_validation(gpx_files: list[Path], settings: Settings, tmp_path: Path) -> None:
    base = CompareRequest(files=(gpx_files[0],), city="tsukuba", osm_path=SCIENCE_CITY,
                          out_dir=tmp_path / "o")
    for bad in (dataclasses.replace(base, speed_kmh=0.0),
                dataclasses.replace(base, speed_kmh=math.nan),
                dataclasses.replace(base, lang="fr"),
                dataclasses.replace(base, twin=True),
                dataclasses.replace(base, files=(gpx_files[0], gpx_files[1]), twin=True),
                dataclasses.replace(base, city=None, osm_path=None,
                                    files=(gpx_files[0], Path(HEIDELBERG)))):
        with pytest.raises(InputError):
            run_compare(bad, settings=settings)
    assert not (tmp_path / "o").exists()


def test_city_is_inferred_without_city_or_extract(gpx_files: list[Path], settings: Settings,
                                                  tsukuba: City, tmp_path: Path) -> None:
    assert infer_city(read_gpx(gpx_files[0]), settings=settings) == tsukuba
    s = dataclasses.replace(settings, osm_dir=OSM_DIR)
    result = run_compare(CompareRequest(files=(gpx_files[0],), out_dir=tmp_path,
                                        download=False), settings=s)
    assert result.city == tsukuba
    assert result.routes[0].sights
    header, rows = result.table()
    assert len(rows) == 1 and len(rows[0]) == len(header)
    # without a city but with an extract: no sight metrics
    result = run_compare(CompareRequest(files=(gpx_files[0],), osm_path=SCIENCE_CITY,
                                        out_dir=tmp_path / "x"), settings=settings)
    assert result.city is None and result.routes[0].sights == []
    assert result.to_json()["routes"][0]["longest_without_sight_km"] is None  # type: ignore[index]


def test_degenerate_routes_are_refused(science_city: Network, tmp_path: Path) -> None:
    far = write_track(tmp_path / "bochum.gpx", [([51.48, 51.49], [7.21, 7.22])])
    with pytest.raises(InputError, match="off the loaded network"):
        compare_route(read_gpx(far), science_city)
    still = write_track(tmp_path / "still.gpx", [([36.0826] * 5, [140.1112] * 5)])
    with pytest.raises(InputError, match="has no length"):
        compare_route(read_gpx(still), science_city)
    one = write_track(tmp_path / "one.gpx", [([36.0826], [140.1112])])
    with pytest.raises(GPXImportError, match="only one point"):
        read_gpx(one)


# ------------------------------------------------------------------ twin report
@pytest.fixture(scope="module")
def heidelberg_gpx(heidelberg: Network, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ride planned on the Heidelberg extract: the stand-in for a Bochum ride."""
    start = snap(Place(key="bismarckplatz", lat=49.4093, lon=8.6937), heidelberg,
                 max_snap_m=500)
    loop = plan_loops(heidelberg, start, [], target_km=10)[0]
    return write_gpx(loop, tmp_path_factory.mktemp("hd") / "heidelberg.gpx")


@pytest.mark.slow
def test_twin_report_with_two_networks(gpx_files: list[Path], heidelberg_gpx: Path,
                                       science_city: Network, heidelberg: Network,
                                       tsukuba: City, tmp_path: Path) -> None:
    ride_a = compare_route(read_gpx(gpx_files[0]), science_city, city=tsukuba)
    ride_b = compare_route(read_gpx(heidelberg_gpx), heidelberg)
    assert ride_b.matched_share >= 0.98 and ride_b.sights == []
    paths = write_report([ride_a, ride_b], tmp_path, "twin-test", twin=True)
    doc = json.loads(paths[1].read_text(encoding="utf-8"))
    assert doc["kind"] == "twin"
    assert [r["city"] for r in doc["routes"]] == ["tsukuba", None]
    page = paths[2].read_text(encoding="utf-8")
    maps = [html.unescape(m) for m in re.findall(r'srcdoc="([^"]*)"', page)]
    assert len(maps) == 2  # one map per city
    assert all("OpenStreetMap</a> contributors" in m for m in maps)
    assert "36.0" in maps[0] and "49.4" in maps[1] and "49.4" not in maps[0]
    assert 'class="rr-twin"' in page


@pytest.mark.slow
def test_twin_cli_infers_cities(gpx_files: list[Path], heidelberg_gpx: Path,
                                heidelberg: Network, cache_dir: Path, tmp_path: Path) -> None:
    """Tsukuba is inferred from the catalogue's area (its extract found in the OSM folder);
    the Heidelberg ride lies in no catalogue's area and is matched on --osm."""
    out = tmp_path / "twin"
    code, stdout, err = finish(run_cli(
        ["compare", str(gpx_files[0]), str(heidelberg_gpx), "--twin", "--osm", str(HEIDELBERG),
         "--out", str(out), "--json", "--no-download"], cache_dir, tmp_path,
        env={"RINGROUTE_OSM_DIR": str(OSM_DIR)}))
    assert code == 0, err
    doc = json.loads(stdout)
    a, b = doc["routes"]
    assert a["city"] == "tsukuba" and a["network"].endswith("tsukuba-science-city.osm")
    assert b["city"] is None and b["network"].endswith("heidelberg.osm.pbf")
    assert a["matched_share"] >= 0.98 and b["matched_share"] >= 0.98
    assert sorted(p.name for p in out.iterdir()) == [
        "twin-loop0-heidelberg.csv", "twin-loop0-heidelberg.html", "twin-loop0-heidelberg.json"]


def test_twin_refuses_a_ride_without_city(gpx_files: list[Path], settings: Settings,
                                          tmp_path: Path) -> None:
    elsewhere = write_track(tmp_path / "heidelberg.gpx", [([49.40, 49.41], [8.69, 8.70])])
    req = CompareRequest(files=(gpx_files[0], elsewhere), twin=True, out_dir=tmp_path / "o",
                         download=False)
    with pytest.raises(InputError, match=r"heidelberg\.gpx' lies in no city catalogue"):
        run_compare(req, settings=settings)
    assert not (tmp_path / "o").exists()


def test_offline_report_loads_nothing_remote(loops: list[Loop], science_city: Network,
                                             tsukuba: City) -> None:
    import re

    from ringroute.compare import compare_loops, render_report

    metrics = compare_loops(loops, science_city, city=tsukuba)
    online = render_report(metrics)
    offline = render_report(metrics, offline=True)
    remote = re.compile(r"(?:src|href)=(?:&quot;|\")https?://[^\"&]*\.(?:js|css)")
    assert remote.search(online)
    assert not remote.search(offline)
    assert "L.version" in offline or "Leaflet" in offline
