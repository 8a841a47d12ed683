"""Small geodesy helpers (spherical earth, metres)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two WGS 84 points in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def haversine_m_array(
    lat1: npt.NDArray[np.float64],
    lon1: npt.NDArray[np.float64],
    lat2: npt.NDArray[np.float64],
    lon2: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Vectorised :func:`haversine_m`."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(lon2 - lon1)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: npt.NDArray[np.float64] = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return out


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from north."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


class LocalProjection:
    """Equirectangular projection to metres around a reference latitude.

    Accurate to well under 1 % across a city, which is all snapping and shaping need.
    """

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0 = lat0
        self.lon0 = lon0
        self._kx = EARTH_RADIUS_M * math.cos(math.radians(lat0)) * math.pi / 180.0
        self._ky = EARTH_RADIUS_M * math.pi / 180.0

    def to_xy(
        self, lat: npt.ArrayLike, lon: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Project degrees to metres east and north of the origin."""
        x = (np.asarray(lon, dtype=float) - self.lon0) * self._kx
        y = (np.asarray(lat, dtype=float) - self.lat0) * self._ky
        return x, y

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        """Inverse of :meth:`to_xy` for one point."""
        return self.lat0 + y / self._ky, self.lon0 + x / self._kx
