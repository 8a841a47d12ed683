"""Cue sheets: ordered distances, every sight, street names, languages, escaping."""

from __future__ import annotations

import dataclasses
from itertools import pairwise
from pathlib import Path

import pytest

from ringroute.cities import City
from ringroute.cues import Cue, build_cues, md_text, render_html, render_markdown, write_cues
from ringroute.loop import Loop, plan_loops
from ringroute.network import Network
from ringroute.sights import resolve, snap


@pytest.fixture(scope="module")
def loop(tsukuba: City, science_city: Network) -> Loop:
    start = snap(resolve("station", tsukuba), science_city, max_snap_m=500)
    via = [snap(resolve(k, tsukuba), science_city, max_snap_m=500) for k in ("univ", "expo")]
    return plan_loops(science_city, start, via, target_km=20)[0]


@pytest.mark.parametrize("lang", ["en", "de", "ja"])
def test_cues(lang: str, loop: Loop, science_city: Network, tsukuba: City,
              tmp_path: Path) -> None:
    cues = build_cues(loop, science_city, lang=lang)
    ats = [c.at_m for c in cues]
    assert ats == sorted(ats)
    assert cues[0].kind == "start" and cues[-1].kind == "finish"
    assert cues[-1].at_m == pytest.approx(loop.length_m)
    sights = [c for c in cues if c.kind == "sight"]
    assert [c.at_m for c in sights] == [s.at_m for s in loop.sights]
    for c, stop in zip(sights, loop.sights, strict=True):
        assert stop.place.place.name(lang) in c.text
    turns = [c for c in cues if c.kind == "turn"]
    assert turns, "a 20 km loop in a city has turns"
    # no two turn cues closer than 30 m (jogs are merged)
    assert all(b.at_m - a.at_m >= 30 for a, b in pairwise(turns))
    paths = write_cues(loop, science_city, tmp_path, "t", city=tsukuba, lang=lang)
    assert [p.name for p in paths] == ["t-cues.html", "t-cues.md"]
    md = paths[1].read_text(encoding="utf-8")
    assert md.count("\n| ") == len(cues) + 1
    assert "OpenStreetMap</a> contributors" in paths[0].read_text(encoding="utf-8")
    assert "OpenStreetMap contributors" in md


def test_named_streets_appear(heidelberg: Network) -> None:
    from ringroute.sights import Place, SnappedPlace

    r = heidelberg.router
    _, idx = r.nearest(49.4093, 8.6937)  # Heidelberg old town
    node = int(r.node_ids[int(idx[0])])
    start = SnappedPlace(place=Place(key="x", lat=49.4093, lon=8.6937), node=node, snap_m=0)
    loop = plan_loops(heidelberg, start, [], target_km=15)[0]
    cues = build_cues(loop, heidelberg, lang="de")
    named = [c for c in cues if c.kind == "turn" and "unbenannt" not in c.text]
    assert len(named) >= 3


def test_html_escapes(loop: Loop, science_city: Network) -> None:
    cues = build_cues(loop, science_city)
    evil = [dataclasses.replace(cues[0], text='<script>alert("x")</script>'), *cues[1:]]
    page = render_html(evil, title="<b>t</b>")
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<b>t</b>" not in page


EVIL_NAMES = ["<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>",
              "a | b", "line\nbreak\n# Heading", "**bold** [link](http://x) `code` ~~s~~",
              "back\\slash & ampersand"]


@pytest.mark.parametrize("name", EVIL_NAMES)
def test_markdown_cue_sheet_shows_names_as_text(name: str) -> None:
    """Rendered as CommonMark (markdown-it, as a viewer would): no tag, no markup, one row."""
    from markdown_it import MarkdownIt

    cues = [Cue(at_m=0.0, kind="start", text=f"Start: {name}"),
            Cue(at_m=1500.0, kind="finish", text="Finish")]
    page = MarkdownIt("commonmark").enable("table").render(
        render_markdown(cues, title=name, lang="en"))
    assert "<img" not in page and "<script" not in page
    assert page.count("<tr>") == 3  # the header and two cues
    assert "<strong>" not in page and "<a " not in page and "<code>" not in page
    assert page.count("<h1>") == 1
    flat = " ".join(name.split("\n"))
    import html as _html
    assert _html.escape(f"Start: {flat}", quote=False) in page
    assert md_text("plain name") == "plain name"
