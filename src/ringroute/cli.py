"""Command-line interface: parse, call the library, print.

Exit codes: 0 success; 2 bad input (one line on stderr, nothing written);
1 other failures (network, disk); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ringroute import __version__
from ringroute._text import LANGS
from ringroute.cities import load_city
from ringroute.compare import MAX_SPEED_KMH, MIN_SPEED_KMH
from ringroute.errors import DownloadError, InputError, RingrouteRuntimeError
from ringroute.job import ALTERNATIVES, POINTS, TOLERANCES, PlanRequest, run_plan
from ringroute.loop import MAX_PREFER_CYCLEWAYS, MAX_TARGET_KM

_SPEEDS = f"{MIN_SPEED_KMH:g} to {MAX_SPEED_KMH:g} km/h"

#: the width of tables written to a pipe or file (no terminal to fit)
PIPED_WIDTH = 1000

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


EXIT_INTERRUPTED = 130  # 128 + SIGINT (Ctrl-C)
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a program it ended


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (``kill``, a service manager, ``timeout``): stop like Ctrl-C."""


def on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    """Raise :class:`Terminated` where the program is (a SIGTERM handler).

    ``with`` blocks then clean up: temporary output files are removed.
    """
    raise Terminated


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"ringroute: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _number(kind: type[int] | type[float], valid: str) -> Callable[[str], float]:
    """An argparse type: ``kind`` from text, or an error naming ``valid``."""
    def parse(text: str) -> float:
        try:
            return kind(text)
        except ValueError:
            word = "a whole number" if kind is int else "a number"
            msg = f"{text!r} is not {word}: valid is {valid}"
            raise argparse.ArgumentTypeError(msg) from None
    return parse


