"""Route metrics shared by the planner and the comparison: turns, repeats, classes."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np

from ringroute._arrays import ranks
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
    return _resampled(*proj.to_xy(np.asarray(lat), np.asarray(lon)), step_m)


def _resampled(x: np.ndarray, y: np.ndarray, step_m: float) -> tuple[np.ndarray, np.ndarray]:
    """A polyline in local metres at points every ``step_m`` from its start."""
    seg = np.hypot(np.diff(x), np.diff(y))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] <= 0:
        return x[:1], y[:1]
    s = np.arange(0.0, cum[-1], step_m)
    return np.interp(s, cum, x), np.interp(s, cum, y)


#: a polyline whose ends are closer than this (m) is a closed loop
_CLOSED_M = 1.0


def count_turns(lat: Sequence[float], lon: Sequence[float]) -> int:
    """Count turns: heading changes of more than 50° within 40 m of riding.

    The polyline is resampled every 10 m; a turn is a maximal run of positions
    where the heading 40 m ahead differs from the current heading by more than
    50°. A closed loop (ends within 1 m) is read round: its closing junction
    counts like any other, and a turn across the start counts once.
    """
    if len(lat) < 2:
        return 0
    proj = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
    x, y = proj.to_xy(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))
    if math.hypot(float(x[-1] - x[0]), float(y[-1] - y[0])) < _CLOSED_M:
        closed = _count_turns_round(x, y)
        if closed is not None:
            return closed
    return int(count_turns_xy([(x, y)])[0])


def _count_turns_round(x: np.ndarray, y: np.ndarray) -> int | None:
    """:func:`count_turns` of a closed polyline, windows running on across its start.

    ``None`` for a loop too short to hold one window.
    """
    xs, ys = _resampled(x, y, _STEP_M)
    k = round(TURN_WINDOW_M / _STEP_M)
    if len(xs) <= k + 1:
        return None
    xs = np.append(xs, x[0])  # back to the start: one heading more
    ys = np.append(ys, y[0])
    heading = np.degrees(np.arctan2(np.diff(ys), np.diff(xs)))
    delta = np.abs((np.roll(heading, -k) - heading + 180.0) % 360.0 - 180.0)
    turning = delta > TURN_ANGLE_DEG
    if turning.all():
        return 1  # a ring too tight to ride straight anywhere: one long turn
    return int(np.count_nonzero(turning & ~np.roll(turning, 1)))


def count_turns_xy(lines: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """:func:`count_turns` for many polylines in local metres at once.

    Parameters
    ----------
    lines
        ``(x, y)`` coordinate arrays (metres) of each polyline.

    Returns
    -------
    numpy.ndarray
        The number of turns of each polyline.
    """
    result = np.zeros(len(lines), dtype=np.int64)
    # a line of fewer than two points has no turn
    keep = [k for k, (x, _) in enumerate(lines) if len(x) >= 2]
    if not keep:
        return result
    n = len(keep)
    out = np.zeros(n, dtype=np.int64)
    sizes = np.fromiter((len(lines[k][0]) for k in keep), np.int64, n)
    x = np.concatenate([np.asarray(lines[k][0], dtype=float) for k in keep])
    y = np.concatenate([np.asarray(lines[k][1], dtype=float) for k in keep])
    line = np.repeat(np.arange(n), sizes)
    first = np.cumsum(sizes) - sizes
    seg = np.hypot(np.diff(x), np.diff(y))
    seg[(first[1:] - 1)] = 0.0  # no segment between one line's end and the next start
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    start_m = cum[first]
    total_m = cum[first + sizes - 1] - start_m
    # positions every 10 m along each line (as count_turns' resampling)
    counts = np.where(total_m > 0, np.ceil(total_m / _STEP_M - 1e-9), 1).astype(np.int64)
    pos_line = np.repeat(np.arange(n), counts)
    offs = ranks(counts)
    s = start_m[pos_line] + offs * _STEP_M
    # interpolate within each line: search among that line's vertices only
    key = line.astype(float) * (cum[-1] + 1.0) * 2.0 + cum  # strictly grouped by line
    q = pos_line.astype(float) * (cum[-1] + 1.0) * 2.0 + s
    xs = np.interp(q, key, x)
    ys = np.interp(q, key, y)
    k = round(TURN_WINDOW_M / _STEP_M)
    heading = np.degrees(np.arctan2(np.diff(ys), np.diff(xs)))
    if len(heading) <= k:
        return result
    delta = np.abs((heading[k:] - heading[:-k] + 180.0) % 360.0 - 180.0)
    # window j spans points j..j+k+1; line ids are sorted, so it lies within one line
    # when its first and last point do
    owner = pos_line[: len(delta)]
    turning = (delta > TURN_ANGLE_DEG) & (owner == pos_line[k + 1:])
    # a turn is a maximal run of turning windows within one line
    rising = turning.copy()
    rising[1:] &= ~(turning[:-1] & (owner[1:] == owner[:-1]))
    np.add.at(out, owner[rising], 1)
    result[keep] = out
    return result


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
