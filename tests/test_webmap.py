"""Structure of the rendered web map (no browser): layers, markers, labels, escaping, offline."""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import folium.folium
import pytest

from ringroute import _assets
from ringroute.cities import City, Sight
from ringroute.loop import Loop, plan_loops
from ringroute.network import Network
from ringroute.sights import Place, resolve, snap
from ringroute.webmap import ATTRIBUTION_HTML, build_map, write_map

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"

SCRIPT_ALERT = "<script>alert(1)</script>"
IMG_PWN = '<img src=x onerror="window.__pwned=1">'
TEMPLATE = "{{ 7*7 }}"
TEMPLATE_LITERAL = "`${window.__pwned=1}`"
QUOTES = "\"'); window.__pwned=1; //"
CLOSE_SCRIPT = "</script><script>window.__pwned=1</script>"
BACKSLASH = "\\u003cscript\\u003e \\"
PAYLOADS = (SCRIPT_ALERT, IMG_PWN, TEMPLATE, TEMPLATE_LITERAL, QUOTES, CLOSE_SCRIPT, BACKSLASH)
EVIL = " ".join(PAYLOADS)
_JS_STRING = r'"(?:[^"\\]|\\.)*"'


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def loops(science_city: Network, tsukuba: City) -> list[Loop]:
    start = snap(resolve("station", tsukuba), science_city, max_snap_m=500)
    via = [snap(resolve(k, tsukuba), science_city, max_snap_m=500) for k in ("univ", "expo")]
    out = plan_loops(science_city, start, via, target_km=20, alternatives=2)
    assert len(out) == 2
    return out


def make_evil(loops: list[Loop], tsukuba: City) -> tuple[list[Loop], City]:
    """The loops with every catalogue and OSM-derived string replaced by attacks."""

    def evil_sight(sight: Sight | None, n: int) -> Sight | None:
        if sight is None:
            return None
        return dataclasses.replace(
            sight,
            names={lg: f"Evil{n} {lg} {TEMPLATE} Place {EVIL}" for lg in ("en", "de", "ja")},
            category=f"cat {EVIL}", description=f"desc {EVIL}",
        )

    out = []
    for loop in loops:
        stops = []
        for n, stop in enumerate(loop.stops):
            place = stop.place.place
            if n == 0:  # the start becomes a bare point whose "key" is hostile
                new_place = Place(key=f"Start {EVIL}", lat=place.lat, lon=place.lon)
            else:
                new_place = dataclasses.replace(place, sight=evil_sight(place.sight, n))
            stops.append(dataclasses.replace(
                stop, place=dataclasses.replace(stop.place, place=new_place)))
        way_class_m = {**loop.way_class_m, f"highway {EVIL}": 500.0}
        out.append(dataclasses.replace(loop, stops=stops, way_class_m=way_class_m,
                                       label=EVIL))
    city = dataclasses.replace(tsukuba, names={lg: f"City {EVIL}" for lg in ("en", "de", "ja")})
    return out, city


@pytest.fixture(scope="module")
def html_en(loops: list[Loop], tsukuba: City) -> str:
    return str(build_map(loops, city=tsukuba, lang="en").get_root().render())


