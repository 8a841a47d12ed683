"""Folium web maps of planned loops: standalone HTML files.

Every string that comes from OSM or a catalogue is escaped by :func:`_e` before
it reaches the page: HTML special characters and quotes, and also the
characters that are special in the layers folium puts around them (braces for
Jinja, which folium runs over rendered element code again; the backtick and
dollar sign for JavaScript template literals; the backslash). Popups and
tooltips are bound with plain ``bindPopup``/``bindTooltip`` calls whose content
is a JSON string that never passes through Jinja or jQuery.

Markers are plain ``DivIcon`` HTML (no icon fonts), so the page needs only
Leaflet itself. The default page keeps folium's CDN links; with
``offline=True`` those links are dropped and Leaflet's JavaScript and CSS are
inlined from the copy vendored in :mod:`ringroute._assets`, so the page works
without internet (only the background tiles are missing then).
"© OpenStreetMap contributors" is always shown in the map's attribution and in
the summary box.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import folium

from ringroute._assets import leaflet_css, leaflet_js
from ringroute._geo import bearing_deg
from ringroute._html import Raw as _Raw
from ringroute._html import escape as _e
from ringroute._html import figure_of as _figure
from ringroute._html import popup as _popup
from ringroute._html import tooltip as _tooltip
from ringroute._io import OutputBatch, batch_or_new
from ringroute._text import has_text, text
from ringroute.cities import LANGUAGES, City
from ringroute.loop import Loop

COLORS: tuple[str, ...] = ("#d7301f", "#2b8cbe", "#31a354", "#756bb1", "#e6550d", "#636363",
                           "#c51b8a", "#8c6d31")
ATTRIBUTION_HTML = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


def _badge(text: str, color: str, size: int, kind: str) -> folium.DivIcon:
    """Round numbered marker; ``kind`` (``start``, ``stop``, ``km``) becomes class ``rr-KIND``."""
    style = (
        f"box-sizing:border-box;width:{size}px;height:{size}px;border-radius:50%;"
        f"background:{color};color:#fff;border:2px solid #fff;box-shadow:0 0 3px #000;"
        f"font:bold 12px sans-serif;line-height:{size - 4}px;text-align:center;"
    )
    return folium.DivIcon(
        html=f'<div class="rr-badge rr-{kind}" style="{style}">{_e(text)}</div>',
        icon_size=(size, size), icon_anchor=(size // 2, size // 2),
    )


def _arrow(angle_deg: float, color: str) -> folium.DivIcon:
    style = (
        f"color:{color};font:bold 14px sans-serif;transform:rotate({angle_deg - 90:.0f}deg);"
        "text-shadow:0 0 2px #fff;"
    )
    return folium.DivIcon(html=f'<div class="rr-arrow" style="{style}">&#10148;</div>',
                          icon_size=(14, 14), icon_anchor=(7, 7))


def _point_at(loop: Loop, at_m: float) -> tuple[float, float, float]:
    """Position and heading at distance ``at_m`` along the loop."""
    cum = loop.cum_m
    j = 1
    while j < len(cum) - 1 and cum[j] < at_m:
        j += 1
    i = j - 1
    span = cum[j] - cum[i]
    f = 0.0 if span <= 0 else (at_m - cum[i]) / span
    lat = loop.lat[i] + f * (loop.lat[j] - loop.lat[i])
    lon = loop.lon[i] + f * (loop.lon[j] - loop.lon[i])
    return lat, lon, bearing_deg(loop.lat[i], loop.lon[i], loop.lat[j], loop.lon[j])


def _sight_popup(loop: Loop, i: int, lang: str) -> str:
    stop = loop.stops[i]
    place = stop.place.place
    sight = place.sight
    lines = [f"<b>{_e(f'{i}. ' if i else '')}{_e(place.name(lang))}</b>"]
    if sight is not None:
        others = [sight.names[lg] for lg in LANGUAGES if lg != lang and sight.names.get(lg)]
        if others:
            lines.append(f'<span class="rr-names">{_e(" / ".join(others))}</span>')
        lines.append(f"{_e(text('category', lang))}: {_e(sight.category)}")
        if sight.description:
            lines.append(_e(sight.description))
    km = stop.at_m / 1000 if i else 0.0
    lines.append(f"{_e(text('at_km', lang))} {km:.1f}")
    lines.append(f"<small>snap {stop.place.snap_m:.0f} m</small>")
    return "<br>".join(lines)


def _summary_html(loops: Sequence[Loop], lang: str, title: str) -> str:
    rows = []
    for n, loop in enumerate(loops):
        shares = ", ".join(
            f"{_e(text(k, lang) if has_text(k) else k)} {v:.0%}"
            for k, v in sorted(loop.way_class_share().items(), key=lambda kv: -kv[1]) if v >= 0.005
        )
        sights = ", ".join(_e(s.place.place.name(lang)) for s in loop.sights) or "–"
        name = text("route", lang) if n == 0 else f"{text('alternative', lang)} {n}"
        forced = (f" ({loop.forced_overlap_ratio:.1%} {_e(text('unavoidable', lang))})"
                  if loop.forced_overlap_ratio >= 0.0005 else "")
        rows.append(
            f'<div class="rr-route"><span style="color:{COLORS[n % len(COLORS)]}">&#9632;</span> '
            f"<b>{_e(name)}</b>: {loop.length_m / 1000:.1f} km "
            f"({_e(text('target', lang))} {loop.target_m / 1000:g} km)<br>"
            f"{_e(text('sights', lang))}: {sights}<br>"
            f"{_e(text('repeated', lang))}: {loop.overlap_ratio:.1%}{forced} · "
            f"{_e(text('turns', lang))}: {loop.turns_per_km:.1f}<br><small>{shares}</small></div>"
        )
    style = (
        "position:fixed;top:10px;left:50px;z-index:1000;max-width:340px;background:#fff;"
        "padding:8px 10px;border-radius:6px;box-shadow:0 0 6px rgba(0,0,0,.4);"
        "font:12px/1.35 sans-serif;"
    )
    return (
        f'<div id="rr-summary" style="{style}"><div style="font-weight:bold;font-size:14px">'
        f"{_e(title)}</div>{''.join(rows)}"
        f'<div class="rr-attribution"><small>{ATTRIBUTION_HTML}</small></div></div>'
    )


def inline_leaflet(m: folium.Map) -> None:
    """Make ``m`` self-contained: drop folium's CDN links, inline the vendored Leaflet."""
    # instance attributes shadow folium's class-level CDN lists
    m.default_js = []
    m.default_css = []
    header = _figure(m).header
    _Raw(f"<style>{leaflet_css()}</style>").add_to(header, name="rr_leaflet_css")
    _Raw(f"<script>{leaflet_js()}</script>").add_to(header, name="rr_leaflet_js")


