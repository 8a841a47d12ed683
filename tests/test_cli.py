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
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "1000.0001"],
     "--km 1000.0001 is out of range: valid is more than 0 up to 1000"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--start", ""], "--start '' is empty"),
    (["plan", "", "--osm", str(UNIVERSITY)], "unknown city '': known cities are "),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--avoid", "motorway"],
     "(closest: footway, tertiary);"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY.parent)], "is a folder: give an extract"),
    (["plan", "tsukuba", "--osm", "/dev/null"], "is not a regular file"),
    (["plan", "tsukuba", "--osm", ""], "argument --osm: an empty path"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--dem", str(SCIENCE_CITY.parent)],
     "--dem '" + str(SCIENCE_CITY.parent) + "' is a folder"),
    (["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--speed", "61"],
     "--speed 61 is out of range: valid is 3 to 60 km/h"),
    (["plan", "tsukuba", "--osm", str(UNIVERSITY), "--km", "8"],
     "tsukuba's default start: sight 'station' is 938 m from the nearest rideable way"),
    (["plan", "tsukuba", "--tolerance", "abc"], "'abc' is not a number: valid is 0.001 to 0.5"),
    (["plan", "tsukuba", "--alternatives", "two"], "'two' is not a whole number: valid is 1 to 20"),
    (["plan", "tsukuba", "--seed", "1.5"], "'1.5' is not a whole number: valid is 0 or more"),
    (["plan", "tsukuba", "--max-points", "x"], "valid is 10 to 1000000"),
    (["plan", "tsukuba", "--prefer-cycleways", "x"], "'x' is not a number: valid is 0 to 10"),
    (["plan", "tsukuba", "--speed", "fast"], "'fast' is not a number: valid is 3 to 60 km/h"),
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


def test_empty_output_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "10", "--out", ""]) == 2
    assert "argument --out: an empty path" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("env", "fragment"), [
    ({"RINGROUTE_MAX_SNAP_M": "abc"}, "RINGROUTE_MAX_SNAP_M='abc' is not a number"),
    ({"RINGROUTE_MAX_SNAP_M": "nan"}, "max_snap_m (RINGROUTE_MAX_SNAP_M) = nan is out of range"),
    ({"RINGROUTE_TIMEOUT_S": "nan"}, "timeout_s (RINGROUTE_TIMEOUT_S) = nan is out of range"),
    ({"RINGROUTE_OVERPASS_URL": "not a url"}, "is not a web address"),
])
def test_bad_settings_exit_2_in_one_line(env: dict[str, str], fragment: str,
                                         tmp_path: Path) -> None:
    proc = run_cli("plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "10",
                   "--out", str(tmp_path / "o"), env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and fragment in proc.stderr
    assert not (tmp_path / "o").exists()


def test_a_plan_writes_all_its_files_or_none(tmp_path: Path) -> None:
    """The map cannot be written (a folder has its name): no GPX or cue sheet is left
    either, and what the folder held before is untouched."""
    out = tmp_path / "out"
    (out / "tsukuba-20km.html").mkdir(parents=True)
    (out / "tsukuba-20km.gpx").write_text("an earlier plan's GPX")
    proc = run_cli("plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--via", "univ",
                   "--km", "20", "--alternatives", "2", "--out", str(out))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "tsukuba-20km.html" in proc.stderr and "a folder of that name" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["tsukuba-20km.gpx", "tsukuba-20km.html"]
    assert (out / "tsukuba-20km.gpx").read_text() == "an earlier plan's GPX"


def test_files_of_an_earlier_plan_with_more_alternatives_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ("plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--via", "univ", "--km", "20",
            "--out", str(out))
    assert run_cli(*args, "--alternatives", "2").returncode == 0
    other = out / "tsukuba-20km-alt1-notes.txt"  # not a file ringroute writes
    other.write_text("mine")
    assert (out / "tsukuba-20km-alt1.gpx").is_file()
    proc = run_cli("-v", *args)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "tsukuba-20km-alt1-notes.txt", "tsukuba-20km-cues.html", "tsukuba-20km-cues.md",
        "tsukuba-20km.gpx", "tsukuba-20km.html"]
    assert "tsukuba-20km-alt1.gpx, left by an earlier plan" in proc.stderr


