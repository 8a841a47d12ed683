"""Resolving what users type: keys, names in three languages, typos, coordinates."""

from __future__ import annotations

import pytest

from ringroute.cities import City
from ringroute.errors import InputError, SightOffNetworkError, UnknownSightError
from ringroute.network import Network
from ringroute.sights import closest_sights, normalize, resolve, resolve_all, snap


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("univ", "univ"),
        ("University of Tsukuba", "univ"),
        ("Universität Tsukuba", "univ"),
        ("universitat tsukuba", "univ"),          # accents folded
        ("UNIVERSITÄT  TSUKUBA", "univ"),          # case, spaces
        ("筑波大学", "univ"),
        ("つくば駅", "station"),
        ("Bahnhof Tsukuba", "station"),
        ("Tsukuba Botanical Garden", "botgarden"),
        ("Botanischer Garten Tsukuba", "botgarden"),
        ("筑波実験植物園", "botgarden"),
        ("Tsukuba Expo Centre", "expo"),            # typo: Centre/Center
        ("Tsukba Expo Center", "expo"),             # missing letter
        ("ＪＡＸＡ筑波宇宙センター", "tksc"),          # full-width letters
        ("Matsumi", "matsumi"),                     # unique prefix
    ],
)
def test_resolve_tsukuba(text: str, key: str, tsukuba: City) -> None:
    place = resolve(text, tsukuba)
    assert place.key == key
    assert place.sight is not None and place.sight.key == key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Deutsches Bergbau-Museum", "bergbau"),
        ("German Mining Museum", "bergbau"),
        ("ドイツ鉱山博物館", "bergbau"),
        ("Bochum Hauptbahnhof", "hbf"),
        ("Kemnader See", "kemnadersee"),
        ("Bermuda3eck", "bermuda"),
        ("Ruhr-Universitat Bochum", "rub"),
    ],
)
def test_resolve_bochum(text: str, key: str, bochum: City) -> None:
    assert resolve(text, bochum).key == key


def test_unknown_sight_lists_three_closest(tsukuba: City) -> None:
    with pytest.raises(UnknownSightError) as info:
        resolve("Tsukuba Space Museum", tsukuba)
    msg = str(info.value)
    assert "unknown sight 'Tsukuba Space Museum'" in msg
    assert msg.count("(") == 3
    assert "tksc" in msg
    assert "\n" not in msg


def test_closest_sights_ranks_by_similarity(tsukuba: City) -> None:
    keys = [s.key for s in closest_sights("botanic garden", tsukuba)]
    assert keys[0] == "botgarden"
    assert len(keys) == 3


def test_latlon(tsukuba: City) -> None:
    p = resolve("36.1,140.1", tsukuba)
    assert (p.lat, p.lon, p.sight) == (36.1, 140.1, None)
    assert p.key == "36.100000,140.100000"
    assert resolve(" 36.1 , 140.1 ", None).lat == 36.1
    with pytest.raises(InputError, match=r"latitude 136\.1.*-90 to 90"):
        resolve("136.1,140.1", tsukuba)
    with pytest.raises(InputError, match=r"longitude 240\.1.*-180 to 180"):
        resolve("36.1,240.1", None)
    with pytest.raises(UnknownSightError, match="only 'lat,lon'"):
        resolve("univ", None)


def test_duplicates_dropped(tsukuba: City) -> None:
    places = resolve_all(["univ", "筑波大学", "expo", "University of Tsukuba"], tsukuba)
    assert [p.key for p in places] == ["univ", "expo"]


def test_normalize() -> None:
    assert normalize("Universität  Tsukuba!") == normalize("universitat tsukuba")
    assert normalize("Straße") == normalize("STRASSE")


def test_snap_reports_distance_and_refuses_far(tsukuba: City, science_city: Network) -> None:
    univ = snap(resolve("univ", tsukuba), science_city, max_snap_m=500)
    assert 0 <= univ.snap_m < 250
    assert univ.node in science_city.graph
    # Mount Tsukuba is ~15 km north of the Science City extract
    with pytest.raises(SightOffNetworkError, match=r"sight 'nyotai' is \d+\.\d km from"):
        snap(resolve("nyotai", tsukuba), science_city, max_snap_m=500)
    with pytest.raises(SightOffNetworkError, match=r"point 51\.000000,7\.000000"):
        snap(resolve("51,7", tsukuba), science_city, max_snap_m=500)


def test_snap_prefers_the_loopable_core(tsukuba: City, science_city: Network) -> None:
    r = science_city.router
    spur = [i for i in range(r.n_nodes) if not r.core[i]]
    assert spur
    nearest_core_m, _ = r.nearest_core(r.xm[spur[:50]], r.ym[spur[:50]])
    for i, core_m in zip(spur[:50], nearest_core_m.tolist(), strict=True):
        p = snap(resolve(f"{r.lat[i]},{r.lon[i]}", tsukuba), science_city, max_snap_m=500)
        j = r.index[p.node]
        if core_m <= 100:
            assert r.core[j]
        else:
            assert j == i


def test_refine_uses_named_osm_object(tsukuba: City, science_city: Network) -> None:
    import dataclasses

    from ringroute.sights import refine

    gsj = resolve("gsj", tsukuba)  # an estimate, ±500 m
    assert gsj.sight is not None and gsj.sight.accuracy_m == 500
    net = dataclasses.replace(science_city, named_features=[
        ("地質標本館", gsj.lon + 0.002, gsj.lat + 0.001),   # ~210 m away: used
        ("Other", gsj.lon, gsj.lat)])
    better = refine(gsj, net)
    assert (better.lat, better.lon) == (gsj.lat + 0.001, gsj.lon + 0.002)
    far = dataclasses.replace(science_city, named_features=[
        ("地質標本館", gsj.lon + 0.02, gsj.lat)])              # ~1.8 km away: ignored
    assert refine(gsj, far) == gsj
    precise = resolve("univ", tsukuba)                      # accurate: never moved
    assert refine(precise, net) == precise


def test_a_place_on_a_way_left_out_is_told_why(science_city: Network) -> None:
    """Ways that do not connect to the rest are left out of the network; a place on one
    hears that, not only how far the connected network is."""
    import numpy as np

    from ringroute.sights import Place

    g = science_city.graph.graph
    lat, lon = np.asarray(g["left_out_lat"]), np.asarray(g["left_out_lon"])
    assert len(lat) > 0
    r = science_city.router
    # the bend of a left-out way farthest from the network
    far = [float(np.atleast_1d(r.nearest(a, b)[0])[0]) for a, b in zip(lat, lon, strict=True)]
    k = int(np.argmax(far))
    place = Place(key="island", lat=float(lat[k]), lon=float(lon[k]))
    with pytest.raises(SightOffNetworkError) as info:
        snap(place, science_city, max_snap_m=far[k] - 50.0)
    msg = str(info.value)
    assert "is 0 m from a way that does not connect to the rest of the loaded network" in msg
    assert f"{far[k]:.0f} m from the nearest way of that part" in msg
    # farther off than the limit from everything: the plain message
    with pytest.raises(SightOffNetworkError, match="from the nearest rideable way"):
        snap(Place(key="sea", lat=36.0, lon=140.3), science_city, max_snap_m=500.0)
