"""Local stand-in for the Overpass API and Nominatim, fed from real OSM extracts.

`OverpassServer` serves one OSM extract (OSM XML, Overpass XML or PBF) over HTTP
on 127.0.0.1 so that the real download code of ringroute -- osmnx
``graph_from_polygon`` with a ``custom_filter`` and ``geocode_to_gdf`` -- can be
tested offline, including the ways in which real servers fail.

Endpoints (``PORT`` is chosen by the operating system):

``GET  /api/status``
    Text in the format of the real Overpass status page, always reporting two
    free slots, so that osmnx's ``_get_overpass_pause`` returns 0.
``POST /api/interpreter`` (form field ``data``) or ``GET /api/interpreter?data=...``
    Evaluates a small, honest subset of Overpass QL against the extract and
    answers in Overpass JSON. Anything outside the subset is answered with
    HTTP 400 and an Overpass-style error page instead of a guess.
``GET  /nominatim/search``
    One Nominatim result whose polygon is ``nominatim_polygon`` or the
    extract's bounding box; a query containing "nowhere" finds nothing.
``GET  /nominatim/status``
    ``OK``, as Nominatim answers.

Supported Overpass QL
---------------------
* Settings ``[out:json]`` (required: this server writes JSON only),
  ``[timeout:N]`` and ``[maxsize:N]`` (both accepted and ignored).
* Query statements ``node`` and ``way`` with any number of filters:
  tag filters ``["k"]``, ``[!"k"]``, ``["k"="v"]``, ``["k"!="v"]``,
  ``["k"~"re"]``, ``["k"!~"re"]`` (a trailing ``,i`` makes the regular
  expression case-insensitive; keys and values may be single- or double-quoted,
  or unquoted if they consist of letters, digits and underscores only) and
  spatial filters ``(poly:"lat lon lat lon ...")``, ``(south,west,north,east)``,
  ``(id:1,2,3)`` and ``(123)``. As in Overpass, ``!=`` and ``!~`` also match
  objects that lack the key. Regular expressions use Python's ``re.search``,
  close to Overpass's unanchored POSIX extended expressions.
* Recursion ``>`` (and ``>>``, identical here because relations are not
  served), the item statement ``._``, unions ``( ... );`` and
  ``out;``/``out body;``/``out skel;``/``out qt;``.
* ``relation``, ``nwr``, ``area``, ``around``, named sets and the like are
  rejected with HTTP 400.

Spatial semantics (a simplification of Overpass): a node matches a polygon or
bounding box if it lies inside or on its boundary; a way matches if at least one
of its nodes does (Overpass would also select a way that merely crosses the area
between two nodes outside it). Output lists nodes first, then ways, each sorted
by id, as Overpass's ``out;`` does.

Missing nodes: a way that references nodes absent from the extract keeps only
the references that are present, in their order (so it ends at the edge of the
extract, and its ``nodes`` list never names a node that the response cannot
deliver); only present nodes count for the spatial test, and a way none of
whose nodes is present is never returned. The three shared extracts have no
such references; the rule matters for clipped extracts.

Faults
------
``faults`` is a queue consumed one entry per request to ``/interpreter`` or to
Nominatim ``search`` (status requests consume nothing); when it is empty the
server answers normally. Entries are listed in `FAULTS`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import socket
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import parse_qs, urlsplit

import numpy as np
import numpy.typing as npt
import osmium
import osmium.osm
import shapely
from shapely.geometry import Polygon, box, mapping

__all__ = [
    "FAULTS",
    "OsmExtract",
    "OverpassServer",
    "QLError",
    "load_extract",
    "refused_url",
]

#: Every fault a server can be told to produce, with what the client receives.
FAULTS: Final[Mapping[str, str]] = {
    "ok": "the normal answer",
    "429": "HTTP 429 Too Many Requests with a 'Retry-After: 1' header",
    "504": "HTTP 504 Gateway Timeout with an HTML body",
    "500": "HTTP 500 Internal Server Error with an HTML body",
    "garbage": "HTTP 200 with the non-JSON body '<html>oops</html>'",
    "truncate": "HTTP 200 announcing the full Content-Length, then half the body and a "
    "closed connection",
    "timeout": "the normal answer after delay_s seconds (5 s if delay_s is 0)",
    "empty": "valid JSON without results (Overpass: 'elements': []; Nominatim: [])",
    "remark": "Overpass: valid JSON with no elements and the remark "
    "'runtime error: Query timed out'; Nominatim: HTTP 200 with a JSON error object "
    "instead of a list",
}

REMARK_TIMEOUT: Final = "runtime error: Query timed out"
GENERATOR: Final = "ringroute test server"
COPYRIGHT: Final = (
    "The data included in this document is from www.openstreetmap.org. "
    "The data is made available under ODbL."
)
NOMINATIM_LICENCE: Final = "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright"
DEFAULT_TIMEOUT_DELAY_S: Final = 5.0

_API_PREFIX: Final = "/api"
_NOMINATIM_PREFIX: Final = "/nominatim"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------- extract


@dataclass(frozen=True)
class Way:
    """One OSM way of an extract.

    Attributes
    ----------
    id
        OSM way id.
    refs
        Ids of the way's nodes that are present in the extract, in way order.
    tags
        The way's tags.
    missing_refs
        Number of node references dropped because the node is not in the extract.
    """

    id: int
    refs: tuple[int, ...]
    tags: dict[str, str]
    missing_refs: int = 0


@dataclass(frozen=True)
class OsmExtract:
    """Nodes and ways of one OSM file, arranged for fast queries.

    Attributes
    ----------
    path
        The file the data was read from.
    node_ids, lat, lon
        Ids and WGS84 coordinates of all nodes, in file order.
    node_index
        Position of each node id in `node_ids`.
    node_tags
        Tags of the nodes that have tags.
    ways
        All ways, in file order.
    way_index
        Position of each way id in `ways`.
    way_node_pos
        Concatenated positions (into `node_ids`) of every way's present nodes.
    way_offsets
        Way ``i`` owns ``way_node_pos[way_offsets[i]:way_offsets[i + 1]]``.
    bounds
        ``(south, west, north, east)``: the file's declared bounding box clipped to
        the nodes' extent, or the nodes' extent if the file declares none.
    timestamp
        Replication timestamp of the file, else the newest object timestamp, as
        ``YYYY-MM-DDTHH:MM:SSZ``.
    relation_count
        Number of relations in the file (read, but not served).
    """

    path: Path
    node_ids: IntArray
    lat: FloatArray
    lon: FloatArray
    node_index: dict[int, int]
    node_tags: dict[int, dict[str, str]]
    ways: list[Way]
    way_index: dict[int, int]
    way_node_pos: IntArray
    way_offsets: IntArray
    bounds: tuple[float, float, float, float]
    timestamp: str
    relation_count: int

    @property
    def missing_refs(self) -> int:
        """Total number of way node references that the extract cannot resolve."""
        return sum(way.missing_refs for way in self.ways)


class _Collector(osmium.SimpleHandler):
    """Copy nodes and ways out of pyosmium's short-lived objects."""

    def __init__(self) -> None:
        super().__init__()
        self.node_ids: list[int] = []
        self.lat: list[float] = []
        self.lon: list[float] = []
        self.node_tags: dict[int, dict[str, str]] = {}
        self.ways: list[tuple[int, list[int], dict[str, str]]] = []
        self.relation_count = 0
        self.newest = 0.0

    def node(self, n: osmium.osm.Node) -> None:
        loc = n.location
        if not loc.valid():
            return
        self.node_ids.append(n.id)
        self.lat.append(loc.lat)
        self.lon.append(loc.lon)
        if len(n.tags):
            self.node_tags[n.id] = {tag.k: tag.v for tag in n.tags}
        self.newest = max(self.newest, n.timestamp.timestamp())

    def way(self, w: osmium.osm.Way) -> None:
        self.ways.append((w.id, [nr.ref for nr in w.nodes], {tag.k: tag.v for tag in w.tags}))
        self.newest = max(self.newest, w.timestamp.timestamp())

    def relation(self, r: osmium.osm.Relation) -> None:
        self.relation_count += 1


