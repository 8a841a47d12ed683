"""Douglas–Peucker polyline simplification that keeps chosen vertices."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from ringroute._geo import LocalProjection


def _dp_keep(x: np.ndarray, y: np.ndarray, tol: float, keep: np.ndarray) -> np.ndarray:
    """Boolean mask of vertices kept by Douglas–Peucker with tolerance ``tol`` metres."""
    n = len(x)
    mask = keep.copy()
    mask[0] = mask[-1] = True
    anchors = np.nonzero(mask)[0]
    stack = [(int(a), int(b)) for a, b in pairwise(anchors)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        xs, ys = x[i + 1:j], y[i + 1:j]
        dx, dy = x[j] - x[i], y[j] - y[i]
        seg = dx * dx + dy * dy
        if seg == 0:
            d = np.hypot(xs - x[i], ys - y[i])
        else:
            t = np.clip(((xs - x[i]) * dx + (ys - y[i]) * dy) / seg, 0, 1)
            d = np.hypot(xs - (x[i] + t * dx), ys - (y[i] + t * dy))
        k = int(np.argmax(d))
        if d[k] > tol:
            m = i + 1 + k
            mask[m] = True
            stack.append((i, m))
            stack.append((m, j))
    _ = n
    return mask


def simplify_indices(
    lat: Sequence[float], lon: Sequence[float], max_points: int, keep: Sequence[int] = ()
) -> list[int]:
    """Indices of at most ``max_points`` vertices that best keep the shape.

    The first and last vertex and every index in ``keep`` are always kept
    (``max_points`` must leave room for them). The Douglas–Peucker tolerance is
    found by bisection, so the result is as detailed as the budget allows.

    Raises
    ------
    ValueError
        If ``max_points`` is smaller than the vertices that must be kept.
    """
    n = len(lat)
    if n <= max_points:
        return list(range(n))
    must = np.zeros(n, dtype=bool)
    must[[0, n - 1]] = True
    for k in keep:
        must[k] = True
    if int(must.sum()) > max_points:
        msg = (
            f"max_points={max_points} is too small: the start, finish and sights alone "
            f"need {int(must.sum())} points"
        )
        raise ValueError(msg)
    proj = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
    x, y = proj.to_xy(np.asarray(lat), np.asarray(lon))
    lo, hi = 0.0, 1.0
    while int(_dp_keep(x, y, hi, must).sum()) > max_points:
        hi *= 2.0
    for _ in range(30):
        mid = (lo + hi) / 2
        if int(_dp_keep(x, y, mid, must).sum()) > max_points:
            lo = mid
        else:
            hi = mid
    return [int(i) for i in np.nonzero(_dp_keep(x, y, hi, must))[0]]
