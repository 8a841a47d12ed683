"""Shared fixtures: real data from ../shared, networks loaded once per session."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from shapely.geometry import Polygon

from ringroute.cities import City, load_city
from ringroute.network import Network, network_from_file
from ringroute.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RINGROUTE_SHARED", ROOT.parent / "shared"))
OSM_DIR = SHARED / "data" / "osm"
SCIENCE_CITY = OSM_DIR / "tsukuba-science-city.osm"
UNIVERSITY = OSM_DIR / "tsukuba-university.osm"
HEIDELBERG = OSM_DIR / "heidelberg.osm.pbf"
GPX_XSD = SHARED / "schemas" / "gpx-1.1.xsd"
#: An irregular pentagon inside the university extract's declared bounds
#: (36.08892-36.11111 N, 140.09937-140.10268 E), for download tests.
CAMPUS = Polygon(
    [
        (140.0996, 36.0930),
        (140.1025, 36.0950),
        (140.1022, 36.1060),
        (140.1000, 36.1080),
        (140.0996, 36.1000),
    ]
)
SIGHTS_CSV = SHARED / "data" / "sights.csv"
BENCH = ROOT / "bench"


def bench_module(name: str) -> ModuleType:
    """A module of ``bench/`` (``loops``, ``routino_peer``), imported as the bench runs it."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def settings(cache_dir: Path) -> Settings:
    return Settings(cache_dir=cache_dir, osm_dir=None, local_osm_dir=cache_dir / "no-osm")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> Iterator[None]:
    """Keep tests off the user's cache and OSM folders."""
    monkeypatch.setenv("RINGROUTE_CACHE_DIR", str(cache_dir))
    monkeypatch.delenv("RINGROUTE_OSM_DIR", raising=False)
    monkeypatch.delenv("RINGROUTE_CITIES_DIR", raising=False)
    yield


@pytest.fixture(scope="session")
def tsukuba() -> City:
    return load_city("tsukuba")


@pytest.fixture(scope="session")
def bochum() -> City:
    return load_city("bochum")


@pytest.fixture(scope="session")
def science_city(settings: Settings) -> Network:
    return network_from_file(SCIENCE_CITY, settings=settings)


@pytest.fixture(scope="session")
def university(settings: Settings) -> Network:
    return network_from_file(UNIVERSITY, settings=settings)


@pytest.fixture(scope="session")
def heidelberg(settings: Settings) -> Network:
    return network_from_file(HEIDELBERG, settings=settings)
