"""The real download path (osmnx -> Overpass/Nominatim) against the local test server.

Nothing of osmnx or requests is mocked: `network_from_overpass` talks HTTP to
`OverpassServer`, which serves the real University of Tsukuba extract and can be
told to fail like real servers do. Expectations are computed independently from
the extract (pyosmium) or from `network_from_file` on the same extract.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import networkx as nx
import osmium
import osmium.osm
import osmnx as ox
import pytest
from shapely.geometry import Point, Polygon

from conftest import CAMPUS, UNIVERSITY
from overpass_server import OverpassServer, refused_url
from ringroute import _cache
from ringroute._bike import BIKE_YES, bike_access
from ringroute.cities import load_city
from ringroute.errors import DownloadError
from ringroute.network import Network, network_from_file, network_from_overpass
from ringroute.settings import Settings

pytestmark = pytest.mark.network

if not UNIVERSITY.exists():  # pragma: no cover - data lives outside the repository
    pytest.skip(f"shared OSM extract missing: {UNIVERSITY}", allow_module_level=True)

#: (south, west, north, east) inside the declared bounds: the "bbox" download.
INSIDE = (36.0935, 140.0996, 36.1075, 140.1024)
#: The Tsukuba catalogue's fallback box; it holds every node of the extract.
TSUKUBA_BBOX: tuple[float, float, float, float] = load_city("tsukuba").bbox
PLACE = "Tsukuba, Ibaraki, Japan"
NOWHERE = "Nowhere, Atlantis"
#: footway + bicycle=yes that starts inside CAMPUS and leaves it
KNOWN_FOOTWAY = 29879991
#: highway=service, oneway=yes, entirely inside CAMPUS; bikes are not exempt
KNOWN_ONEWAY = 1065901742

N_FILTERS = 3  # ringroute sends one Overpass query per filter (OVERPASS_FILTERS)
FAST = {"timeout_s": 5.0, "retries": 2, "backoff_s": 0.01}


# ----------------------------------------------------------------- independent reading


@dataclass
class Extract:
    nodes: dict[int, tuple[float, float]]  # id -> (lon, lat)
    ways: dict[int, tuple[list[int], dict[str, str]]]
    by_coord: dict[tuple[float, float], int]

    def inside(self, node: int, polygon: Polygon) -> bool:
        return bool(polygon.intersects(Point(self.nodes[node])))

    def length_m(self, a: int, b: int) -> float:
        (lon1, lat1), (lon2, lat2) = self.nodes[a], self.nodes[b]
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dp, dl = p2 - p1, math.radians(lon2 - lon1)
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


class _Reader(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.data = Extract({}, {}, {})

    def node(self, n: osmium.osm.Node) -> None:
        self.data.nodes[n.id] = (n.location.lon, n.location.lat)

    def way(self, w: osmium.osm.Way) -> None:
        self.data.ways[w.id] = ([n.ref for n in w.nodes], dict(w.tags))


@pytest.fixture(scope="module")
def extract() -> Extract:
    reader = _Reader()
    reader.apply_file(str(UNIVERSITY))
    data = reader.data
    data.by_coord = {(round(x, 7), round(y, 7)): n for n, (x, y) in data.nodes.items()}
    return data


def directed_segments(graph: nx.MultiDiGraph, data: Extract) -> Counter[tuple[int, int]]:
    """OSM node pairs ridden by the (simplified) graph's edges, in edge direction."""
    out: Counter[tuple[int, int]] = Counter()
    for u, v, d in graph.edges(data=True):
        if "geometry" in d:
            coords = list(d["geometry"].coords)
        else:
            coords = [(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in (u, v)]
        ids = [data.by_coord[(round(x, 7), round(y, 7))] for x, y in coords]
        assert (ids[0], ids[-1]) == (u, v)
        out.update(pairwise(ids))
    return out


def edge_way_ids(graph: nx.MultiDiGraph) -> set[int]:
    ids: set[int] = set()
    for _, _, d in graph.edges(data=True):
        osmid = d["osmid"]
        ids.update(osmid if isinstance(osmid, list) else [osmid])
    return ids


def signature(graph: nx.MultiDiGraph) -> tuple[frozenset[int], Counter[Any]]:
    """Nodes and edges (with length, class and way ids) of a graph, order-free."""
    edges: Counter[Any] = Counter()
    for u, v, d in graph.edges(data=True):
        osmid = d["osmid"] if isinstance(d["osmid"], list) else [d["osmid"]]
        edges[(u, v, round(d["length_m"], 3), d["way_class"], tuple(sorted(osmid)))] += 1
    return frozenset(graph.nodes), edges


# ----------------------------------------------------------------------- fixtures


OSMNX_SETTINGS = (
    "overpass_url", "nominatim_url", "use_cache", "requests_timeout", "requests_kwargs",
    "overpass_rate_limit", "overpass_settings", "all_oneway", "useful_tags_way",
    "doh_url_template", "log_console",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _restore_osmnx() -> Iterator[None]:
    """osmnx replaces socket.getaddrinfo while downloading (its DNS pinning)."""
    saved = socket.getaddrinfo
    yield
    socket.getaddrinfo = saved


@pytest.fixture
def server() -> Iterator[OverpassServer]:
    with OverpassServer(UNIVERSITY) as srv:
        yield srv
    assert srv.errors == []


def settings_for(cache: Path, srv: OverpassServer | None = None, **kw: Any) -> Settings:
    urls: dict[str, Any] = {}
    if srv is not None:
        urls = {"overpass_url": srv.url, "nominatim_url": srv.nominatim_url}
    return Settings(
        cache_dir=cache, osm_dir=None, local_osm_dir=cache / "no-osm", **{**FAST, **urls, **kw}
    )


def cache_entries(cache: Path) -> dict[str, list[str]]:
    """Files in the download and graph caches (empty lists if a folder is missing)."""
    return {
        folder: sorted(p.name for p in (cache / folder).glob("*"))
        if (cache / folder).is_dir()
        else []
        for folder in ("overpass", "graphs")
    }


def pickles(cache: Path) -> list[Path]:
    return sorted(cache.glob("*/*.pickle"))


@pytest.fixture(scope="module")
def file_net(tmp_path_factory: pytest.TempPathFactory) -> Network:
    cache = tmp_path_factory.mktemp("file-cache")
    return network_from_file(UNIVERSITY, settings=settings_for(cache, use_cache=False))


@pytest.fixture(scope="module")
def campus(tmp_path_factory: pytest.TempPathFactory) -> Network:
    """One download of the CAMPUS polygon, shared by the content checks."""
    saved = socket.getaddrinfo
    cache = tmp_path_factory.mktemp("campus-cache")
    with OverpassServer(UNIVERSITY) as srv:
        net = network_from_overpass(polygon=CAMPUS, settings=settings_for(cache, srv))
        assert srv.count("/interpreter") == N_FILTERS
        assert srv.errors == []
    socket.getaddrinfo = saved
    return net


@pytest.fixture(scope="module")
def strip(tmp_path_factory: pytest.TempPathFactory) -> Network:
    """A download of the area the test Nominatim returns for a place (no geocoding)."""
    saved = socket.getaddrinfo
    cache = tmp_path_factory.mktemp("strip-cache")
    with OverpassServer(UNIVERSITY) as srv:
        bounds = srv.extract.bounds  # what its Nominatim returns as the place's polygon
        net = network_from_overpass(bbox=bounds, settings=settings_for(cache, srv))
        assert srv.count("/search") == 0
    socket.getaddrinfo = saved
    return net


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Network:
    """A healthy, uncached download of the INSIDE box to compare retried runs with."""
    saved = socket.getaddrinfo
    cache = tmp_path_factory.mktemp("reference-cache")
    with OverpassServer(UNIVERSITY) as srv:
        net = network_from_overpass(bbox=INSIDE, settings=settings_for(cache, srv, use_cache=False))
    socket.getaddrinfo = saved
    assert pickles(cache) == []
    return net


# ----------------------------------------------------------------------- content


def test_downloaded_edges_are_rideable_ways_of_the_extract(
    campus: Network, extract: Extract
) -> None:
    g = campus.graph
    assert g.number_of_edges() > 200
    used = edge_way_ids(g)
    assert used <= set(extract.ways)
    for way_id in used:
        assert bike_access(extract.ways[way_id][1]) is not None, extract.ways[way_id]
    # every node is a node of the extract, at the extract's position
    for n, d in g.nodes(data=True):
        assert extract.nodes[n] == pytest.approx((d["x"], d["y"]), abs=1e-7)
    # footways are kept exactly when bicycles are allowed on them
    tags = {w: extract.ways[w][1] for w in used}
    bike_footways = {w for w, t in tags.items() if t["highway"] == "footway"}
    assert KNOWN_FOOTWAY in bike_footways
    assert all(tags[w].get("bicycle") in BIKE_YES for w in bike_footways)
    plain_footways = {
        w for w, (refs, t) in extract.ways.items()
        if t.get("highway") == "footway" and "bicycle" not in t
        and any(extract.inside(r, CAMPUS) for r in refs)
    }  # fmt: skip
    assert plain_footways, "the campus has footways without bicycle access"
    assert not used & plain_footways
    assert {"highway", "way_class", "bike_factor", "length_m"} <= set(
        next(iter(g.edges(data=True)))[2]
    )


def test_download_stays_in_its_area(campus: Network, file_net: Network) -> None:
    west, south, east, north = CAMPUS.bounds
    s, w, n, e = campus.bbox
    margin = 0.003  # one OSM segment beyond the edge (truncate_by_edge)
    assert south - margin < s and n < north + margin
    assert west - margin < w and e < east + margin
    fs, _, fn, _ = file_net.bbox
    assert fs < s - 0.002 and fn > n + 0.002  # the extract reaches well beyond


def test_oneway_semantics_survive_the_download(campus: Network, extract: Extract) -> None:
    ridden = directed_segments(campus.graph, extract)
    allowed: dict[tuple[int, int], list[bool]] = {}
    for refs, tags in extract.ways.values():
        access = bike_access(tags)
        if access is None:
            continue
        fwd, bwd = access
        for a, b in pairwise(refs):
            allowed.setdefault((a, b), []).append(fwd)
            allowed.setdefault((b, a), []).append(bwd)
    two_way = 0
    for (a, b), count in ridden.items():
        assert count == 1, (a, b)
        assert any(allowed[(a, b)]), f"segment {a}->{b} ridden against a one-way street"
        if all(allowed[(b, a)]):
            assert (b, a) in ridden  # two-way ways come in both directions
            two_way += 1
    assert two_way > 100

    refs, tags = extract.ways[KNOWN_ONEWAY]
    assert tags["oneway"] == "yes" and bike_access(tags) == (True, False)
    segments = list(pairwise(refs))
    assert all(seg in ridden for seg in segments)
    assert not any((b, a) in ridden for a, b in segments)


def test_total_length_is_plausible(campus: Network, file_net: Network, extract: Extract) -> None:
    both_inside = one_inside = 0.0
    for refs, tags in extract.ways.values():
        if bike_access(tags) is None:
            continue
        for a, b in pairwise(refs):
            inside = extract.inside(a, CAMPUS) + extract.inside(b, CAMPUS)
            if inside == 2:
                both_inside += extract.length_m(a, b)
            if inside >= 1:
                one_inside += extract.length_m(a, b)
    total = campus.total_length_m
    # the largest strongly connected part drops a few dead ends, nothing more
    assert 0.8 * both_inside < total <= one_inside + 1.0
    assert total < 0.8 * file_net.total_length_m
    assert set(directed_segments(campus.graph, extract)) <= set(
        directed_segments(file_net.graph, extract)
    )


def test_download_of_the_whole_extract_equals_the_file_network(
    server: OverpassServer, tmp_path: Path, file_net: Network
) -> None:
    net = network_from_overpass(bbox=TSUKUBA_BBOX, settings=settings_for(tmp_path, server))
    assert signature(net.graph) == signature(file_net.graph)
    assert net.total_length_m == pytest.approx(file_net.total_length_m)
    assert net.source == f"overpass:{TSUKUBA_BBOX}"
    assert not net.from_cache


def test_osmnx_settings_are_restored(server: OverpassServer, tmp_path: Path) -> None:
    before = {name: getattr(ox.settings, name) for name in OSMNX_SETTINGS}
    network_from_overpass(bbox=INSIDE, settings=settings_for(tmp_path, server))
    assert {name: getattr(ox.settings, name) for name in OSMNX_SETTINGS} == before


# ----------------------------------------------------------------------- cache


def test_second_run_is_served_from_the_cache(server: OverpassServer, tmp_path: Path) -> None:
    s = settings_for(tmp_path, server)
    first = network_from_overpass(bbox=INSIDE, settings=s)
    assert server.count("/interpreter") == N_FILTERS
    entries = cache_entries(tmp_path)
    assert len(entries["overpass"]) == 1 and len(entries["graphs"]) == 1
    assert not any(name.endswith(".part") for names in entries.values() for name in names)

    requests_before = len(server.requests)
    second = network_from_overpass(bbox=INSIDE, settings=s)
    assert len(server.requests) == requests_before  # not even a status request
    assert second.from_cache
    assert signature(second.graph) == signature(first.graph)
    assert second.timings_s.keys() >= {"download_cache", "cache_load"}

    # without the cache it downloads again and writes nothing
    third = network_from_overpass(bbox=INSIDE, settings=replace(s, use_cache=False))
    assert server.count("/interpreter") == 2 * N_FILTERS
    assert not third.from_cache
    assert signature(third.graph) == signature(first.graph)
    assert cache_entries(tmp_path) == entries


def test_place_query_is_cached_without_nominatim(
    server: OverpassServer, tmp_path: Path, file_net: Network, strip: Network
) -> None:
    s = settings_for(tmp_path, server)
    first = network_from_overpass(place=PLACE, bbox=TSUKUBA_BBOX, settings=s)
    assert server.count("/search") == 1
    assert server.count("/interpreter") == N_FILTERS
    # the geocoded area (the extract's declared strip), not the much larger box
    assert signature(first.graph) == signature(strip.graph)
    assert first.total_length_m < 0.9 * file_net.total_length_m
    assert first.source == f"overpass:{PLACE}"

    requests_before = len(server.requests)
    second = network_from_overpass(place=PLACE, bbox=TSUKUBA_BBOX, settings=s)
    assert len(server.requests) == requests_before  # neither Nominatim nor Overpass
    assert second.from_cache
    assert signature(second.graph) == signature(first.graph)


# ----------------------------------------------------------------------- geocoding


def test_unknown_place_falls_back_to_the_bbox(
    server: OverpassServer, tmp_path: Path, file_net: Network, caplog: pytest.LogCaptureFixture
) -> None:
    s = settings_for(tmp_path, server)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="ringroute"):
        net = network_from_overpass(place=NOWHERE, bbox=TSUKUBA_BBOX, settings=s)
    assert server.count("/search") == 1  # "no result" is an answer: not retried
    assert time.monotonic() - start < 10
    assert signature(net.graph) == signature(file_net.graph)  # the whole box
    assert net.source == f"overpass:{TSUKUBA_BBOX}"
    assert any(
        "does not know" in r.getMessage() and "bounding box" in r.getMessage()
        for r in caplog.records
    )

    # the fallback is cached as the box's download, not as the place's: the next
    # run asks Nominatim again (it may know the place by then), but Overpass not
    again = network_from_overpass(place=NOWHERE, bbox=TSUKUBA_BBOX, settings=s)
    assert server.count("/search") == 2
    assert server.count("/interpreter") == N_FILTERS
    assert signature(again.graph) == signature(net.graph)
    requests_before = len(server.requests)
    network_from_overpass(bbox=TSUKUBA_BBOX, settings=s)
    assert len(server.requests) == requests_before


def test_unknown_place_without_bbox_is_a_download_error(
    server: OverpassServer, tmp_path: Path
) -> None:
    with pytest.raises(DownloadError, match="Nominatim does not know 'Nowhere, Atlantis'"):
        network_from_overpass(place=NOWHERE, settings=settings_for(tmp_path, server))
    assert server.count("/interpreter") == 0
    assert pickles(tmp_path) == []


@pytest.mark.parametrize("fault", ["429", "remark"])
def test_nominatim_faults_fall_back_to_the_bbox(
    fault: str, tmp_path: Path, file_net: Network
) -> None:
    with OverpassServer(UNIVERSITY, faults=[fault]) as srv:
        s = settings_for(tmp_path, srv, retries=0)
        net = network_from_overpass(place=PLACE, bbox=TSUKUBA_BBOX, settings=s)
        assert srv.count("/search") == 1
        assert srv.errors == []
    assert signature(net.graph) == signature(file_net.graph)


def test_nominatim_retry_succeeds(tmp_path: Path, strip: Network) -> None:
    with OverpassServer(UNIVERSITY, faults=["504", "ok"]) as srv:
        net = network_from_overpass(
            place=PLACE, bbox=TSUKUBA_BBOX, settings=settings_for(tmp_path, srv)
        )
        assert srv.count("/search") == 2
        assert srv.errors == []
    assert signature(net.graph) == signature(strip.graph)  # the geocoded area


# ----------------------------------------------------------------------- faults

FAULT_MESSAGES = {
    "refused": "connection refused",
    "timeout": "no answer from",
    "429": "HTTP 429 Too Many Requests",
    "504": "HTTP 504 Gateway Timeout",
    "500": "HTTP 500 Internal Server Error",
    "garbage": "<html>oops</html>",
    "truncate": "broke off before its end",
    "remark": "runtime error: Query timed out",
}


@pytest.mark.parametrize("fault", list(FAULT_MESSAGES))
def test_persistent_fault_is_a_download_error_and_caches_nothing(
    fault: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, reference: Network
) -> None:
    retries = 2
    faults = [] if fault == "refused" else [fault] * (retries + 1)
    with OverpassServer(UNIVERSITY, faults=faults, delay_s=2.0) as srv:
        s = settings_for(
            tmp_path, srv, retries=retries, timeout_s=0.5 if fault == "timeout" else 5.0
        )
        if fault == "refused":
            s = replace(s, overpass_url=refused_url())
        start = time.monotonic()
        with (
            caplog.at_level(logging.WARNING, logger="ringroute"),
            pytest.raises(DownloadError) as info,
        ):
            network_from_overpass(bbox=INSIDE, settings=s)
        elapsed = time.monotonic() - start
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith(f"Overpass download failed after {retries + 1} attempts: ")
        assert FAULT_MESSAGES[fault] in message
        assert len(message) < 300
        retried = [r for r in caplog.records if "retrying in" in r.getMessage()]
        assert len(retried) == retries
        assert elapsed < 10  # no 55-s or 60-s pauses of osmnx
        # each attempt stopped at its first failed request
        assert srv.count("/interpreter") == (0 if fault == "refused" else retries + 1)
        assert pickles(tmp_path) == []
        assert not list(tmp_path.glob("*/*.part"))

        # the server is healthy now: the next run succeeds and caches
        net = network_from_overpass(
            bbox=INSIDE, settings=replace(s, overpass_url=srv.url, timeout_s=5.0)
        )
        assert srv.errors == []
    assert signature(net.graph) == signature(reference.graph)
    assert len(pickles(tmp_path)) == 2


@pytest.mark.parametrize(
    "faults",
    [
        ["504", "ok"],
        ["500", "429"],
        ["truncate"],
        ["remark"],
        ["ok", "remark"],  # one filter's query timed out, the first one had data
        ["ok", "ok", "timeout"],
    ],
    ids=str,
)
def test_retry_after_a_fault_gives_the_full_network(
    faults: list[str], tmp_path: Path, reference: Network
) -> None:
    with OverpassServer(UNIVERSITY, faults=faults, delay_s=3.0) as srv:
        s = settings_for(tmp_path, srv, timeout_s=1.0 if "timeout" in faults else 5.0)
        net = network_from_overpass(bbox=INSIDE, settings=s)
        last_failure = max(i for i, f in enumerate(faults) if f != "ok")
        # every failure ends its attempt; the successful attempt makes all N_FILTERS queries
        assert srv.count("/interpreter") == last_failure + 1 + N_FILTERS
        assert srv.pending_faults == []
        assert srv.errors == []
    assert signature(net.graph) == signature(reference.graph)
    assert len(pickles(tmp_path)) == 2
    again = network_from_overpass(bbox=INSIDE, settings=s)
    assert signature(again.graph) == signature(reference.graph)


def test_backoff_doubles(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with OverpassServer(UNIVERSITY, faults=["500"] * 3) as srv:
        s = settings_for(tmp_path, srv, retries=2, backoff_s=0.2)
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="ringroute"), pytest.raises(DownloadError):
            network_from_overpass(bbox=INSIDE, settings=s)
        assert time.monotonic() - start >= 0.2 + 0.4
    pauses = [
        r.getMessage().rsplit("retrying in ", 1)[1]
        for r in caplog.records
        if "retrying in" in r.getMessage()
    ]
    assert pauses == ["0.2 s", "0.4 s"]


def test_no_retries_means_one_attempt(tmp_path: Path) -> None:
    with OverpassServer(UNIVERSITY, faults=["504"]) as srv:
        with pytest.raises(DownloadError, match="failed after 1 attempt: "):
            network_from_overpass(bbox=INSIDE, settings=settings_for(tmp_path, srv, retries=0))
        assert srv.count("/interpreter") == 1


def _resolver_says(code: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every look-up of a ``.invalid`` host fail with ``code``; return the log."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".invalid"):
            asked.append(str(host))
            raise socket.gaierror(code, "resolver says no")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


def test_unknown_host_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """A host name the resolver does not know (offline, or a typo) fails at once:
    retrying the look-up for a minute does not make it known."""
    asked = _resolver_says(socket.EAI_NONAME, monkeypatch)
    with OverpassServer(UNIVERSITY) as srv:
        s = replace(settings_for(tmp_path, srv, retries=3, backoff_s=5.0),
                    overpass_url="http://overpass.ringroute.invalid/api")
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="ringroute"), \
                pytest.raises(DownloadError) as info:
            network_from_overpass(bbox=INSIDE, settings=s)
        assert time.monotonic() - start < 5.0
    assert str(info.value).startswith("Overpass download failed after 1 attempt: cannot "
                                      "connect to http://overpass.ringroute.invalid/api/status")
    assert asked and set(asked) == {"overpass.ringroute.invalid"}
    assert not [r for r in caplog.records if "retrying in" in r.getMessage()]


def test_temporary_resolver_failure_is_retried_soon(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """``EAI_AGAIN`` ("temporary failure in name resolution") may pass: retried. No
    server answered, so no rate limit calls for the configured 5 s pauses: 1 s, 2 s."""
    _resolver_says(socket.EAI_AGAIN, monkeypatch)
    with OverpassServer(UNIVERSITY) as srv:
        s = replace(settings_for(tmp_path, srv, retries=2, backoff_s=5.0),
                    overpass_url="http://overpass.ringroute.invalid/api")
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="ringroute"), \
                pytest.raises(DownloadError, match="failed after 3 attempts"):
            network_from_overpass(bbox=INSIDE, settings=s)
        assert 3.0 <= time.monotonic() - start < 5.0
    pauses = [r.getMessage().rsplit("retrying in ", 1)[1] for r in caplog.records
              if "retrying in" in r.getMessage()]
    assert pauses == ["1.0 s", "2.0 s"]


# ----------------------------------------------------------------------- interrupted writes


def _corrupt_cache(cache: Path) -> list[Path]:
    entries = pickles(cache)
    assert len(entries) == 2
    raw_entry = next(p for p in entries if p.parent.name == "overpass")
    graph_entry = next(p for p in entries if p.parent.name == "graphs")
    blob = raw_entry.read_bytes()
    raw_entry.write_bytes(blob[: len(blob) // 2])  # cut off mid-write
    graph_entry.write_bytes(b"\x00" * 100)  # zeroed blocks after a power loss
    for entry in entries:  # a temporary file left by a crash
        (entry.parent / f".{entry.name}.abc123.part").write_bytes(blob[:1000])
    return entries


def test_corrupt_cache_entries_are_ignored_and_replaced(
    server: OverpassServer, tmp_path: Path, reference: Network
) -> None:
    s = settings_for(tmp_path, server)
    network_from_overpass(bbox=INSIDE, settings=s)
    entries = _corrupt_cache(tmp_path)
    net = network_from_overpass(bbox=INSIDE, settings=s)
    assert server.count("/interpreter") == 2 * N_FILTERS  # downloaded again
    assert not net.from_cache
    assert signature(net.graph) == signature(reference.graph)
    assert pickles(tmp_path) == entries
    for entry in entries:
        assert _cache.load(entry.parent, entry.stem) is not None
    cached = network_from_overpass(bbox=INSIDE, settings=s)
    assert cached.from_cache
    assert server.count("/interpreter") == 2 * N_FILTERS


def test_corrupt_graph_entry_is_rebuilt_without_download(
    server: OverpassServer, tmp_path: Path, reference: Network
) -> None:
    s = settings_for(tmp_path, server)
    network_from_overpass(bbox=INSIDE, settings=s)
    graph_entry = next((tmp_path / "graphs").glob("*.pickle"))
    graph_entry.write_bytes(graph_entry.read_bytes()[:-500])
    net = network_from_overpass(bbox=INSIDE, settings=s)
    assert server.count("/interpreter") == N_FILTERS
    assert signature(net.graph) == signature(reference.graph)
    assert _cache.load(graph_entry.parent, graph_entry.stem) is not None


CRASH = """
import os, sys
from pathlib import Path
from ringroute.network import network_from_overpass
from ringroute.settings import Settings

crash_at, cache, url, bbox = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
calls = 0
real_replace = os.replace

def replace(src, dst):
    global calls
    calls += 1
    if calls == crash_at:
        os._exit(9)  # the process dies after writing the temporary file
    real_replace(src, dst)

os.replace = replace
settings = Settings(cache_dir=cache, osm_dir=None, local_osm_dir=cache / "no-osm",
                    overpass_url=url, nominatim_url=url, retries=0, timeout_s=10)
network_from_overpass(bbox=tuple(map(float, bbox.split(","))), settings=settings)
sys.exit(0)
"""


def test_crash_while_writing_the_cache_is_recovered(
    server: OverpassServer, tmp_path: Path, reference: Network
) -> None:
    # the process dies at its first rename: the download's temporary file is
    # written, the cache entry itself never appears (a corrupt graph entry is
    # covered by test_corrupt_graph_entry_is_rebuilt_without_download)
    crash_at = 1
    bbox = ",".join(map(str, INSIDE))
    done = subprocess.run(
        [sys.executable, "-c", CRASH, str(crash_at), str(tmp_path), server.url, bbox],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 9, done.stderr
    parts = list(tmp_path.glob("*/.*.part"))
    assert len(parts) == 1  # the interrupted write left its temporary file behind
    assert pickles(tmp_path) == []
    assert server.count("/interpreter") == N_FILTERS

    net = network_from_overpass(bbox=INSIDE, settings=settings_for(tmp_path, server))
    assert signature(net.graph) == signature(reference.graph)
    assert server.count("/interpreter") == 2 * N_FILTERS  # downloaded again
    assert len(pickles(tmp_path)) == 2
    for entry in pickles(tmp_path):
        assert _cache.load(entry.parent, entry.stem) is not None


# ----------------------------------------------------------------------- CLI


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ringroute", *args],
        env=env,
        cwd=Path(env["RINGROUTE_CACHE_DIR"]).parent,  # the default --out maps/ lands here
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "empty-osm").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGROUTE_")}
    env.update(
        RINGROUTE_CACHE_DIR=str(tmp_path / "cache"),
        RINGROUTE_OSM_DIR=str(tmp_path / "empty-osm"),
        RINGROUTE_BACKOFF_S="0.01",
        RINGROUTE_TIMEOUT_S="10",
        RINGROUTE_OVERPASS_URL=refused_url(),
        RINGROUTE_NOMINATIM_URL=refused_url().removesuffix("/api") + "/nominatim/",
    )
    return env


def test_cli_no_download_without_extract_is_bad_input(cli_env: dict[str, str]) -> None:
    done = run_cli(["plan", "tsukuba", "--no-download"], cli_env)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ringroute: error: no local extract for 'tsukuba'")


def test_cli_plans_a_loop_on_downloaded_data(
    server: OverpassServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    cli_env.update(RINGROUTE_OVERPASS_URL=server.url, RINGROUTE_NOMINATIM_URL=server.nominatim_url)
    out = tmp_path / "out"
    # "univ" lies in the extract; the via point is a campus path junction (the
    # catalogue's other sights are outside this narrow extract)
    args = [
        "plan",
        "tsukuba",
        "--start",
        "univ",
        "--via",
        "36.0950,140.1010",
        "--km",
        "5",
        "--json",
        "--out",
        str(out),
    ]
    done = run_cli(args, cli_env)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["city"] == "tsukuba"
    assert doc["target_m"] == 5000.0
    (route,) = doc["routes"]
    assert abs(route["length_m"] - 5000) <= 0.05 * 5000
    assert route["start"] == "univ"
    assert len(route["sights"]) == 1
    assert Path(route["gpx"]).is_file() and Path(route["gpx"]).parent == out
    assert Path(route["map"]).is_file()
    assert sum(route["way_class_share"].values()) == pytest.approx(1.0, abs=0.01)
    assert server.count("/search") == 1
    assert server.count("/interpreter") == N_FILTERS
    assert pickles(tmp_path / "cache")

    # the second run is planned from the cache: no request at all
    requests_before = len(server.requests)
    again = run_cli(args, cli_env)
    assert again.returncode == 0, again.stderr
    assert len(server.requests) == requests_before
    assert json.loads(again.stdout)["routes"] == doc["routes"]


def test_cli_unreachable_overpass_fails_with_one_line(
    server: OverpassServer, cli_env: dict[str, str]
) -> None:
    cli_env.update(RINGROUTE_NOMINATIM_URL=server.nominatim_url)  # only Overpass is down
    # -q: without it, each of the 3 retries is also logged as a "ringroute: ..." line
    done = run_cli(["-q", "plan", "tsukuba", "--start", "univ", "--km", "5", "--json"], cli_env)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(
        "ringroute: failed: Overpass download failed after 4 attempts: cannot connect to "
    )
    assert done.stderr.rstrip().endswith(
        "(connection refused); to plan offline, pass --osm FILE (a local .osm or .osm.pbf "
        "extract)")
    assert server.count("/search") == 1
    assert server.count("/interpreter") == 0
    assert not list(Path(cli_env["RINGROUTE_CACHE_DIR"]).glob("*/*.pickle"))
