"""Settings: read from the environment, every number and address checked."""

from __future__ import annotations

import dataclasses
import math

import pytest

from ringroute.errors import InputError
from ringroute.settings import Settings, SettingsError


def test_defaults_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RINGROUTE_TIMEOUT_S", "RINGROUTE_BACKOFF_S", "RINGROUTE_MAX_SNAP_M",
                 "RINGROUTE_OVERPASS_URL", "RINGROUTE_NOMINATIM_URL"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert (s.timeout_s, s.backoff_s, s.max_snap_m) == (180.0, 5.0, 500.0)
    assert s.overpass_url == "https://overpass-api.de/api"


@pytest.mark.parametrize(("env", "raw", "fragment"), [
    ("RINGROUTE_TIMEOUT_S", "abc", "RINGROUTE_TIMEOUT_S='abc' is not a number: valid is "
                                   "more than 0 up to 3600 s"),
    ("RINGROUTE_TIMEOUT_S", "nan", "timeout_s (RINGROUTE_TIMEOUT_S) = nan is out of range"),
    ("RINGROUTE_TIMEOUT_S", "0", "valid is more than 0 up to 3600 s"),
    ("RINGROUTE_TIMEOUT_S", "inf", "= inf is out of range"),
    ("RINGROUTE_BACKOFF_S", "nan", "backoff_s (RINGROUTE_BACKOFF_S) = nan"),
    ("RINGROUTE_BACKOFF_S", "-1", "valid is from 0 up to 600 s"),
    ("RINGROUTE_MAX_SNAP_M", "nan", "max_snap_m (RINGROUTE_MAX_SNAP_M) = nan"),
    ("RINGROUTE_MAX_SNAP_M", "1e9", "valid is more than 0 up to 100000 m"),
    ("RINGROUTE_OVERPASS_URL", "not a url", "overpass_url (RINGROUTE_OVERPASS_URL) = "
                                            "'not a url' is not a web address"),
    ("RINGROUTE_OVERPASS_URL", "ftp://example.org/api", "http:// or https://"),
    ("RINGROUTE_NOMINATIM_URL", "http://", "nominatim_url (RINGROUTE_NOMINATIM_URL) = "
                                           "'http://' is not a web address: valid is http:// "
                                           "or https:// and a host, e.g. "
                                           "https://nominatim.openstreetmap.org/"),
])
def test_bad_environment_is_refused_naming_the_variable(
        monkeypatch: pytest.MonkeyPatch, env: str, raw: str, fragment: str) -> None:
    monkeypatch.setenv(env, raw)
    with pytest.raises(SettingsError) as info:
        Settings()
    assert fragment in str(info.value)
    assert isinstance(info.value, InputError)  # the CLI's exit code 2


def test_values_passed_in_code_are_checked_too() -> None:
    base = Settings()
    assert dataclasses.replace(base, backoff_s=0.0).backoff_s == 0.0
    assert dataclasses.replace(base, overpass_url="http://127.0.0.1:8080/api")
    for bad in ({"timeout_s": math.nan}, {"max_snap_m": -1.0}, {"retries": -1},
                {"retries": 1000}, {"overpass_url": "127.0.0.1:8080"}):
        with pytest.raises(SettingsError, match=next(iter(bad))):
            dataclasses.replace(base, **bad)  # type: ignore[arg-type]
