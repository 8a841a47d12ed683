"""Cue sheets: ordered distances, every sight, street names, languages, escaping."""

from __future__ import annotations

import dataclasses
from itertools import pairwise
from pathlib import Path

import pytest

from ringroute.cities import City
from ringroute.cues import build_cues, render_html, write_cues
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
