"""Route metrics shared by the planner and the comparison: turns, repeats, classes."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np

from ringroute._geo import LocalProjection

TURN_ANGLE_DEG = 50.0
TURN_WINDOW_M = 40.0
_STEP_M = 10.0


def resample_xy(
    lat: Sequence[float], lon: Sequence[float], step_m: float = _STEP_M
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a polyline to points every ``step_m`` metres (local metres)."""
    if len(lat) < 2:
        return np.zeros(0), np.zeros(0)
    proj = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
    x, y = proj.to_xy(np.asarray(lat), np.asarray(lon))
    seg = np.hypot(np.diff(x), np.diff(y))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] <= 0:
        return x[:1], y[:1]
    s = np.arange(0.0, cum[-1], step_m)
    return np.interp(s, cum, x), np.interp(s, cum, y)


def count_turns(lat: Sequence[float], lon: Sequence[float]) -> int:
    """Count turns: heading changes of more than 50° within 40 m of riding.

    The polyline is resampled every 10 m; a turn is a maximal run of positions
    where the heading 40 m ahead differs from the current heading by more than
    50°. A closed loop's closing junction counts like any other.
    """
    x, y = resample_xy(lat, lon)
    if len(x) < 3:
        return 0
    heading = np.degrees(np.arctan2(np.diff(y), np.diff(x)))
    k = round(TURN_WINDOW_M / _STEP_M)
    if len(heading) <= k:
        return 0
    delta = np.abs((heading[k:] - heading[:-k] + 180.0) % 360.0 - 180.0)
    turning = delta > TURN_ANGLE_DEG
    # count rising edges of the boolean series
    return int(turning[0]) + int(np.count_nonzero(turning[1:] & ~turning[:-1]))


def turns_per_km(lat: Sequence[float], lon: Sequence[float], length_m: float) -> float:
    """:func:`count_turns` per kilometre of ``length_m``."""
    if length_m <= 0:
        return 0.0
    return count_turns(lat, lon) / (length_m / 1000.0)


def repeated_share(keys: Sequence[Hashable], lengths: Sequence[float]) -> float:
    """Share of the length on physical ways used more than once (either direction).

    Parameters
    ----------
    keys
        One direction-independent key per traversed segment.
    lengths
        Length of each traversed segment in metres.
    """
    total = float(sum(lengths))
    if total <= 0:
        return 0.0
    counts = Counter(keys)
    rep = sum(length for k, length in zip(keys, lengths, strict=True) if counts[k] > 1)
    return float(rep / total)


def class_shares(classes: Sequence[str], lengths: Sequence[float]) -> dict[str, float]:
    """Metres per way class."""
    out: dict[str, float] = {}
    for c, length in zip(classes, lengths, strict=True):
        out[c] = out.get(c, 0.0) + float(length)
    return out


def angle_of(x: float, y: float) -> float:
    """Polar angle in radians in ``[0, 2π)``."""
    return math.atan2(y, x) % (2 * math.pi)