# ------------------------------------------------------------------ helpers
class _Tags(HTMLParser):
    """Start tags of the page as an HTML parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.summary_depth = 0
        self.summary_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id") == "rr-summary" or self.summary_depth:
            self.summary_depth += tag not in {"br", "img"}

    def handle_endtag(self, tag: str) -> None:
        if self.summary_depth and tag not in {"br", "img"}:
            self.summary_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.summary_depth:
            self.summary_text.append(data)


def parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    return p


def bound(html: str, method: str) -> list[str]:
    """Contents passed to ``.bindPopup(...)`` / ``.bindTooltip(...)``, decoded."""
    return [json.loads(s) for s in re.findall(rf"\.{method}\(({_JS_STRING}),", html)]


def tile_attribution(html: str) -> str:
    m = re.search(rf'L\.tileLayer\(\s*"[^"]+",\s*\{{.*?"attribution": ({_JS_STRING})', html,
                  re.DOTALL)
    assert m, "no tile layer with attribution"
    return str(json.loads(m.group(1)))


def km_marks(loop: Loop) -> list[int]:
    last = int(loop.length_m // 1000)
    return [k for k in range(5, last + 1, 5) if k * 1000 < loop.length_m - 200]


def summary_html(html: str) -> str:
    m = re.search(r'<div id="rr-summary".*?</div></div>\s', html, re.DOTALL)
    assert m
    return m.group(0)


# ------------------------------------------------------------------ structure
def test_one_polyline_per_loop(loops: list[Loop], html_en: str) -> None:
    assert html_en.count("L.polyline(") == len(loops)
    for n in range(len(loops)):
        assert f'"className": "rr-route rr-route-{n}"' in html_en
    # the main route's coordinates are all there
    first = loops[0]
    assert f"[{first.lat[1]}, {first.lon[1]}]" in html_en


def test_markers_per_stop_and_every_5_km(loops: list[Loop], html_en: str) -> None:
    stops = sum(len(loop.stops) for loop in loops)
    kms = [k for loop in loops for k in km_marks(loop)]
    assert kms, "20 km loops must have km markers"
    assert html_en.count("rr-badge") == stops + len(kms)
    assert html_en.count("rr-badge rr-start") == len(loops)
    assert html_en.count("rr-badge rr-stop") == stops - len(loops)
    assert html_en.count("rr-badge rr-km") == len(kms)
    tooltips = bound(html_en, "bindTooltip")
    assert sorted(int(t[3:]) for t in tooltips if t.startswith("km ")) == sorted(kms)
    assert len(bound(html_en, "bindPopup")) == stops
    # one arrow per other whole km
    arrows = sum(len(range(1, int((loop.length_m - 200) // 1000) + 1)) for loop in loops)
    assert html_en.count("rr-arrow") == arrows - len(kms)
    assert html_en.count("L.marker(") == stops + arrows


def test_attribution_in_tiles_and_summary(html_en: str) -> None:
    attribution = tile_attribution(html_en)
    assert attribution == ATTRIBUTION_HTML
    assert "OpenStreetMap</a> contributors" in attribution
    page = parse(html_en)
    text = "".join(page.summary_text)
    assert "© OpenStreetMap contributors" in text
    assert any(tag == "a" and a.get("href") == "https://www.openstreetmap.org/copyright"
               for tag, a in page.tags)


def test_summary_lists_routes_and_sights(loops: list[Loop], html_en: str) -> None:
    text = "".join(parse(html_en).summary_text)
    assert "Tsukuba – 20 km" in text
    assert "Route: 20.0 km" in text or f"Route: {loops[0].length_m / 1000:.1f} km" in text
    assert "Alternative 1" in text
    assert "University of Tsukuba" in text
    assert "Tsukuba Expo Center" in text


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["Route", "Sights", "Ridden twice", "Start/Finish", "Category", "at km"]),
    ("de", ["Route", "Sehenswürdigkeiten", "Doppelt gefahren", "Start/Ziel", "Kategorie",
            "bei km", "Alternative 1", "Universität Tsukuba"]),
    ("ja", ["ルート", "見どころ", "重複区間", "スタート/ゴール", "カテゴリー", "km地点",
            "代替ルート 1", "筑波大学", "つくば市"]),
])
def test_labels_in_language(loops: list[Loop], tsukuba: City, lang: str, words: list[str]) -> None:
    html = str(build_map(loops, city=tsukuba, lang=lang).get_root().render())
    visible = "".join(parse(html).summary_text) + " ".join(
        bound(html, "bindPopup") + bound(html, "bindTooltip"))
    for word in words:
        assert word in visible, f"{word!r} missing for --lang {lang}"
    if lang != "en":
        assert "Ridden twice" not in visible
        assert "Start/Finish" not in visible


@pytest.mark.parametrize(("lang", "label"), [("en", "unavoidable at this length"),
                                             ("de", "bei dieser Länge unvermeidlich"),
                                             ("ja", "この距離では不可避")])
def test_summary_names_unavoidable_repeats(loops: list[Loop], tsukuba: City, lang: str,
                                           label: str) -> None:
    forced = dataclasses.replace(loops[0], overlap_ratio=0.08, forced_overlap_ratio=0.06)
    text = "".join(parse(str(build_map([forced], city=tsukuba, lang=lang).get_root().render()))
                   .summary_text)
    assert f"8.0% (6.0% {label})" in text
    plain = "".join(parse(str(build_map([dataclasses.replace(forced, forced_overlap_ratio=0.0)],
                                        city=tsukuba, lang=lang).get_root().render()))
                    .summary_text)
    assert label not in plain


def test_layer_control_only_with_alternatives(
    loops: list[Loop], tsukuba: City, html_en: str
) -> None:
    assert html_en.count("L.control.layers(") == 1
    names = re.findall(rf"({_JS_STRING}) : feature_group_", html_en)
    assert [json.loads(n) for n in names] == [
        f"Route: {loops[0].length_m / 1000:.1f} km",
        f"Alternative 1: {loops[1].length_m / 1000:.1f} km",
    ]
    single = str(build_map(loops[:1], city=tsukuba).get_root().render())
    assert "L.control.layers(" not in single
    assert single.count("L.polyline(") == 1


def test_popups_have_trilingual_names(loops: list[Loop], tsukuba: City, html_en: str) -> None:
    popups = bound(html_en, "bindPopup")
    for key in ("univ", "expo", "station"):
        sight = tsukuba.sight(key)
        hits = [p for p in popups if f"{sight.names['en']}</b>" in p]
        assert hits, f"no popup for {key}"
        for p in hits:
            for lang in ("en", "de", "ja"):
                assert sight.names[lang] in p
            assert f"Category: {sight.category}" in p
    assert any(p.startswith("<b>1. ") for p in popups)


def test_write_map_writes_the_page(loops: list[Loop], tsukuba: City, tmp_path: Path) -> None:
    out = write_map(loops, tmp_path / "sub" / "map.html", city=tsukuba, lang="de")
    assert out == tmp_path / "sub" / "map.html"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>Tsukuba – 20 km</title>" in text
    assert 'id="rr-summary"' in text


def test_empty_loops_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        build_map([])


# ------------------------------------------------------------------ escaping
@pytest.fixture(scope="module")
def evil_html(loops: list[Loop], tsukuba: City) -> str:
    evil, city = make_evil(loops, tsukuba)
    return str(build_map(evil, city=city, lang="en").get_root().render())


def test_hostile_names_never_raw(evil_html: str, html_en: str) -> None:
    for raw in ("<script>alert", "<img", "onerror=\"", "{{ 7*7 }}", "${window", "`$",
                "</script><script>window"):
        assert raw not in evil_html, raw
    assert "49 Place" not in evil_html  # the Jinja expression was not evaluated
    # the HTML parser sees exactly the tags of the benign page: nothing injected
    evil_tags = [(t, sorted(a)) for t, a in parse(evil_html).tags]
    good_tags = [(t, sorted(a)) for t, a in parse(html_en).tags]
    assert [t for t, _ in evil_tags if t in {"script", "img", "iframe", "svg"}] == [
        t for t, _ in good_tags if t in {"script", "img", "iframe", "svg"}]
    assert not any(k.startswith("on") for _, attrs in evil_tags for k in attrs)


def test_hostile_names_shown_escaped(evil_html: str) -> None:
    # summary: city title, sight names, way class
    summary = summary_html(evil_html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in summary
    assert "&#123;&#123; 7*7 &#125;&#125;" in summary
    assert "&quot;&#x27;); window.__pwned=1; //" in summary
    text = "".join(parse(evil_html).summary_text)
    assert f"City {EVIL}" in text  # decoded, the reader sees the names as written
    assert f"Evil1 en {TEMPLATE} Place {EVIL}" in text
    assert f"highway {EVIL}" in text
    # popups and tooltips: escaped HTML inside a JSON string
    popups = bound(evil_html, "bindPopup")
    assert popups
    for p in popups:
        assert "<script" not in p
        assert "<img" not in p
        assert "{{" not in p
        assert "${" not in p
    sight_popups = [p for p in popups if "Evil" in p]
    assert sight_popups
    for p in sight_popups:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in p
        assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in p
        assert "&#96;&#36;&#123;window.__pwned=1&#125;&#96;" in p
        assert "cat &lt;script&gt;" in p
        assert "desc &lt;script&gt;" in p
    assert any(p.startswith("<b>Start &lt;script&gt;") for p in popups)
    for t in bound(evil_html, "bindTooltip"):
        assert "<script" not in t
        assert "{{" not in t
    assert re.search(r"<title>City &lt;script&gt;alert\(1\)&lt;/script&gt;", evil_html)


def test_hostile_title(loops: list[Loop]) -> None:
    html = str(build_map(loops, title=EVIL).get_root().render())
    assert "<script>alert" not in html
    assert "{{ 7*7 }}" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in summary_html(html)


# ------------------------------------------------------------------ offline
@pytest.fixture(scope="module")
def offline_html(loops: list[Loop], tsukuba: City) -> str:
    return str(build_map(loops, city=tsukuba, offline=True).get_root().render())


def _external_resources(html: str) -> list[str]:
    out = []
    for tag, attrs in parse(html).tags:
        for key in ("src", "href"):
            url = attrs.get(key) or ""
            if tag in {"script", "link", "img", "iframe"} and re.match(r"(?i)(https?:)?//", url):
                out.append(url)
    out += re.findall(r"""@import\s+(?:url\()?["']?(?:https?:)?//[^"')\s]+""", html)
    return out


def test_online_page_links_folium_cdn(html_en: str) -> None:
    resources = _external_resources(html_en)
    assert f"https://cdn.jsdelivr.net/npm/leaflet@{_assets.LEAFLET_VERSION}/dist/leaflet.js" in (
        resources)
    assert "L.version" not in html_en  # Leaflet is not inlined


def test_offline_page_has_no_external_resources(offline_html: str) -> None:
    assert _external_resources(offline_html) == []
    page = parse(offline_html)
    assert not [a for t, a in page.tags if t == "script" and a.get("src")]
    assert not [a for t, a in page.tags if t == "link"]
    # the only remote URLs left: tiles and plain links/namespaces in text
    urls = set(re.findall(r"https?://[^\s\"'<>\\)]+", offline_html))
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in urls
    allowed = ("https://tile.openstreetmap.org/", "https://www.openstreetmap.org/copyright",
               "https://leafletjs.com", "http://www.w3.org/", "https://bugzilla.mozilla.org/")
    assert [u for u in urls if not u.startswith(allowed)] == []
    for lib in ("jquery", "bootstrap", "awesome-markers", "fontawesome", "glyphicons"):
        assert lib not in offline_html.lower()


def test_offline_page_inlines_leaflet(offline_html: str, html_en: str) -> None:
    assert f"Leaflet {_assets.LEAFLET_VERSION}, a JS library" in offline_html
    assert ".leaflet-container" in offline_html
    assert "url(images/" not in offline_html  # CSS images are data: URIs
    assert "data:image/png;base64," in offline_html
    assert "sourceMappingURL" not in offline_html
    # the map itself is the same as online
    for marker in ("= L.polyline(", "= L.marker(", "rr-badge", "rr-summary", "L.control.layers("):
        assert offline_html.count(marker) == html_en.count(marker), marker
    assert bound(offline_html, "bindPopup") == bound(html_en, "bindPopup")


def test_offline_write_map(loops: list[Loop], tmp_path: Path) -> None:
    out = write_map(loops, tmp_path / "off.html", offline=True)
    assert _external_resources(out.read_text(encoding="utf-8")) == []


def test_offline_is_per_map(loops: list[Loop]) -> None:
    """Dropping the CDN links for one map must not change folium's defaults."""
    build_map(loops, offline=True).get_root().render()
    again = str(build_map(loops).get_root().render())
    assert "code.jquery.com" in again
    assert len(folium.folium._default_js) == 4


# ------------------------------------------------------------------ vendored assets
def test_vendored_leaflet_matches_folium() -> None:
    leaflet_url = dict(folium.folium._default_js)["leaflet"]
    assert f"leaflet@{_assets.LEAFLET_VERSION}/" in leaflet_url
    pkg = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    assert pkg["dependencies"]["leaflet"] == _assets.LEAFLET_VERSION
    assert f"Leaflet {_assets.LEAFLET_VERSION}," in _assets.leaflet_js()[:200]


def test_vendored_files_small_and_licensed() -> None:
    for rel in _assets.LEAFLET_FILES:
        assert _assets.asset_path(rel).stat().st_size < 1_000_000, rel
    licence = (_assets.asset_path("leaflet.js").parent / "LICENSE").read_text(encoding="utf-8")
    assert "BSD 2-Clause" in licence
    assert "Vladimir Agafonkin" in licence


@pytest.mark.skipif(not (NODE_MODULES / "leaflet").is_dir(), reason="run 'npm ci' first")
def test_vendored_copy_equals_npm_package() -> None:
    for rel in _assets.LEAFLET_FILES:
        npm = NODE_MODULES / "leaflet" / "dist" / rel
        assert _assets.asset_path(rel).read_bytes() == npm.read_bytes(), rel


@pytest.mark.skipif(not (NODE_MODULES / "leaflet").is_dir(), reason="run 'npm ci' first")
def test_sync_from_node_modules(tmp_path: Path) -> None:
    written = _assets.sync_from_node_modules(NODE_MODULES, tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {
        *_assets.LEAFLET_FILES, "LICENSE"}
