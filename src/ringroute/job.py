"""One planning job end to end: city → network → loop(s) → GPX + map files.

This is what ``ringroute plan`` runs; it is a plain library function so that
other programs can run the same job.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ringroute._bike import check_avoid
from ringroute._build import ProgressFn
from ringroute._elevation import interpolate_known, sample_dem
from ringroute._io import OutputBatch, why_not_a_file
from ringroute._text import LANGS
from ringroute._text import text as label
from ringroute.cities import City, load_city
from ringroute.compare import MAX_SPEED_KMH, MIN_SPEED_KMH, compare_loops, write_report
from ringroute.cues import write_cues
from ringroute.errors import InputError, OSMDataError, SightOffNetworkError
from ringroute.gpx import loop_title, write_gpx
from ringroute.loop import MAX_PREFER_CYCLEWAYS, MAX_TARGET_KM, Loop, Preferences, plan_loops
from ringroute.network import Network, load_network
from ringroute.settings import Settings, get_settings
from ringroute.sights import SnappedPlace, refine, resolve, snap
from ringroute.webmap import write_map

log = logging.getLogger("ringroute")

#: a temporary output file this old (s) was left by a plan that was killed
STALE_PART_S = 600.0



@dataclass(frozen=True, kw_only=True)
class PlanRequest:
    """What to plan; mirrors the options of ``ringroute plan``."""

    city: str | None = None
    osm_path: Path | None = None
    start: str | None = None
    via: tuple[str, ...] = ()
    target_km: float = 50.0
    tolerance: float = 0.05
    alternatives: int = 1
    seed: int = 0
    out_dir: Path = Path("maps")
    lang: str = "en"
    max_points: int | None = None
    gpx_route: bool = False
    prefer_cycleways: float = 0.0
    avoid: tuple[str, ...] = ()
    download: bool = True
    dem: Path | None = None
    offline_map: bool = False
    speed_kmh: float = 18.0


@dataclass(kw_only=True)
class PlanResult:
    """Loops planned and files written."""

    city: City | None
    network: Network
    loops: list[Loop]
    gpx_paths: list[Path] = field(default_factory=list)
    map_path: Path | None = None
    cue_paths: list[Path] = field(default_factory=list)
    compare_paths: list[Path] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The ``--json`` document."""
        return {
            "city": self.city.key if self.city else None,
            "target_m": self.loops[0].target_m if self.loops else None,
            "routes": [
                {
                    "length_m": round(loop.length_m, 1),
                    "overlap_ratio": round(loop.overlap_ratio, 4),
                    "forced_overlap_ratio": round(loop.forced_overlap_ratio, 4),
                    "sights": [s.key for s in loop.sights],
                    "start": loop.stops[0].key,
                    "stops": [{"key": s.key, "snap_m": round(s.place.snap_m, 1),
                               "at_m": round(s.at_m, 1)} for s in loop.stops],
                    "turns_per_km": round(loop.turns_per_km, 2),
                    "way_class_share": {k: round(v, 4) for k, v in
                                        loop.way_class_share().items()},
                    "gpx": str(self.gpx_paths[i]) if i < len(self.gpx_paths) else None,
                    "map": str(self.map_path) if self.map_path else None,
                }
                for i, loop in enumerate(self.loops)
            ],
        }


#: the valid ranges of the plain options (validate_request; the CLI names them too)
MIN_TOLERANCE, MAX_TOLERANCE = 0.001, 0.5
TOLERANCES = f"{MIN_TOLERANCE:g} to {MAX_TOLERANCE:g}"
MAX_ALTERNATIVES = 20
ALTERNATIVES = f"1 to {MAX_ALTERNATIVES}"
MIN_POINTS, MAX_POINTS = 10, 1_000_000
POINTS = f"{MIN_POINTS} to {MAX_POINTS}"


def _num(x: float) -> str:
    """``x`` as given, to 12 significant digits (``:g`` would show 1000.0001 as 1000)."""
    return f"{x:.12g}"


