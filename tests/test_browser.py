"""The web map in a real headless Chromium (Playwright): renders, runs no injected script.

Pages are served from a local ``http.server`` on 127.0.0.1. Every other request
is answered locally by ``page.route``: the online page's CDN links from the
vendored Leaflet copy and ``node_modules`` (``npm ci``; libraries not installed
there, and the two stylesheets that are not on npm, get an empty body: the map
does not use them), tiles from a generated PNG. A request to anything else fails
the test. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ringroute import _assets
from ringroute.cities import City, Sight
from ringroute.loop import Loop, plan_loops
from ringroute.network import Network
from ringroute.sights import Place, resolve, snap
from ringroute.webmap import write_map

pytestmark = [pytest.mark.browser, pytest.mark.network]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
ARTIFACTS = ROOT / "test-artifacts"
TILE_HOST = "tile.openstreetmap.org"

PWN_SCRIPT = "<script>window.__pwned=1</script>"
PWN_IMG = '<img src=x onerror="window.__pwned=1">'
PWN_CLOSE = "</script><script>window.__pwned=1</script>"
PWN_TEMPLATE = "`${window.__pwned=1}`"
PWN_QUOTES = "\"'); window.__pwned=1; //"
TEMPLATE = "{{ 7*7 }}"
EVIL = " ".join((PWN_SCRIPT, PWN_IMG, PWN_CLOSE, PWN_TEMPLATE, PWN_QUOTES, TEMPLATE))

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import (  # noqa: E402
    Browser,
    ConsoleMessage,
    Page,
    Route,
    sync_playwright,
)


# ------------------------------------------------------------------ helpers
def _png(width: int = 256, height: int = 256, rgb: tuple[int, int, int] = (232, 236, 228)) -> bytes:
    """A plain one-colour PNG (a stand-in map tile)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height, 9)) + chunk(b"IEND", b""))


TILE_PNG = _png()


def _cdn_file(url: str) -> Path | None:
    """Local copy of a CDN resource folium's online page loads (None: not needed/available)."""
    leaflet = re.fullmatch(rf"https://cdn\.jsdelivr\.net/npm/leaflet@{_assets.LEAFLET_VERSION}"
                           r"/dist/(.+)", url)
    if leaflet:
        return _assets.asset_path(leaflet.group(1))
    m = re.fullmatch(r"https://cdn\.jsdelivr\.net/npm/((?:@[^/]+/)?[^@/]+)@[^/]+/(.+)", url)
    if m:
        return NODE_MODULES / m.group(1) / m.group(2)
    m = re.fullmatch(r"https://code\.jquery\.com/jquery-[\d.]+\.min\.js", url)
    if m:
        return NODE_MODULES / "jquery" / "dist" / "jquery.min.js"
    m = re.fullmatch(r"https://cdnjs\.cloudflare\.com/ajax/libs/Leaflet\.awesome-markers/"
                     r"[\d.]+/(leaflet\.awesome-markers\.(js|css))", url)
    if m:
        return NODE_MODULES / "drmonty-leaflet-awesome-markers" / m.group(2) / m.group(1)
    return None


#: CDN resources folium links that are not on npm; the map does not use them.
_NOT_ON_NPM = (
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css",
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/",
)


def _content_type(path: str) -> str:
    for ext, kind in ((".js", "application/javascript"), (".css", "text/css"),
                      (".png", "image/png"), (".woff2", "font/woff2")):
        if path.endswith(ext):
            return kind
    return "application/octet-stream"


class _Net:
    """Answers every request of a page locally and records what was asked."""

    def __init__(self, origin: str, *, cdn: bool, tiles: bool) -> None:
        self.origin = origin
        self.cdn = cdn
        self.answer_tiles = tiles
        self.served_cdn: list[str] = []
        self.stubbed: list[str] = []
        self.tiles = 0
        self.unexpected: list[str] = []

    def handle(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.origin):
            route.continue_()
        elif url.startswith(f"https://{TILE_HOST}/"):
            self.tiles += 1
            if self.answer_tiles:
                route.fulfill(status=200, body=TILE_PNG, content_type="image/png")
            else:
                route.abort("internetdisconnected")
        elif url.startswith("data:"):
            route.continue_()
        elif self.cdn and (local := _cdn_file(url)) is not None and local.is_file():
            self.served_cdn.append(url)
            route.fulfill(status=200, body=local.read_bytes(), content_type=_content_type(url))
        elif self.cdn and ((local := _cdn_file(url)) is not None or url.startswith(_NOT_ON_NPM)):
            assert "leaflet@" not in url, f"vendored Leaflet missing for {url}"
            self.stubbed.append(url)  # not in node_modules / not on npm: unused by the map
            route.fulfill(status=200, body=b"", content_type=_content_type(url))
        else:
            self.unexpected.append(url)
            route.abort()


