"""City catalogues agree with the shared sights list."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from conftest import SIGHTS_CSV
from ringroute.cities import available_cities, load_city, load_city_file
from ringroute.errors import InputError, UnknownCityError
from ringroute.settings import Settings


def test_shipped_cities() -> None:
    assert {"tsukuba", "bochum"} <= set(available_cities())


@pytest.mark.parametrize("city_key", ["tsukuba", "bochum"])
def test_catalogue_matches_sights_csv(city_key: str) -> None:
    city = load_city(city_key)
    rows = [r for r in csv.DictReader(SIGHTS_CSV.open(encoding="utf-8")) if r["city"] == city_key]
    assert len(city.sights) == len(rows) == 20
    for row in rows:
        s = city.sight(row["key"])
        assert s.names == {"en": row["name_en"], "de": row["name_de"], "ja": row["name_ja"]}
        assert s.lat == pytest.approx(float(row["lat"]))
        assert s.lon == pytest.approx(float(row["lon"]))
        assert s.category == row["category"]
        assert s.accuracy_m == float(row["accuracy_m"])
        assert s.source == row["source"]
    assert city.default_start in {s.key for s in city.sights}
    assert set(city.names) == {"en", "de", "ja"}
    s, w, n, e = city.bbox
    assert all(s <= x.lat <= n and w <= x.lon <= e for x in city.sights)


def test_default_starts() -> None:
    assert load_city("tsukuba").default_start == "station"
    assert load_city("bochum").default_start == "hbf"


def test_unknown_city_lists_known() -> None:
    with pytest.raises(UnknownCityError, match=r"unknown city 'tsukba'.*tsukuba"):
        load_city("tsukba")
    with pytest.raises(UnknownCityError):
        load_city("../etc/passwd")


def test_new_city_is_one_file(tmp_path: Path) -> None:
    (tmp_path / "heidelberg.toml").write_text(
        'key = "heidelberg"\ndefault_start = "hbf"\n'
        '[names]\nen = "Heidelberg"\nde = "Heidelberg"\nja = "ハイデルベルク"\n'
        '[area]\nplace = "Heidelberg, Germany"\nbbox = [49.35, 8.57, 49.46, 8.80]\n'
        '[[sights]]\nkey = "hbf"\nlat = 49.4036\nlon = 8.6757\ncategory = "station"\n'
        'names = { en = "Heidelberg Central Station", de = "Heidelberg Hauptbahnhof" }\n',
        encoding="utf-8",
    )
    s = Settings(cities_dir=tmp_path)
    city = load_city("heidelberg", settings=s)
    assert city.sight("hbf").name("ja") == "Heidelberg Central Station"  # English fallback
    assert city.extracts == ("heidelberg",)


def test_malformed_catalogue(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('key = "bad"\n[area\n', encoding="utf-8")
    with pytest.raises(InputError, match="cannot read city catalogue"):
        load_city_file(bad)
    bad.write_text('key = "bad"\ndefault_start = "x"\n[names]\nen = "B"\n'
                   '[area]\nbbox = [1, 2, 3, 4]\n', encoding="utf-8")
    with pytest.raises(InputError, match="default_start"):
        load_city_file(bad)


def test_a_catalogue_without_its_area_names_what_is_missing(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text('default_start = "a"\n[names]\nen = "X"\n'
                   '[[sights]]\nkey = "a"\nlat = 1\nlon = 2\nnames = { en = "A" }\n',
                   encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_city_file(bad)
    assert "the entry 'area' is missing (a catalogue needs default_start, [area]" in str(
        info.value)
    assert "KeyError" not in str(info.value)


def test_a_missing_cities_folder_is_named(tmp_path: Path) -> None:
    s = Settings(cities_dir=tmp_path / "nowhere")
    with pytest.raises(UnknownCityError) as info:
        load_city("tsukuba", settings=s)
    assert f"there are no city catalogues (<city>.toml) in '{tmp_path / 'nowhere'}'" in str(
        info.value)
    assert "RINGROUTE_CITIES_DIR" in str(info.value)