def test_a_fractional_length_keeps_one_stem(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ("plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "20.5", "--out", str(out))
    assert run_cli(*args, "--alternatives", "2").returncode == 0
    assert {p.name for p in out.iterdir()} == {
        "tsukuba-20_5km.gpx", "tsukuba-20_5km-alt1.gpx", "tsukuba-20_5km.html",
        "tsukuba-20_5km-cues.html", "tsukuba-20_5km-cues.md", "tsukuba-20_5km-compare.csv",
        "tsukuba-20_5km-compare.json", "tsukuba-20_5km-compare.html"}
    names = [gpxpy.parse((out / f).read_text(encoding="utf-8")).name
             for f in ("tsukuba-20_5km.gpx", "tsukuba-20_5km-alt1.gpx")]
    assert names == ["Tsukuba 20.5 km loop", "Tsukuba 20.5 km loop – Alternative 1"]
    assert run_cli(*args).returncode == 0
    assert not any("alt1" in p.name or "compare" in p.name for p in out.iterdir())


def test_parts_of_a_killed_plan_are_removed_once_old(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    old = out / ".tsukuba-10km.html.abc123.part"
    fresh = out / ".tsukuba-10km.gpx.def456.part"  # a plan writing now, beside this one
    other = out / ".notes.part"
    for p in (old, fresh, other):
        p.write_text("partial")
    os.utime(old, (1_000_000_000, 1_000_000_000))
    os.utime(other, (1_000_000_000, 1_000_000_000))
    proc = run_cli("plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "10",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert not old.exists() and fresh.exists() and other.exists()


def test_quiet_still_shows_warnings(tmp_path: Path) -> None:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    dem = tmp_path / "alps.tif"
    with rasterio.open(dem, "w", driver="GTiff", height=4, width=4, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_origin(7.0, 46.0, 0.01, 0.01)) as ds:
        ds.write(np.full((4, 4), 1500.0, dtype="float32"), 1)
    proc = run_cli("-q", "plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "10",
                   "--dem", str(dem), "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert "alps.tif holds no elevation along the loop" in proc.stderr


def _tsukuba_with_garden_named(folder: Path, toml_name: str) -> None:
    """The shipped Tsukuba catalogue in ``folder``, its garden's English name replaced
    (``toml_name`` as written in TOML, escapes and all)."""
    from ringroute.settings import Settings

    src = Settings().cities_dir / "tsukuba.toml"
    text = src.read_text(encoding="utf-8")
    old = 'en = "Tsukuba Botanical Garden"'
    assert text.count(old) == 1
    (folder / "tsukuba.toml").write_text(text.replace(old, f'en = "{toml_name}"'),
                                         encoding="utf-8")


def test_a_catalogue_name_with_a_control_character_is_refused(tmp_path: Path) -> None:
    _tsukuba_with_garden_named(tmp_path, "Tsukuba\\u0008 Botanical Garden")
    proc = run_cli("plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "30", "--via",
                   "botgarden", "--out", str(tmp_path / "o"),
                   env={"RINGROUTE_CITIES_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "holds the control character U+0008" in proc.stderr
    assert not (tmp_path / "o").exists()


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ringroute", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_ctrl_c_while_starting_up_is_one_line() -> None:
    """The CLI takes about 2 s to import; a Ctrl-C then is no traceback either."""
    import signal
    import time

    proc = _start("plan", "tsukuba", "--km", "10")
    time.sleep(0.4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err == "ringroute: interrupted\n"


def test_sigterm_stops_a_plan_like_ctrl_c(tmp_path: Path) -> None:
    """Once the CLI runs (its first log line), SIGTERM ends it with one line and no files."""
    import signal

    out = tmp_path / "o"
    proc = _start("-v", "plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "50",
                  "--alternatives", "5", "--out", str(out))
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith("ringroute: ")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.splitlines()[-1] == "ringroute: terminated"
    assert "Traceback" not in err
    assert not out.exists() or list(out.iterdir()) == []


def test_a_termination_while_writing_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """SIGTERM arriving after the GPX and cue sheets are staged, while the map renders."""
    from ringroute import cli, job

    def map_then_killed(*args: object, **kwargs: object) -> Path:
        cli.on_sigterm(15, None)

    monkeypatch.setattr(job, "write_map", map_then_killed)
    out = tmp_path / "o"
    code = main(["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--km", "10", "--out", str(out)])
    assert code == 143
    assert capsys.readouterr().err == "ringroute: terminated\n"
    assert list(out.iterdir()) == []  # the folder was made; nothing, not even a .part, in it


def test_an_output_folder_that_is_a_file_is_refused_before_planning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine")
    assert main(["plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--out", str(afile)]) == 2
    assert f"--out '{afile}' is a file: give a folder" in capsys.readouterr().err
    assert afile.read_text() == "mine"


def test_the_plan_table_fits_80_columns_and_names_each_file_whole(tmp_path: Path) -> None:
    out = tmp_path / "a [red]long[/] folder name for the outputs of this plan"
    proc = run_cli("plan", "tsukuba", "--osm", str(SCIENCE_CITY), "--via", "univ", "--km", "20",
                   "--alternatives", "2", "--out", str(out), env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    table = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 80
    assert f"GPX 1: {out / 'tsukuba-20km.gpx'}" in lines
    assert f"GPX 2: {out / 'tsukuba-20km-alt1.gpx'}" in lines
    assert f"map: {out / 'tsukuba-20km.html'}" in lines


def test_sights_listing_shows_names_as_written(tmp_path: Path) -> None:
    """A name that looks like rich markup is shown as text, whole, even when piped."""
    _tsukuba_with_garden_named(tmp_path, "[bold red]Botanical[/] Garden")
    wide = run_cli("sights", "tsukuba", env={"RINGROUTE_CITIES_DIR": str(tmp_path),
                                             "COLUMNS": "300"})
    assert wide.returncode == 0, wide.stderr
    assert "[bold red]Botanical[/] Garden" in wide.stdout
    narrow = run_cli("sights", "tsukuba", "--lang", "ja",
                     env={"RINGROUTE_CITIES_DIR": str(tmp_path), "COLUMNS": "80"})
    assert narrow.returncode == 0, narrow.stderr
    assert "…" not in narrow.stdout  # wrapped, not cut
    assert "Nyotai-sa" in narrow.stdout and "筑波山" in narrow.stdout


def test_tables_piped_into_a_file_are_not_wrapped() -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run([sys.executable, "-m", "ringroute", "sights", "tsukuba"],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("│ ")]
    assert len(rows) == 20  # one line per sight: keys and names whole, found by grep
    kasumigaura = next(line for line in rows if "kasumigaura" in line)
    assert "霞ヶ浦 土浦港" in kasumigaura and "Lake Kasumigaura (Tsuchiura port)" in kasumigaura