def _path(text: str) -> Path:
    if not text.strip():
        msg = "an empty path: give a file or folder name"
        raise argparse.ArgumentTypeError(msg)
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ringroute``."""
    p = _Parser(prog="ringroute", description="Plan cycling loops through named sights.")
    p.add_argument("--version", action="version", version=f"ringroute {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress output, no retry notes (warnings and errors still shown)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    plan = sub.add_parser("plan", help="plan a loop and write GPX + map")
    plan.add_argument("city", nargs="?", help="city catalogue (e.g. tsukuba, bochum)")
    plan.add_argument("--start", help="sight key/name or LAT,LON (default: the city's start)")
    plan.add_argument("--via", action="append", default=[], metavar="SIGHT",
                      help="sight to pass (key, name in en/de/ja, or LAT,LON); repeatable")
    plan.add_argument("--km", type=_number(float, f"more than 0 up to {MAX_TARGET_KM:g} km"),
                      default=50.0, help="target length in km (default 50)")
    plan.add_argument("--tolerance", type=_number(float, TOLERANCES), default=0.05,
                      help="allowed relative length error (default 0.05)")
    plan.add_argument("--osm", type=_path, help="local OSM extract (.osm, .osm.pbf, .bz2, .gz)")
    plan.add_argument("--out", type=_path, default=Path("maps"), help="output folder")
    plan.add_argument("--alternatives", type=_number(int, ALTERNATIVES), default=1,
                      help="number of distinct loops (each shares at most half its length "
                           "with another: its ways, or ways alongside them)")
    plan.add_argument("--seed", type=_number(int, "0 or more"), default=0,
                      help="seed for reproducible choices")
    plan.add_argument("--lang", default="en", help="labels language: en, de or ja")
    plan.add_argument("--max-points", type=_number(int, POINTS),
                      help="simplify the GPX track to N points")
    plan.add_argument("--gpx-route", action="store_true", help="also write a GPX <rte>")
    plan.add_argument("--prefer-cycleways", default=0.0,
                      type=_number(float, f"0 to {MAX_PREFER_CYCLEWAYS:g}"),
                      help="extra preference for cycleways and OSM cycle routes "
                           "(0 = default costs, 1 = half their cost)")
    plan.add_argument("--avoid", action="append", default=[], metavar="CLASS",
                      help="way class (main, tertiary, unpaved, ...) or OSM highway value "
                           "(primary, track, ...; with its links) to avoid; repeatable")
    plan.add_argument("--no-download", action="store_true",
                      help="never download; fail if no local extract is found")
    plan.add_argument("--dem", type=_path, help="elevation model (GeoTIFF) for <ele> in GPX")
    plan.add_argument("--offline-map", action="store_true",
                      help="inline Leaflet into the HTML map so it works without internet")
    plan.add_argument("--speed", type=_number(float, _SPEEDS), default=18.0,
                      help="riding speed in km/h for time estimates (default 18)")
    plan.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    comp = sub.add_parser("compare", help="compare GPX routes on a city's network")
    comp.add_argument("files", nargs="+", type=_path, metavar="FILE.gpx")
    comp.add_argument("--city", help="city catalogue whose network and sights to use")
    comp.add_argument("--osm", type=_path, help="local OSM extract")
    comp.add_argument("--out", type=_path, default=Path("maps"), help="output folder")
    comp.add_argument("--speed", type=_number(float, _SPEEDS), default=18.0,
                      help="riding speed in km/h")
    comp.add_argument("--lang", default="en", help="labels language: en, de or ja")
    comp.add_argument("--twin", action="store_true",
                      help="twin report: two rides in two cities side by side")
    comp.add_argument("--no-download", action="store_true", help="never download")
    comp.add_argument("--offline-map", action="store_true",
                      help="inline Leaflet into the report so its maps work without internet")
    comp.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    sights = sub.add_parser("sights", help="list a city's sights")
    sights.add_argument("city")
    sights.add_argument("--lang", default="en")
    sights.add_argument("--json", action="store_true")
    return p


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    elif verbose > 1:
        level = logging.DEBUG
    if quiet:  # no progress and no notes; warnings still show
        level = logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ringroute: %(message)s"))
    if quiet:  # warnings marked as progress (a retry on the way) are left out too
        handler.addFilter(lambda record: not getattr(record, "ringroute_progress", False))
    logger = logging.getLogger("ringroute")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def _cmd_plan(args: argparse.Namespace, err: Console, out: Console) -> int:
    req = PlanRequest(
        city=args.city, osm_path=args.osm, start=args.start, via=tuple(args.via),
        target_km=args.km, tolerance=args.tolerance, alternatives=args.alternatives,
        seed=args.seed, out_dir=args.out, lang=args.lang, max_points=args.max_points,
        gpx_route=args.gpx_route, prefer_cycleways=args.prefer_cycleways,
        avoid=tuple(args.avoid), download=not args.no_download, dem=args.dem,
        offline_map=args.offline_map, speed_kmh=args.speed,
    )
    show = not args.quiet and not args.json and err.is_terminal
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, disable=not show, transient=True) as prog:
        task = prog.add_task("starting", total=1.0)

        def progress(stage: str, fraction: float) -> None:
            prog.update(task, description=stage, completed=fraction)
            if not show:
                logging.getLogger("ringroute").info("%s", stage)

        result = run_plan(req, progress=progress)
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        return EXIT_OK
    table = Table(title=f"ringroute: {len(result.loops)} loop(s), target {args.km:g} km")
    for col in ("#", "km", "error", "ridden twice", "turns/km", "sights"):
        table.add_column(col, overflow="fold")  # a narrow or piped output: wrap, never cut
    for i, loop in enumerate(result.loops):
        twice = f"{loop.overlap_ratio:.1%}"
        if loop.forced_overlap_ratio >= 0.0005:
            twice += f" ({loop.forced_overlap_ratio:.1%} unavoidable at this length)"
        table.add_row(str(i + 1), f"{loop.length_m / 1000:.2f}", signed_pct(loop.length_error),
                      twice, f"{loop.turns_per_km:.1f}",
                      escape(", ".join(s.key for s in loop.sights)) or "–")
    out.print(table)
    # paths whole, one a line (to copy), and never read as rich markup
    for i, path in enumerate(result.gpx_paths):
        out.print(f"GPX {i + 1}: {escape(str(path))}", soft_wrap=True)
    out.print(f"map: {escape(str(result.map_path))}", soft_wrap=True)
    return EXIT_OK


def signed_pct(x: float) -> str:
    """``x`` as a signed per cent with one decimal; a tiny negative is "+0.0%", not "-0.0%"."""
    return f"{round(x, 3) + 0.0:+.1%}"


def _cmd_sights(args: argparse.Namespace, out: Console) -> int:
    city = load_city(args.city)
    if args.lang not in LANGS:
        msg = f"--lang {args.lang!r} is not supported: valid are {', '.join(LANGS)}"
        raise InputError(msg)
    if args.json:
        data = [
            {"key": s.key, "names": s.names, "lat": s.lat, "lon": s.lon,
             "category": s.category, "description": s.description,
             "accuracy_m": s.accuracy_m, "source": s.source}
            for s in city.sights
        ]
        sys.stdout.write(json.dumps({"city": city.key, "sights": data}, ensure_ascii=False)
                         + "\n")
        return EXIT_OK
    table = Table(title=escape(f"{city.name(args.lang)}: {len(city.sights)} sights "
                               f"(start: {city.default_start})"))
    for col in ("key", "en", "de", "ja", "category", "lat, lon", "±m"):
        table.add_column(col, overflow="fold")  # a narrow or piped output: wrap, never cut
    for s in city.sights:
        # catalogue text is shown as written, never read as rich markup
        table.add_row(*(escape(t) for t in (s.key, s.names.get("en", ""), s.names.get("de", ""),
                                            s.names.get("ja", ""), s.category)),
                      f"{s.lat:.5f}, {s.lon:.5f}", f"{s.accuracy_m:.0f}")
    out.print(table)
    return EXIT_OK


def _table_width(header: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """Characters a table needs to show every cell whole (borders and padding too)."""
    return 1 + sum(max(len(c) for c in (col, *(row[k] for row in rows))) + 3
                   for k, col in enumerate(header))


def _cmd_compare(args: argparse.Namespace, out: Console) -> int:
    from ringroute.compare import CompareRequest, run_compare  # noqa: PLC0415

    req = CompareRequest(
        files=tuple(args.files), city=args.city, osm_path=args.osm, out_dir=args.out,
        speed_kmh=args.speed, lang=args.lang, twin=args.twin, download=not args.no_download,
        offline_map=args.offline_map,
    )
    result = run_compare(req)
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        return EXIT_OK
    header, rows = result.table()
    table = Table(title="ringroute compare" + (" (twin)" if args.twin else ""))
    if _table_width(header, rows) <= out.width:
        for col in header:
            table.add_column(escape(col))
        for row in rows:  # names come from GPX files: never interpret them as rich markup
            table.add_row(*(escape(cell) for cell in row))
    else:  # too narrow a terminal for a column per measure: a column per route
        table.add_column("")
        for row in rows:
            table.add_column(escape(row[0]), overflow="fold")
        for k, col in enumerate(header[1:], start=1):
            table.add_row(escape(col), *(escape(row[k]) for row in rows))
    out.print(table)
    for path in result.written:
        out.print(f"wrote {escape(str(path))}", soft_wrap=True)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    _configure_logging(args.verbose, args.quiet)
    err = Console(stderr=True, highlight=False)
    # piped into a file or another program, tables keep their natural width (a key
    # split over two lines cannot be copied or found with grep); COLUMNS still rules
    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    out = Console(highlight=False, width=PIPED_WIDTH if piped else None)
    try:
        if args.command == "plan":
            return _cmd_plan(args, err, out)
        if args.command == "compare":
            return _cmd_compare(args, out)
        return _cmd_sights(args, out)
    except InputError as exc:
        sys.stderr.write(f"ringroute: error: {exc}\n")
        return EXIT_BAD_INPUT
    except DownloadError as exc:
        sys.stderr.write(f"ringroute: failed: {exc}; to plan offline, pass --osm FILE "
                         "(a local .osm or .osm.pbf extract)\n")
        return EXIT_FAILURE
    except (RingrouteRuntimeError, OSError) as exc:
        sys.stderr.write(f"ringroute: failed: {exc}\n")
        return EXIT_FAILURE
    except Terminated:
        sys.stderr.write("ringroute: terminated\n")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        sys.stderr.write("ringroute: interrupted\n")
        return EXIT_INTERRUPTED