def validate_request(req: PlanRequest) -> None:
    """Check a request's plain values before any work is done.

    Raises
    ------
    InputError
        Naming the bad value and the valid range.
    """
    if not (math.isfinite(req.target_km) and 0 < req.target_km <= MAX_TARGET_KM):
        msg = (f"--km {_num(req.target_km)} is out of range: valid is more than 0 "
               f"up to {MAX_TARGET_KM:g}")
        raise InputError(msg)
    if not (math.isfinite(req.tolerance) and MIN_TOLERANCE <= req.tolerance <= MAX_TOLERANCE):
        msg = f"--tolerance {_num(req.tolerance)} is out of range: valid is {TOLERANCES}"
        raise InputError(msg)
    if not 1 <= req.alternatives <= MAX_ALTERNATIVES:
        msg = f"--alternatives {req.alternatives} is out of range: valid is {ALTERNATIVES}"
        raise InputError(msg)
    if req.lang not in LANGS:
        msg = f"--lang {req.lang!r} is not supported: valid are {', '.join(LANGS)}"
        raise InputError(msg)
    if req.max_points is not None and not MIN_POINTS <= req.max_points <= MAX_POINTS:
        msg = f"--max-points {req.max_points} is out of range: valid is {POINTS}"
        raise InputError(msg)
    if not (math.isfinite(req.prefer_cycleways)
            and 0 <= req.prefer_cycleways <= MAX_PREFER_CYCLEWAYS):
        msg = (f"--prefer-cycleways {_num(req.prefer_cycleways)} is out of range: "
               f"valid is 0 to {MAX_PREFER_CYCLEWAYS:g}")
        raise InputError(msg)
    check_avoid(req.avoid, argument="--avoid")
    if req.seed < 0:
        msg = f"--seed {req.seed} is out of range: valid is 0 or more"
        raise InputError(msg)
    if req.dem is not None and not req.dem.is_file():
        msg = f"--dem {str(req.dem)!r} {why_not_a_file(req.dem)}: give a GeoTIFF elevation model"
        raise InputError(msg)
    if not (math.isfinite(req.speed_kmh) and MIN_SPEED_KMH <= req.speed_kmh <= MAX_SPEED_KMH):
        msg = (f"--speed {_num(req.speed_kmh)} is out of range: valid is "
               f"{MIN_SPEED_KMH:g} to {MAX_SPEED_KMH:g} km/h")
        raise InputError(msg)
    if req.out_dir.exists() and not req.out_dir.is_dir():
        msg = f"--out {str(req.out_dir)!r} is a file: give a folder (created if missing)"
        raise InputError(msg)
    if req.city is None and req.osm_path is None:
        msg = "no city and no --osm extract given: name a city or pass --osm PATH --start LAT,LON"
        raise InputError(msg)
    if req.start is not None and not req.start.strip():
        msg = ("--start '' is empty: give a sight (key or name) or LAT,LON, or leave it out "
               "for the city's start")
        raise InputError(msg)
    if req.city is None and not req.start:
        msg = "without a city, --start LAT,LON is required"
        raise InputError(msg)


def _safe_stem(text: str) -> str:
    stem = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-._")
    return stem[:60] or "loop"