def build_map(
    loops: Sequence[Loop],
    *,
    city: City | None = None,
    lang: str = "en",
    title: str | None = None,
    offline: bool = False,
) -> folium.Map:
    """Build a Folium map of one or more loops (the first is the main route).

    Parameters
    ----------
    loops
        Loops to draw; each gets its own toggleable layer and colour.
    city
        The city (title).
    lang
        ``en``, ``de`` or ``ja`` for all labels; other languages' sight names
        are shown alongside.
    title
        Heading of the summary box.
    offline
        Inline Leaflet's JavaScript and CSS from the vendored copy instead of
        linking folium's CDN resources (jQuery, Bootstrap, Font Awesome and
        awesome-markers, which the map does not use, are dropped).

    Returns
    -------
    folium.Map
        The map; render it with ``m.get_root().render()``.

    Raises
    ------
    ValueError
        If ``loops`` is empty.
    """
    if not loops:
        msg = "loops must not be empty"
        raise ValueError(msg)
    first = loops[0]
    center = (sum(first.lat) / len(first.lat), sum(first.lon) / len(first.lon))
    m = folium.Map(location=center, zoom_start=13, tiles=None, control_scale=True)
    if offline:
        inline_leaflet(m)
    folium.TileLayer("OpenStreetMap", attr=ATTRIBUTION_HTML, name="OpenStreetMap").add_to(m)
    heading = title or (
        f"{city.name(lang)} – {first.target_m / 1000:g} km" if city else
        f"{first.target_m / 1000:g} km")
    for n, loop in enumerate(loops):
        color = COLORS[n % len(COLORS)]
        name = text("route", lang) if n == 0 else f"{text('alternative', lang)} {n}"
        layer = folium.FeatureGroup(
            name=_e(f"{name}: {loop.length_m / 1000:.1f} km"), show=True)
        line = folium.PolyLine(  # type: ignore[no-untyped-call]
            list(zip(loop.lat, loop.lon, strict=True)), color=color, weight=5, opacity=0.85,
            class_name=f"rr-route rr-route-{n}",
        )
        _tooltip(_e(f"{name}: {loop.length_m / 1000:.1f} km")).add_to(line)
        line.add_to(layer)
        # direction arrows every km, km markers every 5 km
        step = 1000.0
        k = 1
        while k * step < loop.length_m - 200:
            lat, lon, brg = _point_at(loop, k * step)
            if k % 5 == 0:
                marker = folium.Marker((lat, lon), icon=_badge(f"{k}", "#333", 20, "km"))
                _tooltip(_e(f"km {k}")).add_to(marker)
                marker.add_to(layer)
            else:
                folium.Marker((lat, lon), icon=_arrow(brg, color)).add_to(layer)
            k += 1
        for i, stop in enumerate(loop.stops):
            place = stop.place.place
            icon = _badge(str(i), color, 24, "stop") if i else _badge("S", "#111", 26, "start")
            marker = folium.Marker((place.lat, place.lon), icon=icon)
            _tooltip(_e(f"{i}. {place.name(lang)}" if i else
                        f"{text('start_finish', lang)}: {place.name(lang)}")).add_to(marker)
            _popup(_sight_popup(loop, i, lang)).add_to(marker)
            marker.add_to(layer)
        layer.add_to(m)
    if len(loops) > 1:
        folium.LayerControl(collapsed=False).add_to(m)
    lats = [x for loop in loops for x in loop.lat]
    lons = [x for loop in loops for x in loop.lon]
    m.fit_bounds([(min(lats), min(lons)), (max(lats), max(lons))], padding=(20, 20))
    page = _figure(m)
    _Raw(_summary_html(loops, lang, heading)).add_to(page.html, name="rr_summary")
    _Raw(f"<title>{_e(heading)}</title>").add_to(page.header, name="rr_title")
    return m


def write_map(
    loops: Sequence[Loop],
    path: Path,
    *,
    city: City | None = None,
    lang: str = "en",
    title: str | None = None,
    offline: bool = False,
    batch: OutputBatch | None = None,
) -> Path:
    """Render :func:`build_map` to a standalone HTML file, atomically.

    Parameters
    ----------
    loops, city, lang, title, offline
        As for :func:`build_map`; with ``offline=True`` the file needs no
        internet apart from the background tiles.
    path
        Output file; its folder is created if missing.
    batch
        Stage the file there, to be put in place with the batch's other files.

    Returns
    -------
    Path
        ``path``.
    """
    m = build_map(loops, city=city, lang=lang, title=title, offline=offline)
    with batch_or_new(batch) as out:
        return out.write_text(path, _figure(m).render())