@dataclasses.dataclass
class Opened:
    page: Page
    net: _Net
    errors: list[str]


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def loops(science_city: Network, tsukuba: City) -> list[Loop]:
    start = snap(resolve("station", tsukuba), science_city, max_snap_m=500)
    via = [snap(resolve(k, tsukuba), science_city, max_snap_m=500) for k in ("univ", "expo")]
    return plan_loops(science_city, start, via, target_km=20, alternatives=2)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1, and its URL."""
    root = tmp_path_factory.mktemp("site")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def open_map(
    browser: Browser, site: tuple[Path, str], request: pytest.FixtureRequest
) -> Iterator[Any]:
    """Write loops to the site, open the page; yields a function doing that."""
    root, origin = site
    contexts = []

    def _open(loops: list[Loop], *, offline: bool, tiles: bool = True, **kw: Any) -> Opened:
        name = f"{request.node.name}.html".replace("[", "_").replace("]", "")
        write_map(loops, root / name, offline=offline, **kw)
        ctx = browser.new_context(viewport={"width": 1200, "height": 800}, locale="en-US")
        contexts.append(ctx)
        net = _Net(origin, cdn=not offline, tiles=tiles)
        ctx.route("**/*", net.handle)
        page = ctx.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error" and TILE_HOST not in (msg.location.get("url") or ""):
                errors.append(f"console: {msg.text} @ {msg.location}")

        page.on("console", on_console)
        page.goto(origin + name, wait_until="load")
        page.wait_for_function("() => window.L && document.querySelector('.rr-badge')")
        page.wait_for_timeout(300)  # let fitBounds and tiles settle
        return Opened(page, net, errors)

    yield _open
    for ctx in contexts:
        ctx.close()


def _shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def _expected_badges(loops: list[Loop]) -> int:
    kms = sum(len([k for k in range(5, int(lp.length_m // 1000) + 1, 5)
                   if k * 1000 < lp.length_m - 200]) for lp in loops)
    return sum(len(lp.stops) for lp in loops) + kms


def _check_map(o: Opened, loops: list[Loop]) -> None:
    page = o.page
    assert o.errors == []
    assert o.net.unexpected == []
    assert page.evaluate("L.version") == _assets.LEAFLET_VERSION
    assert page.locator("path.leaflet-interactive").count() >= len(loops)
    for n in range(len(loops)):
        assert page.locator(f"path.rr-route-{n}").count() == 1
    assert page.locator(".rr-badge").count() == _expected_badges(loops)
    assert page.locator(".rr-start").count() == len(loops)
    assert page.locator(".rr-stop").count() == sum(len(lp.sights) for lp in loops)
    summary = page.locator("#rr-summary")
    assert summary.is_visible()
    assert "© OpenStreetMap contributors" in summary.inner_text()
    attribution = page.locator(".leaflet-control-attribution")
    assert attribution.is_visible()
    assert "OpenStreetMap contributors" in attribution.inner_text()
    # a layer control lists the alternatives; a single route has none
    overlays = page.locator(".leaflet-control-layers-overlays label")
    assert overlays.count() == (len(loops) if len(loops) > 1 else 0)


def _click_sight(page: Page) -> str:
    """Click (real mouse click) a numbered sight badge that is not covered; returns its text.

    Alternatives visiting the same sights put their badges on the same spot, so
    only the topmost one of each pile can be clicked.
    """
    index = page.evaluate("""() => {
        const badges = [...document.querySelectorAll('.rr-badge')];
        return badges.findIndex(b => {
            if (!b.classList.contains('rr-stop')) return false;
            const r = b.getBoundingClientRect();
            const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return hit !== null && b.parentElement.contains(hit);
        });
    }""")
    assert index >= 0, "every sight badge is covered"
    badge = page.locator(".rr-badge").nth(index)
    text = badge.inner_text()
    badge.click()
    return text


def _sight_in_popup(page: Page, loops: list[Loop]) -> Sight:
    """The sight whose popup is open (checked to show its names in all languages)."""
    popup = page.locator(".leaflet-popup-content").first
    popup.wait_for(state="visible")
    page.wait_for_function(  # fade-in done (for the screenshot)
        "() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")
    text = popup.inner_text()
    sights = [s.place.place.sight for lp in loops for s in lp.sights if s.place.place.sight]
    hits = [s for s in sights if s.names["en"] in text]
    assert hits, f"popup shows no sight: {text!r}"
    for lang in ("en", "de", "ja"):
        assert hits[0].names[lang] in text
    return hits[0]


# ------------------------------------------------------------------ tests
def test_offline_map_renders(open_map: Any, loops: list[Loop], tsukuba: City) -> None:
    o = open_map(loops, offline=True, city=tsukuba)
    _check_map(o, loops)
    assert o.net.served_cdn == []
    assert o.net.stubbed == []
    number = _click_sight(o.page)
    _sight_in_popup(o.page, loops)
    assert o.page.locator(".leaflet-popup-content b").first.inner_text().startswith(f"{number}. ")
    _shot(o.page, "offline-map")


def test_offline_map_without_tiles(open_map: Any, loops: list[Loop], tsukuba: City) -> None:
    """No internet at all: tile requests fail, the map still works."""
    o = open_map(loops[:1], offline=True, tiles=False, city=tsukuba, lang="ja")
    _check_map(o, loops[:1])
    assert o.net.tiles > 0
    assert "見どころ" in o.page.locator("#rr-summary").inner_text()
    _shot(o.page, "offline-map-no-tiles")


def test_online_map_with_local_cdn(open_map: Any, loops: list[Loop], tsukuba: City) -> None:
    o = open_map(loops, offline=False, city=tsukuba, lang="de")
    _check_map(o, loops)
    assert o.net.tiles > 0
    assert any("leaflet@" in u for u in o.net.served_cdn)
    if (NODE_MODULES / "jquery").is_dir():  # after 'npm ci': every npm library is the real one
        assert len(o.net.served_cdn) == 8, o.net.served_cdn
        assert sorted(o.net.stubbed) == sorted(
            u for u in o.page.evaluate(
                "[...document.querySelectorAll('link[href]')].map(l => l.href)")
            if u.startswith(_NOT_ON_NPM))
    assert o.page.evaluate("typeof window.L.tileLayer") == "function"
    _click_sight(o.page)
    sight = _sight_in_popup(o.page, loops)
    text = o.page.locator(".leaflet-popup-content").first.inner_text()
    assert "Kategorie" in text
    assert text.startswith(f"{text[0]}. {sight.names['de']}")
    _shot(o.page, "online-map")


def _evil(loops: list[Loop], tsukuba: City) -> tuple[list[Loop], City]:
    def evil_sight(sight: Sight | None, n: int) -> Sight | None:
        if sight is None:
            return None
        return dataclasses.replace(
            sight, names={lg: f"Evil{n} {lg} {EVIL}" for lg in ("en", "de", "ja")},
            category=f"cat {EVIL}", description=f"desc {EVIL}")

    out = []
    for loop in loops:
        stops = []
        for n, stop in enumerate(loop.stops):
            place = stop.place.place
            new_place = (Place(key=f"Start {EVIL}", lat=place.lat, lon=place.lon) if n == 0
                         else dataclasses.replace(place, sight=evil_sight(place.sight, n)))
            stops.append(dataclasses.replace(
                stop, place=dataclasses.replace(stop.place, place=new_place)))
        out.append(dataclasses.replace(
            loop, stops=stops, way_class_m={**loop.way_class_m, f"way {EVIL}": 400.0}))
    city = dataclasses.replace(tsukuba, names={lg: f"City {EVIL}" for lg in ("en", "de", "ja")})
    return out, city


@pytest.mark.parametrize("offline", [True, False], ids=["offline", "online"])
def test_hostile_names_run_no_script(
    open_map: Any, loops: list[Loop], tsukuba: City, offline: bool
) -> None:
    evil, city = _evil(loops, tsukuba)
    o = open_map(evil, offline=offline, city=city, title=f"Title {EVIL}")
    page = o.page
    _check_map(o, evil)
    # a real click on a sight opens its popup, showing the name as plain text
    _click_sight(page)
    popup = page.locator(".leaflet-popup-content", has_text="Evil").first
    popup.wait_for(state="visible")
    assert PWN_SCRIPT in popup.inner_text()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    # open every popup and tooltip in turn so that all hostile HTML reaches the DOM
    texts = page.evaluate("""() => {
        const out = [];
        for (const k of Object.keys(window)) {
            const v = window[k];
            if (!(v instanceof L.Layer)) continue;
            if (v.getTooltip && v.getTooltip()) v.openTooltip();
            if (v.getPopup && v.getPopup()) {
                v.openPopup();
                out.push(v.getPopup().getElement().querySelector('.leaflet-popup-content').innerText);
            }
        }
        return out;
    }""")
    assert len(texts) == sum(len(lp.stops) for lp in evil)
    sight_texts = [t for t in texts if t.startswith(("1. Evil1 en", "2. Evil2 en"))]
    assert len(sight_texts) == sum(len(lp.sights) for lp in evil)
    for text in sight_texts:
        for payload in (PWN_SCRIPT, PWN_IMG, PWN_CLOSE, PWN_TEMPLATE, PWN_QUOTES, TEMPLATE):
            assert payload in text
        assert "49" not in text.split("at km")[0]
    assert any(t.startswith(f"Start {EVIL}") for t in texts)
    page.wait_for_timeout(200)
    tooltips = page.locator(".leaflet-tooltip").all_inner_texts()
    assert any(PWN_IMG in t for t in tooltips)
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#rr-summary img, #rr-summary script, .leaflet-popup img").count() == 0
    summary = page.locator("#rr-summary").inner_text()
    assert f"Title {EVIL}" in summary
    assert f"way {EVIL}" in summary
    assert page.title() == f"Title {EVIL}"
    assert o.errors == []
    _shot(page, f"hostile-names-{'offline' if offline else 'online'}")
