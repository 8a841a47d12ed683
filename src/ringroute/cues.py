"""Cue sheets: distance to every sight and major turn, with OSM street names.

Written as printable HTML and as Markdown, in English, German or Japanese.
"""

from __future__ import annotations

import html
import math
import re
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

from ringroute._io import OutputBatch, batch_or_new
from ringroute._text import text as _t
from ringroute.cities import City
from ringroute.loop import Loop
from ringroute.network import Network

#: A turn is a heading change of at least this many degrees at a junction.
MAJOR_TURN_DEG = 35.0


@dataclass(frozen=True)
class Cue:
    """One line of a cue sheet."""

    at_m: float
    text: str
    kind: str  # "start", "turn", "sight", "finish"


def _heading(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dx = (lon2 - lon1) * math.cos(math.radians(lat1))
    return math.degrees(math.atan2(dx, lat2 - lat1)) % 360.0


def _street(data: dict[str, object], lang: str) -> str | None:
    for key in (f"name:{lang}", "name", "ref"):
        value = data.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if value:
            return str(value)
    return None


def _turn_word(delta: float) -> str | None:
    side = "left" if delta < 0 else "right"
    a = abs(delta)
    if a < MAJOR_TURN_DEG:
        return None
    if a < 60:
        return f"slight {side}"
    if a < 135:
        return side
    return f"sharp {side}"


def build_cues(loop: Loop, network: Network, *, lang: str = "en") -> list[Cue]:
    """Cues for ``loop``: start, each major turn with the new street, sights, finish."""
    g = network.graph
    start_name = loop.stops[0].place.place.name(lang)
    cues = [Cue(0.0, _t("cue_start", lang, name=start_name), "start")]
    nv = loop.node_vertex
    cum = loop.cum_m
    for i in range(1, len(loop.edges)):
        v = nv[i]
        # headings over the 25 m before and after the junction, not single vertices
        back = max(0, bisect_left(cum, cum[v] - 25.0) - 1)
        ahead = min(len(cum) - 1, bisect_left(cum, cum[v] + 25.0))
        if back >= v or ahead <= v:
            continue
        h_in = _heading(loop.lat[back], loop.lon[back], loop.lat[v], loop.lon[v])
        h_out = _heading(loop.lat[v], loop.lon[v], loop.lat[ahead], loop.lon[ahead])
        delta = (h_out - h_in + 180.0) % 360.0 - 180.0
        word = _turn_word(delta)
        if word is None:
            continue
        u, w, k = loop.edges[i]
        street_data = dict(g.edges[u, w, k])
        prev = dict(g.edges[loop.edges[i - 1]])
        same_way = _street(street_data, lang) == _street(prev, lang) or (
            street_data.get("osmid") == prev.get("osmid"))
        if same_way and abs(delta) < 60:
            continue  # a bend of the same street is no cue
        street = _street(street_data, lang) or _t("unnamed", lang)
        text = f"{_t(word, lang)} {_t('onto', lang, street=street)}"
        at = loop.cum_m[v]
        if cues and cues[-1].kind == "turn" and at - cues[-1].at_m < 30:
            cues[-1] = Cue(cues[-1].at_m, text, "turn")  # merge a jog into one cue
            continue
        cues.append(Cue(at, text, "turn"))
    for n, stop in enumerate(loop.sights, start=1):
        cues.append(Cue(stop.at_m, _t("cue_sight", lang, n=n, name=stop.place.place.name(lang)),
                        "sight"))
    cues.append(Cue(loop.length_m, _t("cue_finish", lang, name=start_name), "finish"))
    order = {"start": 0, "turn": 1, "sight": 2, "finish": 3}
    cues.sort(key=lambda c: (c.at_m, order[c.kind]))
    return cues


#: characters Markdown would read as markup in a table cell
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#!])")


def md_text(text: str) -> str:
    """``text`` as literal Markdown (CommonMark): shown as written, never as markup.

    HTML is written as character references (a name like ``<img onerror=…>`` is text,
    not a tag), markup characters are escaped with a backslash, and line breaks and
    other control characters become spaces (a name cannot end a table row).
    """
    flat = re.sub(r"[\x00-\x1f\x7f-\x9f]+", " ", text)
    return _MD_SPECIAL.sub(r"\\\1", html.escape(flat, quote=False))


def render_markdown(cues: list[Cue], *, title: str, lang: str = "en") -> str:
    """A Markdown table of the cues (names from OSM and the catalogue as plain text)."""
    lines = [f"# {md_text(_t('cue_title', lang))}: {md_text(title)}", "",
             f"| {_t('km', lang)} | {_t('next', lang)} | {_t('instruction', lang)} |",
             "|---:|---:|---|"]
    for i, c in enumerate(cues):
        nxt = cues[i + 1].at_m - c.at_m if i + 1 < len(cues) else 0.0
        lines.append(f"| {c.at_m / 1000:.2f} | {nxt / 1000:.2f} | {md_text(c.text)} |")
    lines += ["", "Map data © OpenStreetMap contributors, ODbL 1.0.", ""]
    return "\n".join(lines)


def render_html(cues: list[Cue], *, title: str, lang: str = "en") -> str:
    """A printable HTML page of the cues (all text escaped)."""
    e = html.escape
    rows = []
    for i, c in enumerate(cues):
        nxt = cues[i + 1].at_m - c.at_m if i + 1 < len(cues) else 0.0
        rows.append(f'<tr class="cue-{c.kind}"><td>{c.at_m / 1000:.2f}</td>'
                    f"<td>{nxt / 1000:.2f}</td><td>{e(c.text)}</td></tr>")
    return (
        f'<!DOCTYPE html><html lang="{e(lang)}"><head><meta charset="utf-8">'
        f"<title>{e(_t('cue_title', lang))}: {e(title)}</title><style>"
        "body{font:14px sans-serif;margin:1.5em}table{border-collapse:collapse;width:100%}"
        "td,th{border-bottom:1px solid #ccc;padding:4px 8px;text-align:left}"
        "td:nth-child(-n+2){text-align:right;white-space:nowrap;width:5em}"
        "tr.cue-sight td{font-weight:bold;background:#fff4d6}"
        "@media print{body{margin:0}tr{page-break-inside:avoid}}</style></head><body>"
        f"<h1>{e(_t('cue_title', lang))}: {e(title)}</h1><table><thead><tr>"
        f"<th>{e(_t('km', lang))}</th><th>{e(_t('next', lang))}</th>"
        f"<th>{e(_t('instruction', lang))}</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table><p><small>Map data &copy; "
        '<a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors, '
        "ODbL 1.0.</small></p></body></html>"
    )


def write_cues(loop: Loop, network: Network, out_dir: Path, stem: str, *,
               city: City | None = None, lang: str = "en",
               batch: OutputBatch | None = None) -> list[Path]:
    """Write ``<stem>-cues.html`` and ``<stem>-cues.md``: both, or neither.

    With a ``batch``, they are staged there and put in place with its other files.
    """
    cues = build_cues(loop, network, lang=lang)
    place = city.name(lang) if city else loop.stops[0].place.place.name(lang)
    title = f"{place} {loop.length_m / 1000:.1f} km"
    with batch_or_new(batch) as out:
        return [
            out.write_text(out_dir / f"{stem}-cues.html",
                           render_html(cues, title=title, lang=lang)),
            out.write_text(out_dir / f"{stem}-cues.md",
                           render_markdown(cues, title=title, lang=lang)),
        ]
