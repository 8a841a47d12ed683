"""City catalogues: ``data/cities/<city>.toml`` files.

A catalogue holds the city's display names (en/de/ja), its OSM query area, the
default start and the sights. Adding a city means adding one file.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ringroute._text import LANGS
from ringroute.errors import InputError, UnknownCityError
from ringroute.settings import Settings, get_settings

#: Languages of sight and city names (those of every text, see :mod:`ringroute._text`).
LANGUAGES: tuple[str, ...] = LANGS
_CITY_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, kw_only=True)
class Sight:
    """A named place a loop can pass.

    Attributes
    ----------
    key
        Short, unique key within the city (``"univ"``).
    names
        Names by language code (``en``, ``de``, ``ja``).
    lat, lon
        WGS 84 position in degrees.
    category
        Kind of sight (``museum``, ``park`` …).
    description
        One-line description (English).
    accuracy_m
        How far the true position may be from ``lat, lon``.
    source
        Where the position comes from.
    """

    key: str
    names: dict[str, str]
    lat: float
    lon: float
    category: str = "sight"
    description: str = ""
    accuracy_m: float = 50.0
    source: str = ""

    def name(self, lang: str = "en") -> str:
        """Return the name in ``lang``, falling back to English, then the key."""
        return self.names.get(lang) or self.names.get("en") or self.key


@dataclass(frozen=True, kw_only=True)
class City:
    """A city catalogue.

    Attributes
    ----------
    key
        File stem of the catalogue (``"tsukuba"``).
    names
        Display names by language.
    place
        Nominatim query for the city's boundary.
    bbox
        ``(south, west, north, east)`` fallback query area in degrees.
    default_start
        Key of the sight where loops start by default.
    extracts
        File stems searched for in the OSM folders.
    sights
        The catalogue, in file order.
    """

    key: str
    names: dict[str, str]
    place: str
    bbox: tuple[float, float, float, float]
    default_start: str
    extracts: tuple[str, ...]
    sights: tuple[Sight, ...] = field(default_factory=tuple)
    description: str = ""
    path: Path | None = None

    def name(self, lang: str = "en") -> str:
        """Return the display name in ``lang``."""
        return self.names.get(lang) or self.names.get("en") or self.key

    def sight(self, key: str) -> Sight:
        """Return the sight with catalogue key ``key``.

        Raises
        ------
        KeyError
            If there is none.
        """
        for s in self.sights:
            if s.key == key:
                return s
        raise KeyError(key)


def available_cities(*, settings: Settings | None = None) -> list[str]:
    """List the keys of all catalogues in the cities folder."""
    s = settings or get_settings()
    if not s.cities_dir.is_dir():
        return []
    return sorted(p.stem for p in s.cities_dir.glob("*.toml"))


def load_city(name: str, *, settings: Settings | None = None) -> City:
    """Load the catalogue of city ``name``.

    Parameters
    ----------
    name
        City key (file stem), case-insensitive.
    settings
        Where to look; defaults to the environment's settings.

    Returns
    -------
    City
        The parsed catalogue.

    Raises
    ------
    UnknownCityError
        If there is no such catalogue; the message lists the known cities.
    InputError
        If the catalogue file is malformed.
    """
    s = settings or get_settings()
    key = name.strip().lower()
    known = available_cities(settings=s)
    if not _CITY_KEY.match(key) or key not in known:
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        where = (f"known cities are {', '.join(known)}" if known else
                 f"there are no city catalogues (<city>.toml) in {str(s.cities_dir)!r} "
                 "(the setting cities_dir, RINGROUTE_CITIES_DIR)")
        msg = f"unknown city {name!r}: {where}{hint}"
        raise UnknownCityError(msg)
    return load_city_file(s.cities_dir / f"{key}.toml")


def load_city_file(path: Path) -> City:
    """Parse one catalogue file; see :func:`load_city`."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        msg = f"cannot read city catalogue {str(path)!r}: {exc}"
        raise InputError(msg) from exc
    try:
        return _city_from_dict(raw, path)
    except KeyError as exc:
        msg = (f"malformed city catalogue {str(path)!r}: the entry {exc.args[0]!r} is "
               "missing (a catalogue needs default_start, [area] with bbox, and each "
               "[[sights]] key, lat and lon)")
        raise InputError(msg) from exc
    except (TypeError, ValueError) as exc:
        msg = f"malformed city catalogue {str(path)!r}: {exc}"
        raise InputError(msg) from exc


#: control characters: no name or description holds one, and GPX (XML) cannot
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _clean(text: str, where: str) -> str:
    """``text``, refused if it holds a control character (a newline included)."""
    bad = _CONTROL.search(text)
    if bad:
        msg = (f"{where} {text!r} holds the control character U+{ord(bad.group()):04X}; "
               "names and descriptions are one line of plain text")
        raise ValueError(msg)
    return text


def _names(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not isinstance(raw.get("en"), str):
        msg = f"{where}: 'names' needs at least an English name"
        raise ValueError(msg)
    return {lang: _clean(str(raw[lang]), f"{where}: name") for lang in LANGUAGES
            if raw.get(lang)}


def _city_from_dict(raw: dict[str, Any], path: Path) -> City:
    sights: list[Sight] = []
    seen: set[str] = set()
    for i, item in enumerate(raw.get("sights", [])):
        lat, lon = float(item["lat"]), float(item["lon"])
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or math.isnan(lat + lon):
            msg = f"sight {item.get('key')!r} has an invalid position {lat},{lon}"
            raise ValueError(msg)
        key = str(item["key"])
        if key in seen:
            msg = f"duplicate sight key {key!r}"
            raise ValueError(msg)
        seen.add(key)
        sights.append(
            Sight(
                key=key,
                names=_names(item.get("names"), f"sight #{i}"),
                lat=lat,
                lon=lon,
                category=str(item.get("category", "sight")),
                description=_clean(str(item.get("description", "")),
                                   f"sight {key!r}: description"),
                accuracy_m=float(item.get("accuracy_m", 50.0)),
                source=str(item.get("source", "")),
            )
        )
    area = raw["area"]
    bbox = tuple(float(v) for v in area["bbox"])
    if len(bbox) != 4:
        msg = "area.bbox must be [south, west, north, east]"
        raise ValueError(msg)
    key = str(raw.get("key", path.stem))
    city = City(
        key=key,
        names=_names(raw.get("names"), "city"),
        place=str(area.get("place", "")),
        bbox=(bbox[0], bbox[1], bbox[2], bbox[3]),
        default_start=str(raw["default_start"]),
        extracts=tuple(str(e) for e in area.get("extracts", [key])),
        sights=tuple(sights),
        description=str(raw.get("description", "")),
        path=path,
    )
    if city.default_start not in seen:
        msg = f"default_start {city.default_start!r} is not a sight key"
        raise ValueError(msg)
    return city
