"""Reliability: disk full mid-write, fuzzed OSM files, disconnected sights, duplicates."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SCIENCE_CITY, UNIVERSITY
from ringroute.errors import DisconnectedSightsError, OSMDataError
from ringroute.loop import plan_loops
from ringroute.network import Network, network_from_file
from ringroute.settings import Settings
from ringroute.sights import Place, SnappedPlace


def _limit_file_size() -> None:
    # a real "disk full": the kernel refuses writes beyond 20 kB with EFBIG
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_disk_full_mid_write_leaves_no_partial_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # warm the prepared-graph cache first, so that only the outputs hit the limit
    network_from_file(SCIENCE_CITY, settings=Settings(cache_dir=tmp_path / "cache"))
    env = {**os.environ, "RINGROUTE_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-m", "ringroute", "plan", "tsukuba", "--osm", str(SCIENCE_CITY),
         "--km", "20", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env, preexec_fn=_limit_file_size,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "cannot write" in proc.stderr
    leftovers = list(out.iterdir()) if out.exists() else []
    # whatever was complete may stay; nothing partial, no temp files
    assert not [p for p in leftovers if p.name.startswith(".") or p.suffix == ".part"]
    for p in leftovers:
        assert p.stat().st_size < 20_000
        text = p.read_text(encoding="utf-8")
        assert text.rstrip().endswith(("</gpx>", "</html>", "|", "contributors, ODbL 1.0."))


def test_disconnected_sights_are_named() -> None:
    g = nx.MultiDiGraph(crs="epsg:4326")
    for i in range(8):
        g.add_node(i, x=140.0 + 0.001 * (i % 4), y=36.0 + 0.01 * (i // 4))
    attrs = {"length_m": 100.0, "length": 100.0, "bike_factor": 1.0, "way_class": "quiet",
             "cycle_route": False, "highway": "residential", "osmid": 1}
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4)]:
        g.add_edge(a, b, **attrs)
        g.add_edge(b, a, **attrs)
    net = Network(g, "two islands")

    def place(node: int, key: str) -> SnappedPlace:
        d = g.nodes[node]
        return SnappedPlace(place=Place(key=key, lat=d["y"], lon=d["x"]), node=node, snap_m=0)

    with pytest.raises(DisconnectedSightsError, match="island"):
        plan_loops(net, place(0, "start"), [place(2, "near"), place(6, "island")],
                   target_km=1)


def _mutate(raw: bytes, ops: list[tuple[str, int, bytes]]) -> bytearray:
    """Apply byte-level mutations: cut the rest, flip a byte, insert bytes (``insert``,
    ``snippet``), delete a stretch, duplicate a stretch."""
    blob = bytearray(raw)
    for op, pos, chunk in ops:
        if not blob:
            break
        pos %= len(blob)
        if op == "cut":
            del blob[pos:]
        elif op == "flip":
            blob[pos] ^= 0xFF
        elif op in {"insert", "snippet"}:
            blob[pos:pos] = chunk
        elif op == "delete":
            del blob[pos:pos + len(chunk) * 64]
        else:
            blob[pos:pos] = blob[pos:pos + 4096]
    return blob


@pytest.mark.fuzz
@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_osm_loader(data: st.DataObject, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Mutated real extracts: the loader either loads a graph or raises OSMDataError."""
    raw = UNIVERSITY.read_bytes()
    ops = data.draw(st.lists(st.tuples(
        st.sampled_from(["cut", "flip", "insert", "delete", "dup"]),
        st.integers(0, len(raw) - 1), st.binary(min_size=1, max_size=16)), min_size=1,
        max_size=4))
    blob = _mutate(raw, [(op, pos, chunk) for op, pos, chunk in ops])
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "mutant.osm"
    path.write_bytes(bytes(blob))
    s = Settings(cache_dir=folder / "cache", osm_dir=None, local_osm_dir=folder, use_cache=False)
    try:
        net = network_from_file(path, settings=s)
    except OSMDataError as exc:
        assert str(exc)
        assert "\n" not in str(exc)
        return
    assert net.graph.number_of_nodes() > 0


@pytest.fixture(scope="module")
def written_gpx(tmp_path_factory: pytest.TempPathFactory, science_city: Network) -> bytes:
    from ringroute.cities import load_city
    from ringroute.gpx import write_gpx
    from ringroute.sights import resolve, snap

    city = load_city("tsukuba")
    start = snap(resolve("station", city), science_city, max_snap_m=500)
    loop = plan_loops(science_city, start, [], target_km=8)[0]
    path = write_gpx(loop, tmp_path_factory.mktemp("gpx") / "loop.gpx", city=city,
                     lang="ja", max_points=150, with_route=True)
    return path.read_bytes()


@pytest.mark.fuzz
@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_gpx_importer(data: st.DataObject, written_gpx: bytes,
                           tmp_path_factory: pytest.TempPathFactory) -> None:
    """Mutated GPX files: the importer returns a route or raises GPXImportError only."""
    from ringroute._gpxread import read_gpx
    from ringroute.errors import GPXImportError

    snippets = [b"<!DOCTYPE gpx [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>", b"&x;",
                b"<trkpt lat='91' lon='0'/>", b"<trkpt lat='nan' lon='inf'/>", b"\xff\xfe",
                b"</trkseg>", b"<ele>high</ele>", b"<![CDATA[", b"lat=\"\""]
    ops = data.draw(st.lists(st.tuples(
        st.sampled_from(["cut", "flip", "insert", "snippet", "delete"]),
        st.integers(0, len(written_gpx) - 1), st.binary(min_size=1, max_size=8),
        st.sampled_from(snippets)), min_size=1, max_size=4))
    blob = _mutate(written_gpx, [(op, pos, snippet if op == "snippet" else chunk)
                                 for op, pos, chunk, snippet in ops])
    path = tmp_path_factory.mktemp("gpxfuzz") / "mutant.gpx"
    path.write_bytes(bytes(blob))
    try:
        route = read_gpx(path)
    except GPXImportError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert route is not None


def test_regression_bad_coordinate_text(tmp_path: Path) -> None:
    """Found by fuzzing: a coordinate attribute with trailing text crashed pyosmium."""
    path = tmp_path / "bad-coordinate.osm"
    path.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="36.1" lon="140.1-11-22T11:23:20Z"/>'
        '<node id="2" lat="36.2" lon="140.2"/>'
        '<way id="3"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>'
        "</osm>", encoding="utf-8")
    with pytest.raises(OSMDataError, match="cannot be read"):
        network_from_file(path, settings=Settings(cache_dir=tmp_path / "c", use_cache=False))


def test_regression_unknown_xml_encoding(tmp_path: Path) -> None:
    """Found by fuzzing: an unknown encoding in the XML declaration escaped as LookupError."""
    from ringroute._gpxread import read_gpx
    from ringroute.errors import GPXImportError

    path = tmp_path / "enc.gpx"
    path.write_bytes(b'<?xml version="1.0" encoding="bogus"?>'
                     b'<gpx xmlns="http://www.topografix.com/GPX/1/1" version="1.1"><trk>'
                     b'<trkseg><trkpt lat="36.1" lon="140.1"/><trkpt lat="36.2" lon="140.1"/>'
                     b"</trkseg></trk></gpx>")
    with pytest.raises(GPXImportError, match=r"enc\.gpx"):
        read_gpx(path)