def output_stem(req: PlanRequest) -> str:
    """File-name stem of the outputs: ``<city>-<km>km`` (no path separators possible)."""
    if req.city:
        base = _safe_stem(req.city)
    elif req.osm_path is not None:
        name = req.osm_path.name.lower()
        for suffix in (".osm.pbf", ".osm.bz2", ".osm.gz", ".osm", ".pbf"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        base = _safe_stem(name)
    else:
        base = "loop"
    # a fractional length keeps to the same characters: 20.5 km -> "20_5km"
    return f"{base}-{req.target_km:g}km".replace(".", "_")


def _check_region(city: City, network: Network) -> None:
    s, w, n, e = network.bbox
    cs, cw, cn, ce = city.bbox
    if n < cs or s > cn or e < cw or w > ce:
        msg = (
            f"the OSM extract {network.source!r} covers lat {s:.2f}..{n:.2f}, "
            f"lon {w:.2f}..{e:.2f}, which is not in {city.name('en')} "
            f"(lat {cs:.2f}..{cn:.2f}, lon {cw:.2f}..{ce:.2f})"
        )
        raise OSMDataError(msg)


def run_plan(
    req: PlanRequest,
    *,
    settings: Settings | None = None,
    progress: ProgressFn | None = None,
) -> PlanResult:
    """Run a planning job and write its files.

    Files are written only after planning succeeded, and all of them together
    (see :func:`export`); on any error nothing is written.

    Raises
    ------
    InputError
        For bad input (exit code 2 in the CLI).
    ringroute.errors.RingrouteRuntimeError
        For failures of downloads or output (exit code 1).
    """
    s = settings or get_settings()
    validate_request(req)
    city = load_city(req.city, settings=s) if req.city is not None else None
    start_spec = req.start or (city.default_start if city else None)
    if start_spec is None:  # pragma: no cover - validate_request guards this
        msg = "--start is required"
        raise InputError(msg)
    start_place = resolve(start_spec, city)
    via_places = [resolve(v, city) for v in req.via]
    network = load_network(city, osm_path=req.osm_path, settings=s, download=req.download,
                           progress=progress)
    if city is not None:
        _check_region(city, network)
    start_place = refine(start_place, network)
    try:
        start = snap(start_place, network, max_snap_m=s.max_snap_m)
    except SightOffNetworkError as exc:
        if req.start is not None or city is None:
            raise
        msg = (f"{city.key}'s default start: {exc}; --start SIGHT or --start LAT,LON "
               "picks another start")
        raise SightOffNetworkError(msg) from exc
    via: list[SnappedPlace] = []
    seen = {start_place.key}
    for p in via_places:
        if p.key in seen:
            log.info("ignoring repeated place %s", p.key)
            continue
        seen.add(p.key)
        via.append(snap(refine(p, network), network, max_snap_m=s.max_snap_m))
    prefs = Preferences(prefer_cycleways=req.prefer_cycleways, avoid=tuple(req.avoid))
    loops = plan_loops(network, start, via, target_km=req.target_km, tolerance=req.tolerance,
                       alternatives=req.alternatives, seed=req.seed, prefs=prefs,
                       progress=progress)
    for loop in loops:
        add_elevation(loop, network, dem=req.dem)
    return export(req, city, network, loops)


def add_elevation(loop: Loop, network: Network, *, dem: Path | None = None) -> None:
    """Set ``loop.ele`` from a DEM raster, else from OSM ``ele`` tags of passed nodes."""
    if dem is not None:
        ele = sample_dem(dem, loop.lat, loop.lon)
        n_known = sum(e is not None for e in ele)
        if n_known == 0:
            log.warning("--dem %s holds no elevation along the loop (it covers another "
                        "area, or only voids there): the GPX has no elevations", dem)
            loop.ele = None
            return
        if n_known < len(ele):
            log.warning("--dem %s holds elevations for %.0f%% of the loop's points only",
                        dem, 100.0 * n_known / len(ele))
        loop.ele = ele
        return
    nodes = [u for u, _, _ in loop.edges] + ([loop.edges[-1][1]] if loop.edges else [])
    known: dict[int, float] = {}
    for node, vertex in zip(nodes, loop.node_vertex, strict=False):
        ele = network.graph.nodes[node].get("ele")
        if ele is not None:
            known[vertex] = float(ele)
    loop.ele = interpolate_known(loop.cum_m, known)


def export(req: PlanRequest, city: City | None, network: Network,
           loops: Sequence[Loop]) -> PlanResult:
    """Write GPX files (one per loop), cue sheets, the comparison and one map with all loops.

    The files are put in place together, or none of them. Files of the same stem
    left by an earlier plan with more alternatives (``<stem>-alt<N>.gpx``, the
    comparison) are removed then, so that the folder holds one plan's files.
    """
    stem = output_stem(req)
    out = req.out_dir
    result = PlanResult(city=city, network=network, loops=list(loops))
    with OutputBatch() as batch:
        for i, loop in enumerate(loops):
            name = f"{stem}.gpx" if i == 0 else f"{stem}-alt{i}.gpx"
            title = loop_title(loop, city=city, lang=req.lang)
            if i:  # told apart on a device's list of courses
                title += f" – {label('alternative', req.lang)} {i}"
            result.gpx_paths.append(
                write_gpx(loop, out / name, city=city, lang=req.lang, max_points=req.max_points,
                          with_route=req.gpx_route, title=title, batch=batch)
            )
        result.cue_paths = write_cues(loops[0], network, out, stem, city=city, lang=req.lang,
                                      batch=batch)
        if len(loops) > 1:
            metrics = compare_loops(list(loops), network, city=city, speed_kmh=req.speed_kmh,
                                    lang=req.lang)
            result.compare_paths = write_report(metrics, out, f"{stem}-compare", lang=req.lang,
                                                city=city, speed_kmh=req.speed_kmh,
                                                offline=req.offline_map, batch=batch)
        result.map_path = write_map(list(loops), out / f"{stem}.html", city=city,
                                    lang=req.lang, offline=req.offline_map, batch=batch)
        stale = _stale_outputs(out, stem, keep=set(batch.paths))
        batch.commit()
    for path in stale:
        try:
            path.unlink()
        except OSError as exc:
            log.warning("could not remove %s, left by an earlier plan: %s", path,
                        exc.strerror or exc)
        else:
            log.info("removed %s, left by an earlier plan", path)
    return result


def _stale_outputs(out_dir: Path, stem: str, *, keep: set[Path]) -> list[Path]:
    """Files of ``stem`` in ``out_dir`` that an earlier plan wrote and this one does not.

    Besides the outputs, these are the temporary ``.part`` files of a plan that was
    killed while writing, once they are :data:`STALE_PART_S` old (a plan running
    now into the same folder writes its own for a second or two).
    """
    if not out_dir.is_dir():
        return []
    pattern = re.compile(rf"{re.escape(stem)}-(alt[1-9][0-9]*\.gpx|compare\.(csv|json|html))")
    part = re.compile(rf"\.{re.escape(stem)}[-.].*\.part")
    now = time.time()
    out = []
    for p in out_dir.iterdir():
        if p in keep or not p.is_file():
            continue
        if pattern.fullmatch(p.name):
            out.append(p)
        elif part.fullmatch(p.name):
            with contextlib.suppress(OSError):
                if now - p.stat().st_mtime > STALE_PART_S:
                    out.append(p)
    return sorted(out)
