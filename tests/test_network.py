"""Loading bike networks from the shared real extracts and from generated files."""

from __future__ import annotations

import bz2
import gzip
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import HEIDELBERG, SCIENCE_CITY, UNIVERSITY
from ringroute._bike import bike_access
from ringroute.cities import City
from ringroute.errors import OSMDataError
from ringroute.network import Network, find_extract, load_network, network_from_file
from ringroute.settings import Settings


def _ways(path: Path) -> dict[int, dict[str, str]]:
    """Tags of every way, parsed independently of the loader (ElementTree)."""
    out: dict[int, dict[str, str]] = {}
    for way in ET.parse(path).getroot().iter("way"):
        out[int(way.get("id", "0"))] = {t.get("k", ""): t.get("v", "") for t in way.iter("tag")}
    return out


def _edge_way_ids(net: Network) -> set[int]:
    ids: set[int] = set()
    for _, _, d in net.graph.edges(data=True):
        osmid = d["osmid"]
        ids.update(osmid if isinstance(osmid, list) else [osmid])
    return ids


@pytest.mark.parametrize("path", [SCIENCE_CITY, UNIVERSITY], ids=["science-city", "university"])
def test_only_rideable_ways_become_edges(path: Path, settings: Settings) -> None:
    net = network_from_file(path, settings=settings)
    ways = _ways(path)
    used = _edge_way_ids(net)
    assert net.graph.number_of_edges() > 500
    assert used <= set(ways)
    for wid in used:
        tags = ways[wid]
        assert "building" not in tags and "landuse" not in tags
        assert bike_access(tags) is not None, (wid, tags)
    non_road = {w for w, t in ways.items() if "highway" not in t}
    assert len(non_road) > 100  # the extracts do contain buildings etc.
    assert not (used & non_road)


def test_science_city_size(science_city: Network) -> None:
    # README: about 240 km of bike network
    km = science_city.total_length_m / 1000
    assert 180 < km < 300
    for _, _, d in science_city.graph.edges(data=True):
        assert d["length_m"] > 0
        assert {"highway", "way_class", "bike_factor"} <= set(d)


def test_footway_with_bicycle_yes_is_kept(university: Network) -> None:
    ways = _ways(UNIVERSITY)
    used = _edge_way_ids(university)
    bike_foot = {w for w, t in ways.items()
                 if t.get("highway") in {"footway", "pedestrian"}
                 and t.get("bicycle") in {"yes", "designated"}}
    plain_foot = {w for w, t in ways.items()
                  if t.get("highway") == "footway" and "bicycle" not in t}
    assert bike_foot and plain_foot
    assert len(bike_foot & used) >= 0.5 * len(bike_foot)
    assert not (plain_foot & used)


def test_heidelberg_pbf(heidelberg: Network) -> None:
    g = heidelberg.graph
    assert g.number_of_nodes() > 10_000
    assert heidelberg.total_length_m > 2_500_000
    classes = {d["way_class"] for _, _, d in g.edges(data=True)}
    assert {"cycleway", "quiet", "main"} <= classes
    assert any(d["cycle_route"] for _, _, d in g.edges(data=True))


def test_prepared_graph_cache(settings: Settings, tmp_path: Path) -> None:
    s = Settings(cache_dir=tmp_path, osm_dir=None, local_osm_dir=tmp_path / "x")
    first = network_from_file(SCIENCE_CITY, settings=s)
    second = network_from_file(SCIENCE_CITY, settings=s)
    assert not first.from_cache and second.from_cache
    assert second.graph.number_of_edges() == first.graph.number_of_edges()
    # a corrupt cache entry is ignored and rebuilt
    for entry in (tmp_path / "graphs").iterdir():
        entry.write_bytes(b"garbage")
    third = network_from_file(SCIENCE_CITY, settings=s)
    assert not third.from_cache
    assert third.graph.number_of_edges() == first.graph.number_of_edges()


