"""Tests of the local Overpass/Nominatim stand-in, directly and through osmnx.

Expectations are computed independently from the extracts with pyosmium and
shapely point tests, never hard-coded counts.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby, pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote

import osmium
import osmium.osm
import osmnx as ox
import pytest
import requests
from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError
from shapely.geometry import Point, Polygon, box, shape

from conftest import CAMPUS, HEIDELBERG, SCIENCE_CITY, UNIVERSITY
from overpass_server import FAULTS, OverpassServer, load_extract, refused_url

pytestmark = pytest.mark.network

if not UNIVERSITY.exists():  # pragma: no cover - data lives outside the repository
    pytest.skip(f"shared OSM extract missing: {UNIVERSITY}", allow_module_level=True)
# A footway with bicycle=yes that starts inside CAMPUS and leaves it.
KNOWN_WAY = 29879991

TIMEOUT_REMARK = "runtime error: Query timed out"


def poly_str(polygon: Polygon) -> str:
    """Overpass ``poly:`` coordinates ("lat lon lat lon ...") of a polygon's exterior."""
    return " ".join(f"{lat:.7f} {lon:.7f}" for lon, lat in polygon.exterior.coords)


def network_query(way_filter: str, polygon: Polygon = CAMPUS) -> str:
    """The query osmnx 2.1 sends for one filter and one polygon."""
    return f"[out:json][timeout:25];(way{way_filter}(poly:{poly_str(polygon)!r});>;);out;"


# ----------------------------------------------------------------- independent reading


@dataclass
class Extract:
    nodes: dict[int, tuple[float, float]]
    node_tags: dict[int, dict[str, str]]
    ways: dict[int, tuple[list[int], dict[str, str]]]

    def inside(self, node_id: int, polygon: Polygon) -> bool:
        lat, lon = self.nodes[node_id]
        return bool(polygon.intersects(Point(lon, lat)))

    def select(
        self, predicate: Callable[[Mapping[str, str]], bool], polygon: Polygon = CAMPUS
    ) -> dict[int, list[int]]:
        """Ways passing ``predicate`` with a node inside ``polygon``, with their refs."""
        return {
            way_id: refs
            for way_id, (refs, tags) in self.ways.items()
            if predicate(tags) and any(self.inside(ref, polygon) for ref in refs)
        }


