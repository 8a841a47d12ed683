"""The command line: end to end, exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gpxpy
import pytest
import xmlschema

from conftest import GPX_XSD, HEIDELBERG, SCIENCE_CITY, UNIVERSITY
from ringroute._geo import haversine_m
from ringroute.cli import main


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "ringroute", *args], capture_output=True,
                          text=True, timeout=300, env=full_env, check=False)


def test_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("ringroute ")


def test_plan_end_to_end(tmp_path: Path, tsukuba_sights: dict[str, tuple[float, float]]) -> None:
    out = tmp_path / "out"
    proc = run_cli("plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--via", "univ", "--via",
                   "expo", "--via", "botgarden", "--km", "30", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"city", "target_m", "routes"}
    assert doc["city"] == "tsukuba" and doc["target_m"] == 30000
    route = doc["routes"][0]
    assert abs(route["length_m"] - 30000) <= 0.03 * 30000
    assert sorted(route["sights"]) == ["botgarden", "expo", "univ"]
    assert 0 <= route["overlap_ratio"] <= 1
    assert [s["key"] for s in route["stops"]] == ["station", *route["sights"]]
    assert all(0 <= s["snap_m"] <= 500 for s in route["stops"])
    gpx_path, map_path = Path(route["gpx"]), Path(route["map"])
    assert gpx_path == out / "tsukuba-30km.gpx" and map_path == out / "tsukuba-30km.html"
    xmlschema.XMLSchema(str(GPX_XSD)).validate(str(gpx_path))
    g = gpxpy.parse(gpx_path.read_text(encoding="utf-8"))
    pts = g.tracks[0].segments[0].points
    assert (pts[0].latitude, pts[0].longitude) == (pts[-1].latitude, pts[-1].longitude)
    for key in ("univ", "expo", "botgarden"):
        lat, lon = tsukuba_sights[key]
        assert min(haversine_m(lat, lon, p.latitude, p.longitude) for p in pts) <= 250
    html = map_path.read_text(encoding="utf-8")
    assert "OpenStreetMap</a> contributors" in html
    assert sorted(p.name for p in out.iterdir()) == [
        "tsukuba-30km-cues.html", "tsukuba-30km-cues.md", "tsukuba-30km.gpx",
        "tsukuba-30km.html"]


@pytest.fixture(scope="module")
def tsukuba_sights() -> dict[str, tuple[float, float]]:
    from ringroute.cities import load_city

    return {s.key: (s.lat, s.lon) for s in load_city("tsukuba").sights}


def test_plan_without_city(tmp_path: Path) -> None:
    proc = run_cli("plan", "--osm", str(UNIVERSITY), "--start", "36.1000,140.1010",
                   "--km", "6", "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["city"] is None
    assert doc["routes"][0]["sights"] == []
    assert Path(doc["routes"][0]["gpx"]).name == "tsukuba-university-6km.gpx"


def test_sights_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sights", "bochum", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["sights"]) == 20
    assert doc["sights"][0]["names"]["ja"]
    assert main(["sights", "tsukuba"]) == 0
    assert "筑波大学" in capsys.readouterr().out


BAD_INPUTS: list[tuple[list[str], str]] = [
    (["plan", "atlantis", "--osm", str(SCIENCE_CITY)], "unknown city 'atlantis'"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--via", "Space Museum"],
     "closest matches"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "0"], "valid is more than 0"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "-3"], "valid is more than 0"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "abc"], "not a number"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "5000"], "up to 1000"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "nan"], "valid is more than 0"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "900"], "feasible range at most"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--via", "95,140"], "latitude 95"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--via", "nyotai"],
     "sight 'nyotai' is"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--via", "univ", "--via", "expo",
      "--km", "2"], "choose --km of at least"),
    (["plan", "tsukuba", "--osm", "/nonexistent/x.osm"], "does not exist"),
    (["plan", "bochum", "--osm", str(UNIVERSITY)], "not in Bochum"),
    (["plan", "--osm", str(UNIVERSITY)], "--start LAT,LON is required"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--lang", "fr"], "valid are en, de, ja"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--tolerance", "2"], "0.001 to 0.5"),
    (["plan", "tsukuba", "--bogus"], "unrecognized arguments"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--avoid", "primery"],
     "--avoid 'primery' is not a way class or highway value (closest: primary"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--seed", "-1"], "valid is 0 or more"),
]


@pytest.mark.parametrize(("argv", "fragment"), BAD_INPUTS,
                         ids=[f"{i}-{frag[:20]}" for i, (_, frag) in enumerate(BAD_INPUTS)])
def test_bad_input_exit_2(argv: list[str], fragment: str, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert fragment in err[0]
    assert not out.exists() or not any(out.iterdir())


def test_bad_osm_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.osm"
    garbage.write_bytes(b"\x00\x01not osm")
    truncated = tmp_path / "cut.osm.pbf"
    truncated.write_bytes(HEIDELBERG.read_bytes()[:100_000])
    empty = tmp_path / "empty.osm"
    empty.write_bytes(b"")
    for path in (garbage, truncated, empty):
        proc = run_cli("plan", "tsukuba", "--osm", str(path), "--out", str(tmp_path / "o"))
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert str(path) in proc.stderr
        assert not (tmp_path / "o").exists()


def test_unwritable_output_exit_1(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    proc = run_cli("plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "10",
                   "--out", str(blocker / "sub"))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "cannot write" in proc.stderr


def test_output_names_cannot_escape(tmp_path: Path) -> None:
    from ringroute.job import PlanRequest, output_stem

    stem = output_stem(PlanRequest(osm_path=Path("../../etc/pa$$wd.osm"), start="1,1",
                                   target_km=5))
    assert "/" not in stem and ".." not in stem
    assert stem == "pa-wd-5km"


def test_alternatives_write_a_comparison(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--via", "univ",
                   "--km", "20", "--alternatives", "2", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert len(doc["routes"]) == 2
    names = {p.name for p in out.iterdir()}
    assert {"tsukuba-20km.gpx", "tsukuba-20km-alt1.gpx", "tsukuba-20km-compare.csv",
            "tsukuba-20km-compare.json", "tsukuba-20km-compare.html"} <= names
    report = json.loads((out / "tsukuba-20km-compare.json").read_text(encoding="utf-8"))
    lengths = sorted(r["length_m"] for r in report["routes"])
    assert lengths == pytest.approx(sorted(r["length_m"] for r in doc["routes"]), rel=0.01)


@pytest.mark.parametrize(("x", "text"), [(-0.00002, "+0.0%"), (0.0, "+0.0%"),
                                         (0.01234, "+1.2%"), (-0.0451, "-4.5%")])
def test_signed_pct(x: float, text: str) -> None:
    from ringroute.cli import signed_pct

    assert signed_pct(x) == text