def _read_extract(path: Path) -> OsmExtract:
    collector = _Collector()
    collector.apply_file(str(path), locations=True)

    reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
    try:
        header = reader.header()
        header_box = header.box()
        stamp = header.get("osmosis_replication_timestamp", "") or header.get("timestamp", "")
    finally:
        reader.close()

    node_ids = np.asarray(collector.node_ids, dtype=np.int64)
    lat = np.asarray(collector.lat, dtype=np.float64)
    lon = np.asarray(collector.lon, dtype=np.float64)
    node_index = {int(node_id): pos for pos, node_id in enumerate(collector.node_ids)}

    ways: list[Way] = []
    positions: list[int] = []
    offsets = [0]
    for way_id, refs, tags in collector.ways:
        present = tuple(ref for ref in refs if ref in node_index)
        ways.append(Way(way_id, present, tags, len(refs) - len(present)))
        positions.extend(node_index[ref] for ref in present)
        offsets.append(len(positions))

    if len(node_ids):
        south, west = float(lat.min()), float(lon.min())
        north, east = float(lat.max()), float(lon.max())
    else:
        south = west = north = east = 0.0
    if header_box.valid():
        bl, tr = header_box.bottom_left, header_box.top_right
        clipped = (max(south, bl.lat), max(west, bl.lon), min(north, tr.lat), min(east, tr.lon))
        if clipped[0] < clipped[2] and clipped[1] < clipped[3]:
            south, west, north, east = clipped

    if not stamp:
        newest = dt.datetime.fromtimestamp(collector.newest, tz=dt.UTC)
        stamp = newest.strftime("%Y-%m-%dT%H:%M:%SZ")

    return OsmExtract(
        path=path,
        node_ids=node_ids,
        lat=lat,
        lon=lon,
        node_index=node_index,
        node_tags=collector.node_tags,
        ways=ways,
        way_index={way.id: pos for pos, way in enumerate(ways)},
        way_node_pos=np.asarray(positions, dtype=np.int64),
        way_offsets=np.asarray(offsets, dtype=np.int64),
        bounds=(south, west, north, east),
        timestamp=stamp,
        relation_count=collector.relation_count,
    )