class _Reader(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.data = Extract({}, {}, {})

    def node(self, n: osmium.osm.Node) -> None:
        self.data.nodes[n.id] = (n.location.lat, n.location.lon)
        if len(n.tags):
            self.data.node_tags[n.id] = dict(n.tags)

    def way(self, w: osmium.osm.Way) -> None:
        self.data.ways[w.id] = ([n.ref for n in w.nodes], dict(w.tags))


def read_independently(path: Path) -> Extract:
    reader = _Reader()
    reader.apply_file(str(path))
    return reader.data


@pytest.fixture(scope="module")
def university() -> Extract:
    return read_independently(UNIVERSITY)


@pytest.fixture
def server() -> Iterator[OverpassServer]:
    with OverpassServer(UNIVERSITY) as srv:
        yield srv
    assert srv.errors == []


def post(srv: OverpassServer, query: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("timeout", 10)
    return requests.post(srv.url + "/interpreter", data={"data": query}, **kwargs)


def split(elements: list[dict[str, Any]]) -> tuple[dict[int, Any], dict[int, Any]]:
    nodes = {e["id"]: e for e in elements if e["type"] == "node"}
    ways = {e["id"]: e for e in elements if e["type"] == "way"}
    assert len(nodes) + len(ways) == len(elements)
    return nodes, ways


# ----------------------------------------------------------------------- status, log


def test_status_endpoint_lets_osmnx_go_at_once(server: OverpassServer) -> None:
    response = requests.get(server.url + "/status", timeout=5)
    assert response.status_code == 200
    lines = response.text.split("\n")
    assert lines[3] == "Rate limit: 2"
    assert lines[4] == "2 slots available now."
    assert server.count("/status") == 1
    assert server.count("/interpreter") == 0

    saved = ox.settings.overpass_rate_limit, ox.settings.requests_timeout
    ox.settings.overpass_rate_limit, ox.settings.requests_timeout = True, 5
    try:
        assert ox._overpass._get_overpass_pause(server.url) == 0
    finally:
        ox.settings.overpass_rate_limit, ox.settings.requests_timeout = saved
    assert server.count("/status") == 2


def test_request_log_and_count(server: OverpassServer) -> None:
    requests.get(server.url + "/status", timeout=5)
    post(server, network_query('["highway"="steps"]'))
    requests.get(server.url + "/interpreter", params={"data": "x"}, timeout=5)
    requests.get(server.nominatim_url + "search", params={"q": "Tsukuba"}, timeout=5)
    requests.get(server.nominatim_url + "status", timeout=5)
    assert server.requests == [
        ("GET", "/api/status"),
        ("POST", "/api/interpreter"),
        ("GET", "/api/interpreter"),
        ("GET", "/nominatim/search"),
        ("GET", "/nominatim/status"),
    ]
    assert server.count("/interpreter") == 2
    assert server.count("/status") == 2
    assert server.count("/nominatim/status") == 1
    assert server.count("/search") == 1
    assert server.count("/nothing") == 0


def test_unknown_path_is_404(server: OverpassServer) -> None:
    assert requests.get(server.url + "/map", timeout=5).status_code == 404


def test_urls_need_a_running_server() -> None:
    srv = OverpassServer(UNIVERSITY)
    with pytest.raises(RuntimeError):
        _ = srv.url
    with srv:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api", srv.url)
        assert srv.nominatim_url == srv.url.removesuffix("/api") + "/nominatim/"
    with pytest.raises(RuntimeError), srv:
        pass


def test_server_socket_is_closed_on_exit() -> None:
    with OverpassServer(UNIVERSITY) as srv:
        url = srv.url
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/status", timeout=2)


def test_refused_url_refuses() -> None:
    for url in (refused_url(), OverpassServer.refused_url()):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api", url)
        with pytest.raises(requests.ConnectionError):
            requests.get(url + "/status", timeout=2)


def test_extract_is_parsed_once_per_path() -> None:
    first = load_extract(UNIVERSITY)
    assert load_extract(str(UNIVERSITY)) is first
    with OverpassServer(UNIVERSITY) as a, OverpassServer(UNIVERSITY) as b:
        assert a.extract is b.extract is first
        assert a.url != b.url


# ----------------------------------------------------------------------- interpreter


def test_filter_returns_matching_ways_and_all_their_nodes(
    server: OverpassServer, university: Extract
) -> None:
    response = post(server, network_query('["highway"="footway"]["bicycle"="yes"]'))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    doc = response.json()
    assert doc["version"] == 0.6
    assert doc["generator"] == "ringroute test server"
    assert "ODbL" in doc["osm3s"]["copyright"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["osm3s"]["timestamp_osm_base"])

    elements = doc["elements"]
    types = [e["type"] for e in elements]
    assert types == sorted(types)  # "node" < "way": nodes first, then ways
    nodes, ways = split(elements)
    assert list(nodes) == sorted(nodes)
    assert list(ways) == sorted(ways)

    expected = university.select(
        lambda t: t.get("highway") == "footway" and t.get("bicycle") == "yes"
    )
    assert expected, "the campus polygon should contain footways open to bicycles"
    assert set(ways) == set(expected)
    assert set(nodes) == {ref for refs in expected.values() for ref in refs}
    for way_id, element in ways.items():
        assert element["nodes"] == expected[way_id]
        assert element["tags"] == university.ways[way_id][1]
    for node_id, element in nodes.items():
        assert (element["lat"], element["lon"]) == pytest.approx(university.nodes[node_id])
        if node_id in university.node_tags:
            assert element["tags"] == university.node_tags[node_id]
        else:
            assert "tags" not in element

    # the known way: partly outside the polygon, yet all its nodes come back (">")
    known = ways[KNOWN_WAY]
    assert known["tags"]["highway"] == "footway"
    assert known["tags"]["bicycle"] == "yes"
    outside = [ref for ref in known["nodes"] if not university.inside(ref, CAMPUS)]
    assert outside
    assert set(known["nodes"]) <= set(nodes)


def test_get_with_data_parameter_and_raw_body(server: OverpassServer) -> None:
    query = network_query('["highway"="footway"]["bicycle"="yes"]')
    by_post = post(server, query).json()["elements"]
    by_get = requests.get(server.url + "/interpreter", params={"data": query}, timeout=10)
    assert by_get.json()["elements"] == by_post
    raw = requests.post(server.url + "/interpreter", data=query.encode(), timeout=10)
    assert raw.json()["elements"] == by_post


def _area_not_yes(t: Mapping[str, str]) -> bool:
    return "highway" in t and re.search("yes", t.get("area", "")) is None


OPERATOR_CASES: list[tuple[str, Callable[[Mapping[str, str]], bool]]] = [
    ('["highway"]["area"!~"yes"]', _area_not_yes),
    (
        '["highway"="footway"]["bicycle"!="yes"]',
        lambda t: t.get("highway") == "footway" and t.get("bicycle") != "yes",
    ),
    (
        '["highway"~"^(foot|cycle)way$"]',
        lambda t: t.get("highway") in {"footway", "cycleway"},
    ),
    ('["highway"~"FOOTWAY",i]', lambda t: "footway" in t.get("highway", "")),
    ('["highway"~"FOOTWAY"]', lambda t: "FOOTWAY" in t.get("highway", "")),
    ('["highway"][!"bicycle"]', lambda t: "highway" in t and "bicycle" not in t),
    (
        "['highway']['bicycle'!~'yes|designated']",
        lambda t: "highway" in t and t.get("bicycle") not in {"yes", "designated"},
    ),
    ("[highway=steps]", lambda t: t.get("highway") == "steps"),
    (
        '[ "highway" = "service" ] [ "service" ]',
        lambda t: t.get("highway") == "service" and "service" in t,
    ),
    ('["name:en"~"\\\\."]', lambda t: "." in t.get("name:en", "")),
]


@pytest.mark.parametrize(
    ("way_filter", "predicate"), OPERATOR_CASES, ids=[c[0] for c in OPERATOR_CASES]
)
def test_tag_filter_operators(
    server: OverpassServer,
    university: Extract,
    way_filter: str,
    predicate: Callable[[Mapping[str, str]], bool],
) -> None:
    response = post(server, network_query(way_filter))
    assert response.status_code == 200, response.text
    nodes, ways = split(response.json()["elements"])
    expected = university.select(predicate)
    assert set(ways) == set(expected)
    assert set(nodes) == {ref for refs in expected.values() for ref in refs}


def test_absent_key_semantics_are_those_of_overpass(university: Extract) -> None:
    # sanity check of the cases above: both negated forms match ways without the key
    footways = university.select(lambda t: t.get("highway") == "footway")
    without_bicycle = {w for w in footways if "bicycle" not in university.ways[w][1]}
    assert without_bicycle
    with OverpassServer(UNIVERSITY) as srv:
        for op in ('!="yes"', '!~"yes"'):
            elements = post(srv, network_query(f'["highway"="footway"]["bicycle"{op}]')).json()
            assert without_bicycle <= set(split(elements["elements"])[1])


def test_node_query_bbox_and_id_filters(server: OverpassServer, university: Extract) -> None:
    south, west, north, east = 36.095, 140.0995, 36.105, 140.1025
    query = (
        f'[out:json];node["highway"="crossing"]({south},{west},{north},{east});out;'
        f"way(id:{KNOWN_WAY});out skel;(way({KNOWN_WAY});._;>;);out;"
    )
    response = post(server, query)
    assert response.status_code == 200, response.text
    elements = response.json()["elements"]
    crossing = {
        n
        for n, tags in university.node_tags.items()
        if tags.get("highway") == "crossing"
        and south <= university.nodes[n][0] <= north
        and west <= university.nodes[n][1] <= east
    }
    assert crossing
    first = elements[: len(crossing)]
    assert {e["id"] for e in first} == crossing
    assert all(e["tags"]["highway"] == "crossing" for e in first)
    skel = elements[len(crossing)]
    assert skel == {"type": "way", "id": KNOWN_WAY, "nodes": university.ways[KNOWN_WAY][0]}
    rest = split(elements[len(crossing) + 1 :])
    assert set(rest[1]) == {KNOWN_WAY}
    assert set(rest[0]) == set(university.ways[KNOWN_WAY][0])


@pytest.mark.parametrize(
    "query",
    [
        "",
        "hello",
        '[out:xml];way["highway"];out;',
        '[out:json];way["highway"];',  # no out statement
        f'[out:json];relation["type"](poly:{poly_str(CAMPUS)!r});out;',
        '[out:json];way["highway"](around:100,36.1,140.1);out;',
        '[out:json];way[~"^high"~"."];out;',
        '[out:json];way["highway"~"("];out;',
        "[out:json];way(poly:'36.1 140.1 36.2');out;",
        '[out:json];way["highway"]->.a;out;',
        '[out:json];way["highway"="x",i];out;',
    ],
)
def test_unsupported_or_bad_queries_get_overpass_style_400(
    server: OverpassServer, query: str
) -> None:
    response = post(server, query)
    assert response.status_code == 400
    assert "<strong" in response.text
    assert "Error</strong>: " in response.text
    with pytest.raises(requests.JSONDecodeError):
        response.json()


# ----------------------------------------------------------------------- faults


QUERY = network_query('["highway"="footway"]["bicycle"="yes"]')


def _check_normal(response: requests.Response) -> None:
    assert response.status_code == 200
    assert KNOWN_WAY in split(response.json()["elements"])[1]


def test_every_fault_is_tested() -> None:
    assert set(FAULTS) == {
        "ok", "429", "504", "500", "garbage", "truncate", "timeout", "empty", "remark"
    }  # fmt: skip


@pytest.mark.parametrize("fault", ["ok", "429", "504", "500", "garbage", "empty", "remark"])
def test_fault_answers(fault: str) -> None:
    with OverpassServer(UNIVERSITY, faults=[fault]) as srv:
        response = post(srv, QUERY)
        if fault == "ok":
            _check_normal(response)
        elif fault == "429":
            assert response.status_code == 429
            assert response.headers["Retry-After"] == "1"
        elif fault in {"504", "500"}:
            assert response.status_code == int(fault)
            with pytest.raises(requests.JSONDecodeError):
                response.json()
        elif fault == "garbage":
            assert response.status_code == 200
            assert response.text == "<html>oops</html>"
            with pytest.raises(requests.JSONDecodeError):
                response.json()
        else:
            assert response.status_code == 200
            doc = response.json()
            assert doc["elements"] == []
            assert doc["version"] == 0.6
            if fault == "remark":
                assert doc["remark"] == TIMEOUT_REMARK
            else:
                assert "remark" not in doc
        _check_normal(post(srv, QUERY))  # the queue is consumed
        assert srv.count("/interpreter") == 2
        assert srv.pending_faults == []
    assert srv.errors == []


def test_fault_truncate_breaks_the_body() -> None:
    with OverpassServer(UNIVERSITY, faults=["truncate", "ok", "truncate"]) as srv:
        with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
            post(srv, QUERY)
        # the same, read by hand: full Content-Length announced, half delivered
        response = post(srv, QUERY)
        full = len(response.content)
        host, port = srv.url.removeprefix("http://").split("/")[0].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            body = f"data={quote(QUERY)}".encode()
            sock.sendall(
                b"POST /api/interpreter HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        head, _, payload = received.partition(b"\r\n\r\n")
        assert f"Content-Length: {full}".encode() in head
        assert len(payload) == full // 2
        _check_normal(post(srv, QUERY))


def test_fault_timeout_makes_a_short_client_time_out() -> None:
    with OverpassServer(UNIVERSITY, faults=["timeout"], delay_s=3.0) as srv:
        start = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout):
            post(srv, QUERY, timeout=0.3)
        assert time.monotonic() - start < 2.0
        _check_normal(post(srv, QUERY))
        exit_start = time.monotonic()
    assert time.monotonic() - exit_start < 2.0  # the sleeping answer does not block shutdown


def test_fault_timeout_answers_a_patient_client() -> None:
    with OverpassServer(UNIVERSITY, faults=["timeout"], delay_s=0.3) as srv:
        start = time.monotonic()
        _check_normal(post(srv, QUERY, timeout=5))
        assert time.monotonic() - start >= 0.3


def test_fault_queue_order_ignores_status_requests() -> None:
    with OverpassServer(UNIVERSITY, faults=["500", "ok", "504", "429"]) as srv:
        assert post(srv, QUERY).status_code == 500
        requests.get(srv.url + "/status", timeout=5)
        assert post(srv, QUERY).status_code == 200
        assert requests.get(srv.nominatim_url + "status", timeout=5).text == "OK"
        assert post(srv, QUERY).status_code == 504
        search = requests.get(srv.nominatim_url + "search", params={"q": "Tsukuba"}, timeout=5)
        assert search.status_code == 429  # the queue is shared with Nominatim search
        assert post(srv, QUERY).status_code == 200
        assert srv.pending_faults == []


def test_unknown_fault_and_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        OverpassServer(UNIVERSITY, faults=["slow"])
    with pytest.raises(ValueError, match="delay_s"):
        OverpassServer(UNIVERSITY, delay_s=-1)
    with pytest.raises(ValueError, match="south, west, north, east"):
        OverpassServer(UNIVERSITY, nominatim_polygon=(36.2, 140.0, 36.1, 140.2))


# ----------------------------------------------------------------------- nominatim

OSMNX_SEARCH: dict[str, str | int] = {
    "format": "json",
    "polygon_geojson": 1,
    "dedupe": 0,
    "limit": 50,
}


def test_nominatim_search_answers_like_nominatim() -> None:
    polygon = (36.05, 140.05, 36.15, 140.15)
    with OverpassServer(UNIVERSITY, nominatim_polygon=polygon) as srv:
        params = {**OSMNX_SEARCH, "q": "Tsukuba, Ibaraki, Japan"}
        results = requests.get(srv.nominatim_url + "search", params=params, timeout=5).json()
        assert len(results) == 1
        result = results[0]
        for key in (
            "place_id", "licence", "osm_type", "osm_id", "lat", "lon", "class", "type",
            "importance", "display_name", "boundingbox", "geojson",
        ):  # fmt: skip
            assert key in result
        assert result["display_name"] == "Tsukuba, Ibaraki, Japan"
        assert [float(v) for v in result["boundingbox"]] == [36.05, 36.15, 140.05, 140.15]
        assert (float(result["lat"]), float(result["lon"])) == pytest.approx((36.1, 140.1))
        assert result["geojson"]["type"] == "Polygon"
        assert shape(result["geojson"]).equals(box(140.05, 36.05, 140.15, 36.15))

        no_poly = {**params, "polygon_geojson": 0}
        plain = requests.get(srv.nominatim_url + "search", params=no_poly, timeout=5).json()
        assert "geojson" not in plain[0]
        nowhere = {**params, "q": "Nowhere Town"}
        assert requests.get(srv.nominatim_url + "search", params=nowhere, timeout=5).json() == []
        bad = requests.get(srv.nominatim_url + "search", params={"format": "json"}, timeout=5)
        assert bad.status_code == 400


def test_nominatim_default_polygon_is_the_extract_bbox() -> None:
    with OverpassServer(UNIVERSITY) as srv:
        params = {**OSMNX_SEARCH, "q": "University of Tsukuba"}
        result = requests.get(srv.nominatim_url + "search", params=params, timeout=5).json()[0]
    assert [float(v) for v in result["boundingbox"]] == pytest.approx(
        [36.08892, 36.11111, 140.09937, 140.10268]
    )  # the <bounds> element of the Overpass XML file


@pytest.mark.parametrize("fault", ["empty", "remark", "garbage", "429"])
def test_nominatim_faults(fault: str) -> None:
    with OverpassServer(UNIVERSITY, faults=[fault]) as srv:
        params = {**OSMNX_SEARCH, "q": "Tsukuba"}
        response = requests.get(srv.nominatim_url + "search", params=params, timeout=5)
        if fault == "empty":
            assert response.json() == []
        elif fault == "remark":
            assert response.status_code == 200
            assert isinstance(response.json(), dict)
        elif fault == "garbage":
            assert response.text == "<html>oops</html>"
        else:
            assert response.status_code == 429
        again = requests.get(srv.nominatim_url + "search", params=params, timeout=5).json()
        assert len(again) == 1


# ----------------------------------------------------------------------- other extracts


def test_missing_nodes_are_dropped_from_ways(tmp_path: Path) -> None:
    osm = tmp_path / "clipped.osm"
    osm.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
 <node id="1" lat="36.10" lon="140.10"><tag k="highway" v="crossing"/></node>
 <node id="2" lat="36.11" lon="140.10"/>
 <node id="3" lat="36.30" lon="140.30"/>
 <way id="10"><nd ref="99"/><nd ref="1"/><nd ref="98"/><nd ref="2"/>
  <tag k="highway" v="path"/></way>
 <way id="11"><nd ref="97"/><nd ref="3"/><tag k="highway" v="path"/></way>
 <way id="12"><nd ref="96"/><nd ref="95"/><tag k="highway" v="path"/></way>
</osm>
""",
        encoding="utf-8",
    )
    area = box(140.0, 36.0, 140.2, 36.2)
    with OverpassServer(osm) as srv:
        assert srv.extract.missing_refs == 5
        doc = post(srv, network_query('["highway"]', area)).json()
        everything = post(srv, "[out:json];(way;>;);out;").json()
    assert doc["elements"] == [
        {"type": "node", "id": 1, "lat": 36.1, "lon": 140.1, "tags": {"highway": "crossing"}},
        {"type": "node", "id": 2, "lat": 36.11, "lon": 140.1},
        {"type": "way", "id": 10, "nodes": [1, 2], "tags": {"highway": "path"}},
    ]
    # without a spatial filter the clipped way 11 comes back, the node-less way 12 never
    assert [e["id"] for e in everything["elements"] if e["type"] == "way"] == [10, 11]


def test_science_city_xml_without_metadata() -> None:
    data = read_independently(SCIENCE_CITY)
    area = box(140.105, 36.080, 140.115, 36.090)
    expected = data.select(lambda t: t.get("highway") == "cycleway", area)
    with OverpassServer(SCIENCE_CITY) as srv:
        nodes, ways = split(
            post(srv, network_query('["highway"="cycleway"]', area)).json()["elements"]
        )
        params = {**OSMNX_SEARCH, "q": "Tsukuba"}
        result = requests.get(srv.nominatim_url + "search", params=params, timeout=5).json()[0]
    assert set(ways) == set(expected)
    assert set(nodes) == {ref for refs in expected.values() for ref in refs}
    assert [float(v) for v in result["boundingbox"]] == pytest.approx(
        [36.0777, 36.1217, 140.0921, 140.1201]
    )


@pytest.mark.skipif(not HEIDELBERG.exists(), reason="Heidelberg extract missing")
def test_heidelberg_pbf_bike_street_query() -> None:
    # Heidelberg Altstadt / Bergheim; checked against the response's own geometry
    area = box(8.68, 49.40, 8.71, 49.415)
    with OverpassServer(HEIDELBERG) as srv:
        response = post(srv, network_query('["highway"]["bicycle"~"^(designated|yes)$"]', area))
        nodes, ways = split(response.json()["elements"])
        south, west, north, east = srv.extract.bounds
    assert len(ways) > 20
    for way in ways.values():
        assert way["tags"]["bicycle"] in {"designated", "yes"}
        assert set(way["nodes"]) <= set(nodes)
        assert any(area.intersects(Point(nodes[n]["lon"], nodes[n]["lat"])) for n in way["nodes"])
    # the PBF's header box is bogus, so the nominatim default is the nodes' extent
    assert south < 49.35 and north > 49.49 and west < 8.64 and east > 8.82


# ----------------------------------------------------------------------- through osmnx

OSMNX_SETTINGS = (
    "overpass_url",
    "nominatim_url",
    "use_cache",
    "overpass_rate_limit",
    "doh_url_template",
    "requests_timeout",
    "log_console",
)


@pytest.fixture
def osmnx_on() -> Iterator[Callable[[OverpassServer], None]]:
    saved = {name: getattr(ox.settings, name) for name in OSMNX_SETTINGS}
    saved_getaddrinfo = socket.getaddrinfo  # osmnx's _config_dns replaces it

    def point_at(srv: OverpassServer) -> None:
        ox.settings.overpass_url = srv.url
        ox.settings.nominatim_url = srv.nominatim_url
        ox.settings.use_cache = False
        ox.settings.overpass_rate_limit = True
        ox.settings.doh_url_template = None
        ox.settings.requests_timeout = 5
        ox.settings.log_console = False

    yield point_at
    for name, value in saved.items():
        setattr(ox.settings, name, value)
    socket.getaddrinfo = saved_getaddrinfo


def expected_graph(data: Extract, polygon: Polygon) -> tuple[set[int], int]:
    """Nodes and edge count osmnx must build for ``["highway"]["area"!~"yes"]``.

    Mirrors osmnx 2.1 (network_type "all", not bidirectional): consecutive duplicate
    refs collapse, one-way ways (``oneway`` in osmnx's list, or roundabouts) give one
    edge per segment, others two; after truncation only nodes inside ``polygon`` and
    edges between two of them remain.
    """
    oneway_values = {"yes", "true", "1", "-1", "reverse", "T", "F"}
    nodes: set[int] = set()
    edges = 0
    for refs, tags in data.ways.values():
        if not _area_not_yes(tags):
            continue
        path = [ref for ref, _ in groupby(refs)]
        inside = {ref for ref in path if data.inside(ref, polygon)}
        nodes |= inside
        one_way = tags.get("oneway") in oneway_values or tags.get("junction") == "roundabout"
        segments = sum(1 for u, v in pairwise(path) if u in inside and v in inside)
        edges += segments if one_way else 2 * segments
    return nodes, edges


def test_osmnx_graph_from_polygon(
    osmnx_on: Callable[[OverpassServer], None], university: Extract
) -> None:
    nodes, edges = expected_graph(university, CAMPUS)
    assert edges > 100
    with OverpassServer(UNIVERSITY) as srv:
        osmnx_on(srv)
        graph = ox.graph_from_polygon(
            CAMPUS, custom_filter=['["highway"]["area"!~"yes"]'], simplify=False, retain_all=True
        )
        assert srv.count("/status") >= 1
        assert srv.count("/interpreter") == 1
        assert srv.errors == []
    assert set(graph.nodes) == nodes
    assert graph.number_of_edges() == edges
    assert any(d.get("highway") == "footway" for _, _, d in graph.edges(data=True))


def test_osmnx_union_of_filters(
    osmnx_on: Callable[[OverpassServer], None], university: Extract
) -> None:
    filters = ['["highway"="footway"]["bicycle"="yes"]', '["highway"="cycleway"]']
    expected = university.select(
        lambda t: (
            (t.get("highway") == "footway" and t.get("bicycle") == "yes")
            or t.get("highway") == "cycleway"
        )
    )
    with OverpassServer(UNIVERSITY) as srv:
        osmnx_on(srv)
        graph = ox.graph_from_polygon(
            CAMPUS, custom_filter=filters, simplify=False, retain_all=True
        )
        assert srv.count("/interpreter") == 2  # one request per filter
    assert {d["osmid"] for _, _, d in graph.edges(data=True)} <= set(expected)
    assert KNOWN_WAY in {d["osmid"] for _, _, d in graph.edges(data=True)}


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("garbage", InsufficientResponseError),
        ("500", ResponseStatusCodeError),
        ("remark", InsufficientResponseError),
        ("empty", InsufficientResponseError),
        ("truncate", requests.exceptions.ChunkedEncodingError),
        ("timeout", requests.exceptions.ReadTimeout),
    ],
)
def test_osmnx_sees_faults(
    osmnx_on: Callable[[OverpassServer], None], fault: str, error: type[Exception]
) -> None:
    with OverpassServer(UNIVERSITY, faults=[fault], delay_s=3.0) as srv:
        osmnx_on(srv)
        ox.settings.requests_timeout = 1
        with pytest.raises(error):
            ox.graph_from_polygon(CAMPUS, custom_filter=['["highway"]'], simplify=False)
        assert srv.count("/interpreter") == 1


def test_osmnx_refused_connection(osmnx_on: Callable[[OverpassServer], None]) -> None:
    with OverpassServer(UNIVERSITY) as srv:
        osmnx_on(srv)
    ox.settings.overpass_url = refused_url()
    ox.settings.overpass_rate_limit = False
    with pytest.raises(requests.ConnectionError):
        ox.graph_from_polygon(CAMPUS, custom_filter=['["highway"]'], simplify=False)


def test_osmnx_geocode_to_gdf(osmnx_on: Callable[[OverpassServer], None]) -> None:
    polygon = (36.05, 140.05, 36.15, 140.15)
    with OverpassServer(UNIVERSITY, nominatim_polygon=polygon) as srv:
        osmnx_on(srv)
        gdf = ox.geocode_to_gdf("Tsukuba, Ibaraki, Japan")
        assert srv.count("/search") == 1
    assert len(gdf) == 1
    row = gdf.iloc[0]
    assert row.geometry.equals(box(140.05, 36.05, 140.15, 36.15))
    assert row["display_name"] == "Tsukuba, Ibaraki, Japan"
    assert (row["bbox_south"], row["bbox_west"], row["bbox_north"], row["bbox_east"]) == polygon
    assert gdf.crs.to_epsg() == 4326


def test_osmnx_geocode_nowhere(osmnx_on: Callable[[OverpassServer], None]) -> None:
    with OverpassServer(UNIVERSITY) as srv:
        osmnx_on(srv)
        with pytest.raises(InsufficientResponseError, match="0 results"):
            ox.geocode_to_gdf("Nowhere, Atlantis")
