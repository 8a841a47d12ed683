"""Typed, environment-aware settings.

Every value can be overridden by an environment variable (named in each
field's comment) or by passing a modified :class:`Settings` to the functions
that take ``settings=``. Nothing here is mutated at run time: use
:func:`dataclasses.replace` to derive a variant.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ringroute.errors import InputError


class SettingsError(InputError):
    """A setting (or the environment variable behind it) out of its valid range."""

_PACKAGE_DIR = Path(__file__).resolve().parent
_SOURCE_ROOT = _PACKAGE_DIR.parent.parent


def _default_cities_dir() -> Path:
    env = os.environ.get("RINGROUTE_CITIES_DIR")
    if env:
        return Path(env)
    repo = _SOURCE_ROOT / "data" / "cities"
    if repo.is_dir():
        return repo
    return _PACKAGE_DIR / "_data" / "cities"


def _default_osm_dir() -> Path | None:
    env = os.environ.get("RINGROUTE_OSM_DIR")
    return Path(env) if env else None


def _default_local_osm_dir() -> Path:
    return _SOURCE_ROOT / "data" / "osm"


def _default_cache_dir() -> Path:
    env = os.environ.get("RINGROUTE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "ringroute"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        msg = f"environment variable {name}={raw!r} is not a number: valid is {_valid(name)}"
        raise SettingsError(msg) from exc


def _valid(env_name: str) -> str:
    """The valid values of the number setting read from ``env_name``, in words."""
    for env, unit, least, least_ok, most in _RANGES.values():
        if env == env_name:
            above = f"from {least:g}" if least_ok else f"more than {least:g}"
            return f"{above} up to {most:g} {unit}"
    return "a number"


#: each number setting: its environment variable, unit, least value (itself allowed
#: or not) and greatest value
_RANGES: dict[str, tuple[str, str, float, bool, float]] = {
    "timeout_s": ("RINGROUTE_TIMEOUT_S", "s", 0.0, False, 3600.0),
    "backoff_s": ("RINGROUTE_BACKOFF_S", "s", 0.0, True, 600.0),
    "max_snap_m": ("RINGROUTE_MAX_SNAP_M", "m", 0.0, False, 100_000.0),
}
_MAX_RETRIES = 20
#: each address setting: its environment variable and an example
_URLS = {"overpass_url": ("RINGROUTE_OVERPASS_URL", "https://overpass-api.de/api"),
         "nominatim_url": ("RINGROUTE_NOMINATIM_URL", "https://nominatim.openstreetmap.org/")}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Settings of one ringroute run.

    Attributes
    ----------
    cities_dir
        Folder of ``<city>.toml`` catalogues (``RINGROUTE_CITIES_DIR``).
    osm_dir
        Folder searched for ``<city>.osm[.pbf|.bz2|.gz]`` extracts (``RINGROUTE_OSM_DIR``).
    local_osm_dir
        The project's own ``data/osm/`` folder, searched after ``osm_dir``.
    cache_dir
        Where downloaded data and prepared graphs are cached (``RINGROUTE_CACHE_DIR``).
    use_cache
        Read and write the prepared-graph and download caches.
    overpass_url
        Base URL of the Overpass API (``RINGROUTE_OVERPASS_URL``).
    nominatim_url
        Base URL of Nominatim (``RINGROUTE_NOMINATIM_URL``).
    timeout_s
        Timeout of one HTTP request in seconds (``RINGROUTE_TIMEOUT_S``).
    retries
        How often a failed download is tried again.
    backoff_s
        First pause before a retry; doubled on each further retry
        (``RINGROUTE_BACKOFF_S``). Where no server answered (no connection, a
        host name not resolved for now), at most 1 s, 2 s, 4 s, ...
    max_snap_m
        A sight or start farther than this from the bike network is refused
        (``RINGROUTE_MAX_SNAP_M``).
    """

    cities_dir: Path = field(default_factory=_default_cities_dir)
    osm_dir: Path | None = field(default_factory=_default_osm_dir)
    local_osm_dir: Path = field(default_factory=_default_local_osm_dir)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    use_cache: bool = True
    overpass_url: str = field(
        default_factory=lambda: os.environ.get(
            "RINGROUTE_OVERPASS_URL", "https://overpass-api.de/api"
        )
    )
    nominatim_url: str = field(
        default_factory=lambda: os.environ.get(
            "RINGROUTE_NOMINATIM_URL", "https://nominatim.openstreetmap.org/"
        )
    )
    timeout_s: float = field(default_factory=lambda: _env_float("RINGROUTE_TIMEOUT_S", 180.0))
    retries: int = 3
    backoff_s: float = field(default_factory=lambda: _env_float("RINGROUTE_BACKOFF_S", 5.0))
    max_snap_m: float = field(default_factory=lambda: _env_float("RINGROUTE_MAX_SNAP_M", 500.0))

    def __post_init__(self) -> None:
        for name, (env, _unit, least, least_ok, most) in _RANGES.items():
            value = float(getattr(self, name))
            if not (math.isfinite(value) and (value >= least if least_ok else value > least)
                    and value <= most):
                msg = (f"setting {name} ({env}) = {value!r} is out of range: valid is "
                       f"{_valid(env)}")
                raise SettingsError(msg)
        if not 0 <= self.retries <= _MAX_RETRIES:
            msg = (f"setting retries = {self.retries} is out of range: valid is 0 up to "
                   f"{_MAX_RETRIES}")
            raise SettingsError(msg)
        for name, (env, example) in _URLS.items():
            url = getattr(self, name)
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                msg = (f"setting {name} ({env}) = {url!r} is not a web address: valid is "
                       f"http:// or https:// and a host, e.g. {example}")
                raise SettingsError(msg)


def get_settings() -> Settings:
    """Return settings read from the environment now."""
    return Settings()