@pytest.mark.parametrize("suffix", [".osm.bz2", ".osm.gz"])
def test_compressed_extracts(suffix: str, tmp_path: Path, science_city: Network,
                             settings: Settings) -> None:
    target = tmp_path / f"tsukuba{suffix}"
    opener = bz2.open if suffix.endswith("bz2") else gzip.open
    with SCIENCE_CITY.open("rb") as src, opener(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    s = Settings(cache_dir=tmp_path / "c", osm_dir=None, local_osm_dir=tmp_path / "x")
    net = network_from_file(target, settings=s)
    assert net.graph.number_of_nodes() == science_city.graph.number_of_nodes()
    assert net.graph.number_of_edges() == science_city.graph.number_of_edges()


def _write_osm(path: Path, ways: list[tuple[int, list[int], dict[str, str]]]) -> Path:
    coords = {1: (0.0, 0.0), 2: (0.0, 0.001), 3: (0.001, 0.001), 4: (0.001, 0.0),
              5: (0.0005, 0.0005)}
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lat, lon) in coords.items():
        parts.append(f'<node id="{nid}" version="1" lat="{lat + 36}" lon="{lon + 140}"/>')
    for wid, refs, tags in ways:
        parts.append(f'<way id="{wid}" version="1">')
        parts += [f'<nd ref="{r}"/>' for r in refs]
        parts += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        parts.append("</way>")
    parts.append("</osm>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def test_oneway_rules(tmp_path: Path) -> None:
    s = Settings(cache_dir=tmp_path / "c", osm_dir=None, local_osm_dir=tmp_path / "x",
                 use_cache=False)
    osm = _write_osm(tmp_path / "square.osm", [
        (10, [1, 2], {"highway": "residential", "oneway": "yes"}),
        (11, [2, 3], {"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}),
        (12, [3, 4], {"highway": "residential", "oneway": "-1", "cycleway": "opposite_lane"}),
        (13, [4, 1], {"highway": "residential"}),
        (14, [1, 5, 3], {"highway": "residential", "oneway": "-1"}),
        (15, [2, 4], {"building": "yes"}),
        (16, [2, 5], {"highway": "footway"}),
        (17, [2, 5], {"highway": "steps"}),
        (18, [4, 5], {"highway": "service"}),
    ])
    g = network_from_file(osm, settings=s).graph
    pairs = {(u, v) for u, v in g.edges()}
    assert (1, 2) in pairs and (2, 1) not in pairs          # oneway=yes
    assert (2, 3) in pairs and (3, 2) in pairs              # oneway:bicycle=no
    assert (3, 4) in pairs and (4, 3) in pairs              # contraflow lane
    assert (4, 1) in pairs and (1, 4) in pairs              # two-way
    assert (3, 5) in pairs and (5, 1) in pairs              # oneway=-1 runs against node order
    assert (1, 5) not in pairs and (5, 3) not in pairs
    assert (2, 4) not in pairs and (4, 2) not in pairs      # building is no edge
    assert (2, 5) not in pairs and (5, 2) not in pairs      # plain footway and steps dropped


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "is empty"),
        (b"this is not xml at all", "cannot be read"),
        (b'<?xml version="1.0"?><osm version="0.6"><node id="1" lat="1" lon="1"/>',
         "cannot be read"),
        (b'<?xml version="1.0"?><osm version="0.6"><node id="1" lat="1" lon="1"/></osm>',
         "no highway ways"),
    ],
    ids=["empty", "garbage", "truncated", "no-roads"],
)
def test_bad_files(content: bytes, fragment: str, tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "bad.osm"
    path.write_bytes(content)
    with pytest.raises(OSMDataError, match=fragment):
        network_from_file(path, settings=settings)


def test_truncated_pbf(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "cut.osm.pbf"
    path.write_bytes(HEIDELBERG.read_bytes()[: 200_000])
    with pytest.raises(OSMDataError):
        network_from_file(path, settings=settings)


def test_missing_and_wrong_format(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(OSMDataError, match="does not exist"):
        network_from_file(tmp_path / "nope.osm", settings=settings)
    other = tmp_path / "map.geojson"
    other.write_text("{}")
    with pytest.raises(OSMDataError, match="unknown format"):
        network_from_file(other, settings=settings)


def test_lookup_order(tmp_path: Path, tsukuba: City) -> None:
    osm_dir = tmp_path / "osm"
    local = tmp_path / "local"
    osm_dir.mkdir()
    local.mkdir()
    s = Settings(cache_dir=tmp_path / "c", osm_dir=osm_dir, local_osm_dir=local)
    assert find_extract(tsukuba, settings=s) is None
    shutil.copy(UNIVERSITY, local / "tsukuba-university.osm")
    assert find_extract(tsukuba, settings=s) == local / "tsukuba-university.osm"
    shutil.copy(SCIENCE_CITY, osm_dir / "tsukuba-science-city.osm")
    assert find_extract(tsukuba, settings=s) == osm_dir / "tsukuba-science-city.osm"
    net = load_network(tsukuba, settings=s)
    assert net.source == str(osm_dir / "tsukuba-science-city.osm")
    explicit = load_network(tsukuba, osm_path=UNIVERSITY, settings=s)
    assert explicit.source == str(UNIVERSITY)
    with pytest.raises(OSMDataError, match="downloading is off"):
        load_network(tsukuba, settings=Settings(cache_dir=tmp_path / "c", osm_dir=None,
                                                local_osm_dir=tmp_path / "empty"),
                     download=False)
