"""Elevations for a track: from a DEM GeoTIFF (rasterio) or from OSM ``ele`` tags."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ringroute.errors import InputError

log = logging.getLogger("ringroute")

#: elevations a raster may hold (m): the Dead Sea shore to above Everest; any other
#: value is a void (e.g. SRTM's -32768 where no nodata value is set)
PLAUSIBLE_M = (-500.0, 9000.0)


def sample_dem(path: Path, lat: Sequence[float], lon: Sequence[float]) -> list[float | None]:
    """Bilinear elevation (m) from a DEM raster at each point.

    Parameters
    ----------
    path
        A raster readable by rasterio (GeoTIFF), in any CRS; band 1 is used.
    lat, lon
        WGS 84 positions.

    Returns
    -------
    list of float or None
        Elevation per point; ``None`` outside the raster, on nodata and where the
        raster holds no plausible elevation (not finite, or outside
        :data:`PLAUSIBLE_M`: voids that no nodata value marks).

    Raises
    ------
    InputError
        If the file cannot be read as a raster, or its coordinates cannot be
        reached from WGS 84.
    """
    import rasterio  # noqa: PLC0415 - optional heavy import, only with --dem
    from rasterio._err import CPLE_BaseError  # noqa: PLC0415 - GDAL's errors, e.g. a CRS
    from rasterio.errors import RasterioError  # noqa: PLC0415
    from rasterio.warp import transform  # noqa: PLC0415

    try:
        with rasterio.open(path) as ds:
            xs, ys = (list(lon), list(lat))
            if ds.crs is not None and ds.crs.to_epsg() != 4326:
                xs, ys = transform("EPSG:4326", ds.crs, xs, ys)
            band = ds.read(1, masked=True).astype(float).filled(np.nan)
            inv = ~ds.transform
            x_arr, y_arr = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
            cols = inv.a * x_arr + inv.b * y_arr + inv.c
            rows = inv.d * x_arr + inv.e * y_arr + inv.f
    except CPLE_BaseError as exc:
        reason = str(exc).split(" from ", 1)[0].splitlines()[0][:120]  # not the CRS's JSON
        msg = (f"--dem {str(path)!r}: its coordinates cannot be reached from latitude "
               f"and longitude (GDAL: {reason})")
        raise InputError(msg) from exc
    except (RasterioError, OSError) as exc:
        msg = f"--dem {str(path)!r} cannot be read as an elevation raster: {exc}"
        raise InputError(msg) from exc
    lo, hi = PLAUSIBLE_M
    with np.errstate(invalid="ignore"):
        band[~((band >= lo) & (band <= hi))] = np.nan
    return _bilinear(band, np.asarray(rows) - 0.5, np.asarray(cols) - 0.5)


def _bilinear(band: npt.NDArray[np.float64], r: npt.NDArray[np.float64],
              c: npt.NDArray[np.float64]) -> list[float | None]:
    h, w = band.shape
    out: list[float | None] = []
    for rr, cc in zip(r.tolist(), c.tolist(), strict=True):
        r0 = min(max(math.floor(rr), 0), h - 1)
        c0 = min(max(math.floor(cc), 0), w - 1)
        r1, c1 = min(r0 + 1, h - 1), min(c0 + 1, w - 1)
        if rr < -0.5 or cc < -0.5 or rr > h - 0.5 or cc > w - 0.5:
            out.append(None)
            continue
        fr = min(max(rr - r0, 0.0), 1.0)
        fc = min(max(cc - c0, 0.0), 1.0)
        vals = band[[r0, r0, r1, r1], [c0, c1, c0, c1]]
        if np.isnan(vals).any():
            v = band[round(min(max(rr, 0), h - 1)), round(min(max(cc, 0), w - 1))]
            out.append(None if np.isnan(v) else float(v))
            continue
        top = vals[0] * (1 - fc) + vals[1] * fc
        bottom = vals[2] * (1 - fc) + vals[3] * fc
        out.append(float(top * (1 - fr) + bottom * fr))
    return out


def interpolate_known(cum_m: Sequence[float],
                      known: dict[int, float]) -> list[float | None] | None:
    """Fill elevations between known track vertices linearly along the distance.

    Returns ``None`` when fewer than two vertices are known (no elevation then);
    vertices outside the known span get ``None``.
    """
    if len(known) < 2:
        return None
    idx = sorted(known)
    xs = np.asarray([cum_m[i] for i in idx])
    ys = np.asarray([known[i] for i in idx])
    out: list[float | None] = []
    for j, d in enumerate(cum_m):
        if j < idx[0] or j > idx[-1]:
            out.append(None)
        else:
            out.append(float(np.interp(d, xs, ys)))
    return out


def gain_loss_m(ele: Sequence[float | None], *, threshold_m: float = 3.0) -> tuple[float, float]:
    """Total climb and descent, ignoring wiggles smaller than ``threshold_m`` (hysteresis)."""
    vals = [e for e in ele if e is not None]
    if len(vals) < 2:
        return 0.0, 0.0
    gain = loss = 0.0
    ref = vals[0]
    for v in vals[1:]:
        if v - ref >= threshold_m:
            gain += v - ref
            ref = v
        elif ref - v >= threshold_m:
            loss += ref - v
            ref = v
    return gain, loss
