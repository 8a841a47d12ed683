"""Routino as a peer: the shortest bike loop through the same sights in the same order.

Routino (Debian package ``routino``) builds a routing database from an OSM extract
with ``planetsplitter`` and routes with ``routino-router``. Version 3.3 has a
``--loop`` option that returns to the first waypoint, so a loop start → sight 1 →
… → sight n → start is one call. Routino does not aim at a target length: its
loop is the *shortest* bike route through the waypoints, the reference for how
turny and how repetitive a route through those sights has to be.

Metrics of the Routino track are computed from its geometry:

* length: sum of great-circle distances between track points;
* repeated share: :func:`geometric_repeated_share`;
* turns per km: :func:`ringroute._metrics.count_turns` (same definition as ringroute's).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import gpxpy
import gpxpy.gpx
import numpy as np
from scipy.spatial import cKDTree

from ringroute._geo import haversine_m_array
from ringroute._metrics import count_turns, resample_xy

ROUTINO_SHARE = Path("/usr/share/routino")
PLANETSPLITTER = "planetsplitter"
ROUTER = "routino-router"

_STEP_M = 10.0


@dataclass(frozen=True)
class RoutinoDB:
    """A Routino database built from one extract."""

    dir: Path
    prefix: str
    build_s: float
    source: Path


@dataclass
class PeerRoute:
    """One Routino loop and its metrics (``error`` set when Routino failed)."""

    length_m: float = float("nan")
    repeated_share: float = float("nan")
    turns_per_km: float = float("nan")
    seconds: float = float("nan")
    n_points: int = 0
    error: str | None = None
    mode: str = "loop"  # "loop": one --loop call; "legs": leg by leg after a failure
    lat: list[float] | None = None
    lon: list[float] | None = None


def available() -> bool:
    """Whether ``planetsplitter``, ``routino-router`` and the shared profiles exist."""
    return (
        shutil.which(PLANETSPLITTER) is not None
        and shutil.which(ROUTER) is not None
        and (ROUTINO_SHARE / "profiles.xml").is_file()
        and (ROUTINO_SHARE / "tagging.xml").is_file()
    )


def build_database(osm_file: Path, out_dir: Path, prefix: str, *,
                   timeout_s: float = 600.0) -> RoutinoDB:
    """Run ``planetsplitter`` on ``osm_file`` (``.osm``, ``.osm.pbf``, …) into ``out_dir``.

    The log goes to ``out_dir/<prefix>-planetsplitter.log``.

    Raises
    ------
    RuntimeError
        If ``planetsplitter`` fails.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{prefix}-*.mem"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="routino-") as tmp:
        source = _without_overpass_header(osm_file, Path(tmp))
        cmd = [
            PLANETSPLITTER, f"--dir={out_dir}", f"--prefix={prefix}",
            f"--tagging={ROUTINO_SHARE / 'tagging.xml'}", "--loggable", str(source),
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
        build_s = time.perf_counter() - t0
    (out_dir / f"{prefix}-planetsplitter.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        msg = f"planetsplitter failed on {osm_file} (exit {proc.returncode}): {' | '.join(tail)}"
        raise RuntimeError(msg)
    return RoutinoDB(out_dir, prefix, build_s, osm_file)


_HEADER_LINE = re.compile(r"^\s*<(note|meta|remark)\b.*(/>|</\1>)\s*$")
_HEADER_LINES = 20


def _without_overpass_header(osm_file: Path, tmp: Path) -> Path:
    """The file itself, or a copy in ``tmp`` without Overpass's ``<note>``/``<meta>``.

    Routino's XML parser stops at elements it does not know; raw Overpass API
    output starts with ``<note>`` and ``<meta>`` lines.
    """
    if osm_file.suffix != ".osm":
        return osm_file
    with osm_file.open(encoding="utf-8") as fh:
        head = [fh.readline() for _ in range(_HEADER_LINES)]
    if not any(_HEADER_LINE.match(line) for line in head):
        return osm_file
    clean = tmp / osm_file.name
    with osm_file.open(encoding="utf-8") as src, clean.open("w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i < _HEADER_LINES and _HEADER_LINE.match(line):
                continue
            dst.write(line)
    return clean


def _track_points(gpx_text: str) -> tuple[list[float], list[float]]:
    gpx = gpxpy.parse(gpx_text)
    lat: list[float] = []
    lon: list[float] = []
    for trk in gpx.tracks:
        for seg in trk.segments:
            for p in seg.points:
                if lat and p.latitude == lat[-1] and p.longitude == lon[-1]:
                    continue
                lat.append(p.latitude)
                lon.append(p.longitude)
    return lat, lon


def track_length_m(lat: Sequence[float], lon: Sequence[float]) -> float:
    """Length of a polyline in metres (great circle between consecutive points)."""
    if len(lat) < 2:
        return 0.0
    la = np.asarray(lat, dtype=float)
    lo = np.asarray(lon, dtype=float)
    return float(haversine_m_array(la[:-1], lo[:-1], la[1:], lo[1:]).sum())


def geometric_repeated_share(lat: Sequence[float], lon: Sequence[float], *,
                             near_m: float = 8.0, gap_m: float = 60.0,
                             closed: bool = True) -> float:
    """Share of a track's length that runs where the track also runs elsewhere.

    The track is resampled every 10 m. A sample counts as repeated if a sample
    more than ``gap_m`` away *along the track* (cyclically for a closed loop)
    lies within ``near_m``. Both passes of a way ridden twice count, as in
    :func:`ringroute._metrics.repeated_share`, so the two measures agree for
    routes on a graph (up to ways closer together than ``near_m``).
    """
    x, y = resample_xy(lat, lon, _STEP_M)
    n = len(x)
    if n < 3:
        return 0.0
    tree = cKDTree(np.column_stack([x, y]))
    pairs = tree.query_pairs(near_m, output_type="ndarray")
    if len(pairs) == 0:
        return 0.0
    sep = np.abs(pairs[:, 0] - pairs[:, 1]).astype(float) * _STEP_M
    if closed:
        sep = np.minimum(sep, n * _STEP_M - sep)
    far = pairs[sep > gap_m]
    rep = np.zeros(n, dtype=bool)
    rep[far[:, 0]] = True
    rep[far[:, 1]] = True
    return float(rep.mean())


def _run_router(db: RoutinoDB, points: Sequence[tuple[float, float]], *, loop: bool,
                timeout_s: float) -> tuple[list[float], list[float], str | None]:
    """One ``routino-router`` call; returns the track or an error message."""
    cmd = [
        ROUTER, f"--dir={db.dir}", f"--prefix={db.prefix}",
        f"--profiles={ROUTINO_SHARE / 'profiles.xml'}",
        f"--translations={ROUTINO_SHARE / 'translations.xml'}",
        "--transport=bicycle", "--shortest", "--output-gpx-track", "--output-stdout",
    ]
    if loop:
        cmd.append("--loop")
    for i, (plat, plon) in enumerate(points, start=1):
        cmd += [f"--lat{i}={plat:.7f}", f"--lon{i}={plon:.7f}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              check=False)
    except subprocess.TimeoutExpired:
        return [], [], f"timeout after {timeout_s} s"
    if proc.returncode != 0 or "<trkpt" not in proc.stdout:
        text = (proc.stderr or proc.stdout).strip().splitlines()
        reason = text[-1] if text else f"exit {proc.returncode}"
        return [], [], f"routino: {reason[:160]}"
    try:
        lat, lon = _track_points(proc.stdout)
    except gpxpy.gpx.GPXException as exc:
        return [], [], f"unreadable GPX: {exc}"
    return lat, lon, None


def route_loop(db: RoutinoDB, points: Sequence[tuple[float, float]], *,
               timeout_s: float = 120.0, keep_track: bool = False) -> PeerRoute:
    """Route the shortest bike loop through ``points`` (``(lat, lon)``, start first).

    Uses ``routino-router --transport=bicycle --shortest --loop`` and reads the
    GPX track from stdout. Routino 3.3 sometimes fails to combine the legs of a
    multi-waypoint route ("Cannot create combined route following super-route")
    although each leg routes fine; then every leg is routed on its own and the
    tracks are joined (:attr:`PeerRoute.mode` ``"legs"``). Failures are returned
    in :attr:`PeerRoute.error`.
    """
    if len(points) < 2:
        return PeerRoute(error="needs at least one sight besides the start")
    if len(points) > 98:
        return PeerRoute(error="Routino takes at most 99 waypoints")
    t0 = time.perf_counter()
    lat, lon, err = _run_router(db, points, loop=True, timeout_s=timeout_s)
    mode = "loop"
    if err is not None and err.startswith("routino:"):
        mode = "legs"
        lat, lon = [], []
        closed = [*points, points[0]]
        for a, b in pairwise(closed):
            la, lo, err = _run_router(db, [a, b], loop=False, timeout_s=timeout_s)
            if err is not None:
                err = f"{err} (also leg by leg)"
                break
            skip = 1 if lat and (la[0], lo[0]) == (lat[-1], lon[-1]) else 0
            lat += la[skip:]
            lon += lo[skip:]
    seconds = time.perf_counter() - t0
    if err is not None:
        return PeerRoute(seconds=seconds, error=err, mode=mode)
    length = track_length_m(lat, lon)
    turns = count_turns(lat, lon)
    return PeerRoute(
        length_m=length,
        repeated_share=geometric_repeated_share(lat, lon),
        turns_per_km=turns / (length / 1000.0) if length > 0 else float("nan"),
        seconds=seconds,
        n_points=len(lat),
        mode=mode,
        lat=lat if keep_track else None,
        lon=lon if keep_track else None,
    )
