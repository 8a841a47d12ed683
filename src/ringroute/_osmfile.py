"""Read OSM extracts (.osm, .osm.bz2, .osm.gz, .osm.pbf) with pyosmium.

pyosmium reads all four formats in C++; this avoids osmnx's pure-Python XML
parser (about 50 s for the Heidelberg extract).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import osmium

from ringroute._bike import WAY_TAGS
from ringroute._io import why_not_a_file
from ringroute.errors import OSMDataError

log = logging.getLogger("ringroute")

SUFFIXES: tuple[str, ...] = (".osm.pbf", ".osm", ".osm.bz2", ".osm.gz", ".pbf")


@dataclass
class RawNetwork:
    """Highway ways and their node positions, before any filtering.

    Attributes
    ----------
    coords
        Node id → ``(lon, lat)``.
    ways
        ``(way id, node ids, tags)`` in file order; tags limited to
        :data:`ringroute._bike.WAY_TAGS`.
    node_ele
        Node id → elevation in metres from OSM ``ele`` tags.
    cycle_route_ways
        Ids of ways that are members of ``route=bicycle`` relations.
    named_features
        ``(name, lon, lat)`` of named OSM objects (for refining sight positions).
    """

    coords: dict[int, tuple[float, float]] = field(default_factory=dict)
    ways: list[tuple[int, list[int], dict[str, str]]] = field(default_factory=list)
    node_ele: dict[int, float] = field(default_factory=dict)
    cycle_route_ways: set[int] = field(default_factory=set)
    named_features: list[tuple[str, float, float]] = field(default_factory=list)


def missing_file_message(path: Path) -> str:
    """Why ``path``, which is not a regular file, cannot be read as an extract."""
    return (f"OSM file {str(path)!r} {why_not_a_file(path)}: give an extract "
            f"({', '.join(SUFFIXES)})")


def _parse_ele(raw: str) -> float | None:
    try:
        value = float(raw.replace("m", "").strip())
    except ValueError:
        return None
    return value if -500.0 < value < 9000.0 else None


class _Handler(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.raw = RawNetwork()
        self.missing_nodes = 0
        self.n_nodes = 0

    def node(self, n: osmium.osm.Node) -> None:
        self.n_nodes += 1
        tags = n.tags
        if "ele" in tags:
            ele = _parse_ele(tags["ele"])
            if ele is not None:
                self.raw.node_ele[n.id] = ele
        if "name" in tags and n.location.valid():
            self.raw.named_features.append((tags["name"], n.location.lon, n.location.lat))

    def way(self, w: osmium.osm.Way) -> None:
        tags = w.tags
        if "highway" not in tags:
            if "name" in tags and len(w.nodes) > 0:
                self._named_way(w)
            return
        refs: list[int] = []
        coords = self.raw.coords
        for nr in w.nodes:
            loc = nr.location
            if not loc.valid():
                self.missing_nodes += 1
                continue
            ref = nr.ref
            if ref not in coords:
                coords[ref] = (loc.lon, loc.lat)
            if not refs or refs[-1] != ref:
                refs.append(ref)
        if len(refs) < 2:
            return
        kept = {k: tags[k] for k in WAY_TAGS if k in tags}
        self.raw.ways.append((w.id, refs, kept))

    def _named_way(self, w: osmium.osm.Way) -> None:
        lons: list[float] = []
        lats: list[float] = []
        for nr in w.nodes:
            if nr.location.valid():
                lons.append(nr.location.lon)
                lats.append(nr.location.lat)
        if lons:
            self.raw.named_features.append((w.tags["name"], sum(lons) / len(lons),
                                            sum(lats) / len(lats)))

    def relation(self, r: osmium.osm.Relation) -> None:
        if r.tags.get("route") in {"bicycle", "mtb"}:
            for m in r.members:
                if m.type == "w":
                    self.raw.cycle_route_ways.add(m.ref)


def read_osm_file(path: Path) -> RawNetwork:
    """Read the highway ways of an OSM extract.

    Parameters
    ----------
    path
        An ``.osm``, ``.osm.bz2``, ``.osm.gz`` or ``.osm.pbf`` file.

    Returns
    -------
    RawNetwork
        The ways with a ``highway`` tag and the positions of their nodes.

    Raises
    ------
    OSMDataError
        If the file is missing, empty, not OSM data, truncated, or holds no
        highway ways.
    """
    if not path.is_file():
        raise OSMDataError(missing_file_message(path))
    name = path.name.lower()
    if not name.endswith(SUFFIXES):
        msg = (
            f"OSM file {str(path)!r} has an unknown format; "
            f"expected one of {', '.join(SUFFIXES[:4])}"
        )
        raise OSMDataError(msg)
    if path.stat().st_size == 0:
        msg = f"OSM file {str(path)!r} is empty"
        raise OSMDataError(msg)
    handler = _Handler()
    try:
        handler.apply_file(str(path), locations=True, idx="flex_mem")
    except (RuntimeError, ValueError, OSError, KeyError, osmium.InvalidLocationError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = f"OSM file {str(path)!r} cannot be read (truncated or not OSM data): {first}"
        raise OSMDataError(msg) from exc
    raw = handler.raw
    if not raw.ways:
        msg = (
            f"OSM file {str(path)!r} holds no highway ways "
            f"({handler.n_nodes} nodes read); is it an OSM extract of a road network?"
        )
        raise OSMDataError(msg)
    if handler.missing_nodes:
        log.info("%s: %d way node references point outside the extract and were skipped",
                 path.name, handler.missing_nodes)
    log.info("read %s: %d highway ways, %d nodes, %d cycle-route ways", path.name,
             len(raw.ways), len(raw.coords), len(raw.cycle_route_ways))
    return raw