_EXTRACTS: dict[tuple[Path, int, int], OsmExtract] = {}
_EXTRACTS_LOCK = threading.Lock()


def load_extract(osm_path: Path | str) -> OsmExtract:
    """Parse an OSM file once per process and return the cached result.

    Parameters
    ----------
    osm_path
        OSM XML, Overpass XML or PBF file.

    Returns
    -------
    OsmExtract
        The parsed data; the same object for every call with the same unchanged file.
    """
    path = Path(osm_path).resolve()
    stat = path.stat()
    key = (path, stat.st_mtime_ns, stat.st_size)
    with _EXTRACTS_LOCK:
        extract = _EXTRACTS.get(key)
        if extract is None:
            extract = _read_extract(path)
            _EXTRACTS[key] = extract
        return extract


# --------------------------------------------------------------------------- Overpass QL


class QLError(ValueError):
    """An Overpass QL query outside the subset this server understands."""


@dataclass(frozen=True)
class TagCondition:
    """One tag filter such as ``["highway"!~"footway|steps"]``.

    Attributes
    ----------
    key
        The tag key.
    op
        One of ``"exists"``, ``"absent"``, ``"="``, ``"!="``, ``"~"``, ``"!~"``.
    value
        The value or regular expression (empty for ``exists``/``absent``).
    ignore_case
        Whether a ``,i`` flag followed the regular expression.
    """

    key: str
    op: str
    value: str = ""
    ignore_case: bool = False
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Tell whether an object with these tags passes the filter.

        Parameters
        ----------
        tags
            The object's tags.

        Returns
        -------
        bool
            True if the object passes.
        """
        value = tags.get(self.key)
        if self.op == "exists":
            return value is not None
        if self.op == "absent":
            return value is None
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self.pattern is not None
        found = value is not None and self.pattern.search(value) is not None
        return found if self.op == "~" else not found

    @property
    def needs_key(self) -> bool:
        """Whether only objects carrying the key can pass."""
        return self.op in {"exists", "=", "~"}


@dataclass(frozen=True)
class PolyFilter:
    """``(poly:"lat lon ...")``: inside or on the boundary of a polygon."""

    polygon: Polygon


@dataclass(frozen=True)
class BboxFilter:
    """``(south,west,north,east)``: inside or on the boundary of a box."""

    south: float
    west: float
    north: float
    east: float


@dataclass(frozen=True)
class IdFilter:
    """``(id:1,2)`` or ``(1)``: objects with one of these ids."""

    ids: frozenset[int]


SpatialFilter = PolyFilter | BboxFilter | IdFilter


@dataclass(frozen=True)
class QueryStmt:
    """``node`` or ``way`` with filters."""

    kind: str
    tags: tuple[TagCondition, ...]
    spatial: tuple[SpatialFilter, ...]


@dataclass(frozen=True)
class RecurseDown:
    """``>`` (and ``>>``): the nodes of the ways in the input set."""


@dataclass(frozen=True)
class ItemStmt:
    """``._``: the input set itself."""


@dataclass(frozen=True)
class UnionStmt:
    """``( ... );``: the union of the results of the statements inside."""

    body: tuple[Statement, ...]


@dataclass(frozen=True)
class OutStmt:
    """``out;``: write the input set to the output."""

    tags: bool = True


Statement = QueryStmt | RecurseDown | ItemStmt | UnionStmt | OutStmt

_UNQUOTED = re.compile(r"[A-Za-z0-9_]+")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES: Final = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\"}
_OUT_WORDS: Final = {"body", "skel", "qt", "asc"}


class _QLParser:
    """Recursive-descent parser for the supported Overpass QL subset."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> QLError:
        line = self.text.count("\n", 0, self.pos) + 1
        return QLError(f"line {line}: parse error: {message}")

    def skip(self) -> None:
        while self.pos < len(self.text):
            if self.text[self.pos].isspace():
                self.pos += 1
            elif self.text.startswith("//", self.pos):
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif self.text.startswith("/*", self.pos):
                end = self.text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("unterminated comment")
                self.pos = end + 2
            else:
                return

    def at(self, token: str) -> bool:
        self.skip()
        return self.text.startswith(token, self.pos)

    def accept(self, token: str) -> bool:
        if self.at(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.accept(token):
            found = self.text[self.pos : self.pos + 20] or "end of query"
            raise self.error(f"expected {token!r}, found {found!r}")

    def match(self, pattern: re.Pattern[str], what: str) -> str:
        self.skip()
        m = pattern.match(self.text, self.pos)
        if m is None:
            raise self.error(f"expected {what} at {self.text[self.pos : self.pos + 20]!r}")
        self.pos = m.end()
        return m.group()

    def string(self) -> str:
        self.skip()
        quote = self.text[self.pos : self.pos + 1]
        if quote not in {'"', "'"}:
            return self.match(_UNQUOTED, "a string")
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated string")
            char = self.text[self.pos]
            if char == quote:
                self.pos += 1
                return "".join(out)
            if char == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                # keep unknown escapes (regular expressions like "\." need them)
                out.append(_ESCAPES.get(nxt, "\\" + nxt))
                self.pos += 2
            else:
                out.append(char)
                self.pos += 1

    def number(self) -> float:
        return float(self.match(_NUMBER, "a number"))

    def parse(self) -> tuple[dict[str, str], list[Statement]]:
        settings: dict[str, str] = {}
        if self.at("["):
            while self.accept("["):
                name = self.match(_IDENT, "a setting name")
                self.expect(":")
                self.skip()
                end = self.text.find("]", self.pos)
                if end < 0:
                    raise self.error("unterminated setting")
                settings[name] = self.text[self.pos : end].strip()
                self.pos = end + 1
            self.expect(";")
        statements: list[Statement] = []
        while True:
            self.skip()
            if self.pos >= len(self.text):
                return settings, statements
            statements.append(self.statement())

    def statement(self) -> Statement:
        if self.accept("("):
            body: list[Statement] = []
            while not self.accept(")"):
                if self.pos >= len(self.text):
                    raise self.error("unterminated union")
                body.append(self.statement())
            self.end_statement()
            return UnionStmt(tuple(body))
        if self.accept(">>") or self.accept(">"):
            self.end_statement()
            return RecurseDown()
        if self.accept("._"):
            self.end_statement()
            return ItemStmt()
        if self.at("<") or self.at("."):
            raise self.error("recurse up and named sets are not supported by the test server")
        word = self.match(_IDENT, "a statement")
        if word == "out":
            words: list[str] = []
            while not self.at(";"):
                words.append(self.match(_IDENT, "an out parameter"))
            unsupported = set(words) - _OUT_WORDS
            if unsupported:
                raise self.error(f"out parameter(s) {sorted(unsupported)} not supported")
            self.expect(";")
            return OutStmt(tags="skel" not in words)
        if word in {"node", "way"}:
            return self.query(word)
        raise self.error(f"statement {word!r} is not supported by the test server")

    def end_statement(self) -> None:
        if self.at("->"):
            raise self.error("named result sets are not supported by the test server")
        self.expect(";")

    def query(self, kind: str) -> QueryStmt:
        tags: list[TagCondition] = []
        spatial: list[SpatialFilter] = []
        while True:
            if self.accept("["):
                tags.append(self.tag_condition())
            elif self.accept("("):
                spatial.append(self.spatial_filter())
            else:
                break
        self.end_statement()
        return QueryStmt(kind, tuple(tags), tuple(spatial))

    def tag_condition(self) -> TagCondition:
        if self.accept("!"):
            key = self.string()
            self.expect("]")
            return TagCondition(key, "absent")
        if self.at("~"):
            raise self.error("key regular expressions are not supported by the test server")
        key = self.string()
        if self.accept("]"):
            return TagCondition(key, "exists")
        for op in ("!=", "!~", "=", "~"):
            if self.accept(op):
                break
        else:
            raise self.error("expected '=', '!=', '~', '!~' or ']' in tag filter")
        value = self.string()
        ignore_case = False
        if self.accept(","):
            self.expect("i")
            if "~" not in op:
                raise self.error("',i' is only allowed after a regular expression")
            ignore_case = True
        self.expect("]")
        pattern = None
        if "~" in op:
            try:
                pattern = re.compile(value, re.IGNORECASE if ignore_case else 0)
            except re.error as exc:
                raise self.error(f"invalid regular expression {value!r}: {exc}") from exc
        return TagCondition(key, op, value, ignore_case, pattern)

    def spatial_filter(self) -> SpatialFilter:
        if self.accept("poly"):
            self.expect(":")
            coords = self.string().split()
            if len(coords) % 2 or len(coords) < 6:
                raise self.error("a polygon needs an even number (at least 6) of coordinates")
            try:
                values = [float(c) for c in coords]
            except ValueError as exc:
                raise self.error(f"bad polygon coordinate: {exc}") from exc
            ring = list(zip(values[1::2], values[0::2], strict=True))  # (lon, lat)
            self.expect(")")
            polygon = Polygon(ring)
            shapely.prepare(polygon)
            return PolyFilter(polygon)
        if self.accept("id"):
            self.expect(":")
            ids = [self.match(_NUMBER, "an id")]
            while self.accept(","):
                ids.append(self.match(_NUMBER, "an id"))
            self.expect(")")
            return IdFilter(frozenset(int(i) for i in ids))
        if self.at("around") or self.at("if") or self.at("newer") or self.at("area"):
            raise self.error("this filter is not supported by the test server")
        numbers = [self.number()]
        while self.accept(","):
            numbers.append(self.number())
        self.expect(")")
        if len(numbers) == 1:
            return IdFilter(frozenset({int(numbers[0])}))
        if len(numbers) == 4:
            return BboxFilter(*numbers)
        raise self.error("expected an id or a bounding box (south,west,north,east)")


def parse_query(text: str) -> tuple[dict[str, str], list[Statement]]:
    """Parse an Overpass QL query of the supported subset.

    Parameters
    ----------
    text
        The query, e.g. ``[out:json];(way["highway"](poly:'...');>;);out;``.

    Returns
    -------
    tuple[dict[str, str], list[Statement]]
        The global settings and the statements.

    Raises
    ------
    QLError
        If the query is malformed or uses unsupported syntax.
    """
    settings, statements = _QLParser(text).parse()
    unknown = set(settings) - {"out", "timeout", "maxsize"}
    if unknown:
        raise QLError(f"line 1: parse error: settings {sorted(unknown)} not supported")
    if settings.get("out") != "json":
        raise QLError("line 1: parse error: the test server answers only [out:json] queries")
    if not any(isinstance(s, OutStmt) for s in statements):
        raise QLError("line 1: parse error: the query has no out statement")
    return settings, statements


@dataclass
class _ResultSet:
    nodes: set[int] = field(default_factory=set)
    ways: set[int] = field(default_factory=set)

    def union(self, other: _ResultSet) -> _ResultSet:
        return _ResultSet(self.nodes | other.nodes, self.ways | other.ways)


class _Evaluator:
    """Execute parsed statements against an extract."""

    def __init__(self, extract: OsmExtract) -> None:
        self.extract = extract
        self.elements: list[dict[str, Any]] = []

    def run(self, statements: Iterable[Statement]) -> list[dict[str, Any]]:
        current = _ResultSet()
        for statement in statements:
            current = self.execute(statement, current)
        return self.elements

    def execute(self, statement: Statement, current: _ResultSet) -> _ResultSet:
        if isinstance(statement, UnionStmt):
            result = _ResultSet()
            for sub in statement.body:
                current = self.execute(sub, current)
                result = result.union(current)
            return result
        if isinstance(statement, RecurseDown):
            ways = self.extract.ways
            index = self.extract.way_index
            return _ResultSet({ref for w in current.ways for ref in ways[index[w]].refs})
        if isinstance(statement, ItemStmt):
            return current
        if isinstance(statement, OutStmt):
            self.elements.extend(self.output(current, tags=statement.tags))
            return current
        return self.query(statement)

    def node_mask(self, spatial: Iterable[SpatialFilter]) -> BoolArray:
        ex = self.extract
        mask: BoolArray = np.ones(len(ex.node_ids), dtype=np.bool_)
        for flt in spatial:
            if isinstance(flt, PolyFilter):
                mask &= shapely.intersects_xy(flt.polygon, ex.lon, ex.lat)
            elif isinstance(flt, BboxFilter):
                mask &= (ex.lat >= flt.south) & (ex.lat <= flt.north)
                mask &= (ex.lon >= flt.west) & (ex.lon <= flt.east)
        return mask

    def query(self, statement: QueryStmt) -> _ResultSet:
        ex = self.extract
        spatial = [f for f in statement.spatial if not isinstance(f, IdFilter)]
        id_sets = [f.ids for f in statement.spatial if isinstance(f, IdFilter)]
        conds = statement.tags

        def passes(tags: Mapping[str, str]) -> bool:
            return all(cond.matches(tags) for cond in conds)

        if statement.kind == "node":
            mask = self.node_mask(spatial)
            if any(cond.needs_key for cond in conds):
                candidates: Iterable[int] = (
                    node_id for node_id in ex.node_tags if mask[ex.node_index[node_id]]
                )
            else:
                candidates = (int(i) for i in ex.node_ids[mask])
            nodes = {
                node_id
                for node_id in candidates
                if all(node_id in ids for ids in id_sets) and passes(ex.node_tags.get(node_id, {}))
            }
            return _ResultSet(nodes=nodes)

        positions = [
            pos
            for pos, way in enumerate(ex.ways)
            if way.refs and all(way.id in ids for ids in id_sets) and passes(way.tags)
        ]
        if spatial and positions:
            inside = self.node_mask(spatial)[ex.way_node_pos]
            cumulative = np.concatenate(([0], np.cumsum(inside, dtype=np.int64)))
            counts = cumulative[ex.way_offsets[1:]] - cumulative[ex.way_offsets[:-1]]
            positions = [pos for pos in positions if counts[pos] > 0]
        return _ResultSet(ways={ex.ways[pos].id for pos in positions})

    def output(self, result: _ResultSet, *, tags: bool) -> Iterable[dict[str, Any]]:
        ex = self.extract
        for node_id in sorted(result.nodes):
            pos = ex.node_index[node_id]
            node: dict[str, Any] = {
                "type": "node",
                "id": node_id,
                "lat": round(float(ex.lat[pos]), 7),
                "lon": round(float(ex.lon[pos]), 7),
            }
            node_tags = ex.node_tags.get(node_id)
            if tags and node_tags:
                node["tags"] = dict(node_tags)
            yield node
        for way_id in sorted(result.ways):
            way = ex.ways[ex.way_index[way_id]]
            element: dict[str, Any] = {"type": "way", "id": way_id, "nodes": list(way.refs)}
            if tags and way.tags:
                element["tags"] = dict(way.tags)
            yield element


def run_query(extract: OsmExtract, text: str) -> list[dict[str, Any]]:
    """Evaluate an Overpass QL query and return the Overpass JSON elements.

    Parameters
    ----------
    extract
        The data to query.
    text
        The Overpass QL query.

    Returns
    -------
    list[dict[str, Any]]
        The elements written by the query's ``out`` statements.

    Raises
    ------
    QLError
        If the query is malformed or uses unsupported syntax.
    """
    _, statements = parse_query(text)
    return _Evaluator(extract).run(statements)


# --------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def _json_response(obj: object, status: int = 200) -> _Response:
    return _Response(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"))


def _html_response(status: int, message: str) -> _Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head>'
        "<title>OSM3S Response</title></head>\n<body>\n"
        f"<p>{COPYRIGHT}</p>\n"
        f'<p><strong style="color:#FF0000">Error</strong>: {message} </p>\n'
        "</body>\n</html>\n"
    )
    return _Response(status, body.encode("utf-8"), "text/html; charset=utf-8")


def refused_url() -> str:
    """Return an Overpass-style URL on 127.0.0.1 where nothing listens.

    Returns
    -------
    str
        ``http://127.0.0.1:PORT/api`` for a port that was free a moment ago.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{_API_PREFIX}"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: OverpassServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: unexpected handler errors are collected in ``owner.errors``."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ringroute-test-overpass/1"
    timeout = 10  # idle keep-alive connections end after this many seconds

    @property
    def owner(self) -> OverpassServer:
        return cast(_HTTPServer, self.server).owner

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def dispatch(self, method: str) -> None:
        owner = self.owner
        parts = urlsplit(self.path)
        path = parts.path
        owner.record(method, path)
        body = b""
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            body = self.rfile.read(length)
        try:
            if path == f"{_API_PREFIX}/status":
                self.send(owner.overpass_status())
            elif path == f"{_API_PREFIX}/interpreter":
                query = self.overpass_query(method, parts.query, body)
                self.answer(
                    owner.next_fault(),
                    normal=lambda: owner.overpass_answer(query),
                    empty=lambda: owner.overpass_json([]),
                    remark=lambda: owner.overpass_json([], remark=REMARK_TIMEOUT),
                )
            elif path in {f"{_NOMINATIM_PREFIX}/search", f"{_NOMINATIM_PREFIX}/search.php"}:
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                self.answer(
                    owner.next_fault(),
                    normal=lambda: owner.nominatim_search(params),
                    empty=lambda: _json_response([]),
                    remark=lambda: _json_response(
                        {"error": {"code": 500, "message": REMARK_TIMEOUT}}
                    ),
                )
            elif path in {f"{_NOMINATIM_PREFIX}/status", f"{_NOMINATIM_PREFIX}/status.php"}:
                self.send(_Response(200, b"OK", "text/plain; charset=utf-8"))
            else:
                self.send(_json_response({"error": f"not found: {path}"}, status=404))
        except Exception as exc:  # noqa: BLE001 - reported through owner.errors
            owner.errors.append(exc)
            with contextlib.suppress(OSError):
                self.send(_html_response(500, f"test server bug: {exc!r}"))

    @staticmethod
    def overpass_query(method: str, query_string: str, body: bytes) -> str:
        if method == "GET":
            return parse_qs(query_string).get("data", [""])[-1]
        text = body.decode("utf-8", errors="replace")
        form = parse_qs(text)
        if "data" in form:
            return form["data"][-1]
        return text  # a raw query posted as the body

    def answer(
        self,
        fault: str,
        *,
        normal: Callable[[], _Response],
        empty: Callable[[], _Response],
        remark: Callable[[], _Response],
    ) -> None:
        owner = self.owner
        if fault == "timeout":
            delay = owner.delay_s if owner.delay_s > 0 else DEFAULT_TIMEOUT_DELAY_S
            if owner.stopping.wait(delay):
                self.close_connection = True
                return
            self.send(normal())
        elif fault == "429":
            self.send(
                _Response(
                    429,
                    b"Too Many Requests: rate limited by the test server\n",
                    "text/plain; charset=utf-8",
                    (("Retry-After", "1"),),
                )
            )
        elif fault == "504":
            self.send(_html_response(504, "Gateway Timeout (test server fault)"))
        elif fault == "500":
            self.send(_html_response(500, "Internal Server Error (test server fault)"))
        elif fault == "garbage":
            self.send(_Response(200, b"<html>oops</html>", "text/html; charset=utf-8"))
        elif fault == "truncate":
            self.send(normal(), truncate=True)
        elif fault == "empty":
            self.send(empty())
        elif fault == "remark":
            self.send(remark())
        else:
            self.send(normal())

    def send(self, response: _Response, *, truncate: bool = False) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            if truncate:
                self.wfile.write(response.body[: len(response.body) // 2])
                self.wfile.flush()
                self.close_connection = True
            else:
                self.wfile.write(response.body)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. timed out)


class OverpassServer:
    """Overpass API and Nominatim look-alike on 127.0.0.1, fed from an OSM extract.

    Use as a context manager; the server runs in a daemon thread while inside.

    Parameters
    ----------
    osm_path
        OSM XML, Overpass XML or PBF extract to serve (parsed once per process).
    faults
        Queue of answers for the next requests to ``/interpreter`` or Nominatim
        ``search``, one entry per request; see `FAULTS`. Afterwards the server
        answers normally.
    delay_s
        How long a ``"timeout"`` fault waits before answering (0 means 5 s).
    nominatim_polygon
        ``(south, west, north, east)`` of the polygon Nominatim returns; the
        extract's bounding box if None.

    Attributes
    ----------
    extract
        The parsed extract.
    requests
        ``(method, path)`` of every request received, path without query string.
    errors
        Unexpected exceptions raised while answering (empty unless the server has a bug).

    Examples
    --------
    >>> with OverpassServer(path, faults=["429"]) as server:  # doctest: +SKIP
    ...     ox.settings.overpass_url = server.url
    ...     ox.settings.nominatim_url = server.nominatim_url
    """

    def __init__(
        self,
        osm_path: Path,
        *,
        faults: Sequence[str] = (),
        delay_s: float = 0.0,
        nominatim_polygon: tuple[float, float, float, float] | None = None,
    ) -> None:
        unknown = [f for f in faults if f not in FAULTS]
        if unknown:
            msg = f"unknown fault(s) {unknown}; choose from {sorted(FAULTS)}"
            raise ValueError(msg)
        if delay_s < 0:
            msg = f"delay_s must be >= 0, not {delay_s}"
            raise ValueError(msg)
        if nominatim_polygon is not None:
            south, west, north, east = nominatim_polygon
            if not (south < north and west < east):
                msg = f"nominatim_polygon must be (south, west, north, east): {nominatim_polygon}"
                raise ValueError(msg)
        self.extract = load_extract(osm_path)
        self.delay_s = float(delay_s)
        self.nominatim_polygon = nominatim_polygon
        self.requests: list[tuple[str, str]] = []
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self._faults: deque[str] = deque(faults)
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base = ""

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> OverpassServer:
        if self._httpd is not None or self.stopping.is_set():
            msg = "an OverpassServer can be started only once"
            raise RuntimeError(msg)
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        port = httpd.server_port
        self._base = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"overpass-test-server-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """Overpass base URL, e.g. ``http://127.0.0.1:PORT/api`` (for ``overpass_url``)."""
        return self._require_base() + _API_PREFIX

    @property
    def nominatim_url(self) -> str:
        """Nominatim base URL ``http://127.0.0.1:PORT/nominatim/`` (for ``nominatim_url``)."""
        return self._require_base() + _NOMINATIM_PREFIX + "/"

    @staticmethod
    def refused_url() -> str:
        """Return an ``http://127.0.0.1:PORT/api`` URL where nothing listens.

        Returns
        -------
        str
            See the module-level `refused_url`.
        """
        return refused_url()

    def _require_base(self) -> str:
        if not self._base:
            msg = "the server is not running; use it as a context manager"
            raise RuntimeError(msg)
        return self._base

    # -- bookkeeping -----------------------------------------------------------------

    def record(self, method: str, path: str) -> None:
        """Append one request to `requests` (thread-safe).

        Parameters
        ----------
        method
            HTTP method.
        path
            Request path without query string.
        """
        with self._lock:
            self.requests.append((method, path))

    def count(self, path_suffix: str) -> int:
        """Count the requests whose path ends with `path_suffix`.

        Parameters
        ----------
        path_suffix
            E.g. ``"/interpreter"``, ``"/status"`` or ``"/search"``.

        Returns
        -------
        int
            Number of matching requests so far.
        """
        with self._lock:
            return sum(1 for _, path in self.requests if path.endswith(path_suffix))

    def next_fault(self) -> str:
        """Take the next entry off the fault queue (``"ok"`` when it is empty).

        Returns
        -------
        str
            The fault to apply to the current request.
        """
        with self._lock:
            return self._faults.popleft() if self._faults else "ok"

    @property
    def pending_faults(self) -> list[str]:
        """Faults not yet consumed."""
        with self._lock:
            return list(self._faults)

    # -- answers -----------------------------------------------------------------------

    def overpass_status(self) -> _Response:
        """Build the ``/api/status`` page."""
        now = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = (
            "Connected as: 2130706433\n"
            f"Current time: {now}\n"
            "Announced endpoint: none\n"
            "Rate limit: 2\n"
            "2 slots available now.\n"
            "Currently running queries (pid, space limit, time limit, start time):\n"
        )
        return _Response(200, text.encode("ascii"), "text/plain; charset=utf-8")

    def overpass_json(self, elements: list[dict[str, Any]], remark: str | None = None) -> _Response:
        """Wrap elements in the Overpass JSON envelope."""
        doc: dict[str, Any] = {
            "version": 0.6,
            "generator": GENERATOR,
            "osm3s": {"timestamp_osm_base": self.extract.timestamp, "copyright": COPYRIGHT},
            "elements": elements,
        }
        if remark is not None:
            doc["remark"] = remark
        return _json_response(doc)

    def overpass_answer(self, query: str) -> _Response:
        """Evaluate a query; HTTP 400 with an Overpass-style error page if unsupported."""
        if not query.strip():
            return _html_response(400, "line 1: parse error: empty query (no 'data' field)")
        try:
            elements = run_query(self.extract, query)
        except QLError as exc:
            return _html_response(400, str(exc))
        return self.overpass_json(elements)

    def nominatim_search(self, params: Mapping[str, str]) -> _Response:
        """Answer a Nominatim ``search`` request."""
        structured = [
            params[k]
            for k in ("amenity", "street", "city", "county", "state", "country", "postalcode")
            if params.get(k)
        ]
        text = params.get("q") or ", ".join(structured)
        if not text:
            return _json_response(
                {"error": {"code": 400, "message": "Nothing to search for."}}, 400
            )
        fmt = params.get("format", "jsonv2")
        if fmt not in {"json", "jsonv2"}:
            return _json_response(
                {"error": {"code": 400, "message": f"format {fmt!r} not served here"}}, 400
            )
        try:
            limit = int(params.get("limit", "10"))
        except ValueError:
            return _json_response({"error": {"code": 400, "message": "bad limit"}}, 400)
        if "nowhere" in text.lower() or limit < 1:
            return _json_response([])

        south, west, north, east = self.nominatim_polygon or self.extract.bounds
        polygon = box(west, south, east, north)
        centre = polygon.centroid
        fake_id = zlib.crc32(text.encode("utf-8")) % 10_000_000 + 1
        result: dict[str, Any] = {
            "place_id": 100_000_000 + fake_id,
            "licence": NOMINATIM_LICENCE,
            "osm_type": "relation",
            "osm_id": fake_id,
            "lat": f"{centre.y:.7f}",
            "lon": f"{centre.x:.7f}",
            "category" if fmt == "jsonv2" else "class": "boundary",
            "type": "administrative",
            "place_rank": 16,
            "importance": 0.6,
            "addresstype": "city",
            "name": text.split(",")[0].strip(),
            "display_name": text,
            "boundingbox": [f"{south:.7f}", f"{north:.7f}", f"{west:.7f}", f"{east:.7f}"],
        }
        if params.get("polygon_geojson", "0") in {"1", "true"}:
            result["geojson"] = mapping(polygon)
        return _json_response([result])
