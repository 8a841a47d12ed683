"""Elevation from a generated DEM GeoTIFF and from OSM ele tags, into GPX <ele>."""

from __future__ import annotations

from pathlib import Path

import gpxpy
import numpy as np
import pytest
import rasterio
import xmlschema
from rasterio.transform import from_origin

from conftest import GPX_XSD
from ringroute._elevation import gain_loss_m, interpolate_known, sample_dem
from ringroute.cities import City
from ringroute.errors import InputError
from ringroute.gpx import write_gpx
from ringroute.job import add_elevation
from ringroute.loop import Loop, plan_loops
from ringroute.network import Network
from ringroute.sights import resolve, snap


def _write_dem(path: Path, crs: str = "EPSG:4326") -> Path:
    """A plane rising 1 m per 0.001° of latitude over Tsukuba (20 m at 36.07 N)."""
    west, north, res = 140.05, 36.16, 0.0005
    rows, cols = 200, 200
    lats = north - (np.arange(rows) + 0.5) * res
    data = np.repeat(((lats - 36.05) * 1000.0)[:, None], cols, axis=1).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", height=rows, width=cols, count=1,
                       dtype="float32", crs=crs, transform=from_origin(west, north, res, res),
                       nodata=-9999.0) as ds:
        ds.write(data, 1)
    return path


def test_sample_dem_bilinear(tmp_path: Path) -> None:
    dem = _write_dem(tmp_path / "dem.tif")
    values = sample_dem(dem, [36.08, 36.10, 36.15, 10.0], [140.1, 140.1, 140.1, 10.0])
    assert values[0] == pytest.approx(30.0, abs=0.01)
    assert values[1] == pytest.approx(50.0, abs=0.01)
    assert values[2] == pytest.approx(100.0, abs=0.01)
    assert values[3] is None


def test_bad_dem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    with pytest.raises(InputError, match="--dem"):
        sample_dem(bad, [36.0], [140.0])


def test_dem_in_a_local_crs_is_refused(tmp_path: Path) -> None:
    """A raster in a local engineering CRS has no way to latitude and longitude."""
    local = 'LOCAL_CS["arbitrary",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
    dem = _write_dem(tmp_path / "local.tif", crs=local)
    with pytest.raises(InputError, match=r"--dem .*local\.tif.*cannot be reached from latitude"
                       ) as info:
        sample_dem(dem, [36.08], [140.1])
    assert str(info.value).endswith("(GDAL: Cannot find coordinate operations)")


@pytest.mark.parametrize("void", [np.inf, -np.inf, np.nan, -32768.0, 10_000.0])
def test_dem_voids_hold_no_elevation(tmp_path: Path, void: float) -> None:
    """Values no terrain has (and no nodata value marks) are voids: no elevation there."""
    dem = _write_dem(tmp_path / "dem.tif")
    with rasterio.open(dem, "r+") as ds:
        band = ds.read(1)
        band[:100, :] = void  # the northern half, 36.11..36.16 N
        ds.write(band, 1)
    values = sample_dem(dem, [36.08, 36.15], [140.1, 140.1])
    assert values[0] == pytest.approx(30.0, abs=0.01)
    assert values[1] is None


def test_gain_loss() -> None:
    assert gain_loss_m([0, 10, 5, 20, 19, 0]) == (25.0, 25.0)
    assert gain_loss_m([0, 1, 0, 1, 0]) == (0.0, 0.0)  # noise below 3 m is ignored
    assert interpolate_known([0, 10, 20, 30], {0: 0.0, 3: 30.0}) == [0.0, 10.0, 20.0, 30.0]
    assert interpolate_known([0, 10], {0: 1.0}) is None


@pytest.fixture(scope="module")
def loop(tsukuba: City, science_city: Network) -> Loop:
    start = snap(resolve("station", tsukuba), science_city, max_snap_m=500)
    via = [snap(resolve("univ", tsukuba), science_city, max_snap_m=500)]
    return plan_loops(science_city, start, via, target_km=15)[0]


def test_gpx_with_dem(loop: Loop, science_city: Network, tmp_path: Path) -> None:
    dem = _write_dem(tmp_path / "dem.tif")
    add_elevation(loop, science_city, dem=dem)
    assert loop.ele is not None and all(e is not None for e in loop.ele)
    path = write_gpx(loop, tmp_path / "e.gpx")
    xmlschema.XMLSchema(str(GPX_XSD)).validate(str(path))
    g = gpxpy.parse(path.read_text(encoding="utf-8"))
    for p in g.tracks[0].segments[0].points[::50]:
        assert p.elevation == pytest.approx((p.latitude - 36.05) * 1000.0, abs=0.2)
    up, down = g.get_uphill_downhill()
    assert up == pytest.approx(down, rel=0.05)  # a loop climbs what it descends
    assert up > 20


def test_projected_dem(loop: Loop, science_city: Network, tmp_path: Path) -> None:
    """A DEM in UTM (EPSG:32654) gives the same heights as one in degrees."""
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    src_path = _write_dem(tmp_path / "geo.tif")
    dst_path = tmp_path / "utm.tif"
    with rasterio.open(src_path) as src:
        transform, width, height = calculate_default_transform(
            src.crs, "EPSG:32654", src.width, src.height, *src.bounds)
        meta = src.meta.copy()
        meta.update(crs="EPSG:32654", transform=transform, width=width, height=height)
        with rasterio.open(dst_path, "w", **meta) as dst:
            reproject(rasterio.band(src, 1), rasterio.band(dst, 1),
                      resampling=Resampling.bilinear)
    geo = sample_dem(src_path, loop.lat[::40], loop.lon[::40])
    utm = sample_dem(dst_path, loop.lat[::40], loop.lon[::40])
    for a, b in zip(geo, utm, strict=True):
        assert a is not None and b is not None
        assert a == pytest.approx(b, abs=1.0)


def test_osm_ele_tags(loop: Loop, science_city: Network) -> None:
    nodes = [u for u, _, _ in loop.edges]
    g = science_city.graph.copy()
    for i, n in enumerate(nodes[:: max(1, len(nodes) // 5)]):
        g.nodes[n]["ele"] = 10.0 * i
    net = Network(g, "tagged")
    add_elevation(loop, net)
    assert loop.ele is not None
    assert any(e is not None for e in loop.ele)
    known = [e for e in loop.ele if e is not None]
    assert min(known) == 0.0 and max(known) >= 30.0


def test_dem_elsewhere_leaves_no_elevation_and_warns(
        loop: Loop, science_city: Network, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """A DEM of another area: the GPX gets no <ele> at all, and the rider is told why."""
    dem = tmp_path / "alps.tif"
    with rasterio.open(dem, "w", driver="GTiff", height=10, width=10, count=1,
                       dtype="float32", crs="EPSG:4326",
                       transform=from_origin(7.0, 46.0, 0.01, 0.01)) as ds:
        ds.write(np.full((10, 10), 1500.0, dtype="float32"), 1)
    with caplog.at_level("WARNING", logger="ringroute"):
        add_elevation(loop, science_city, dem=dem)
    assert loop.ele is None
    assert any("alps.tif holds no elevation along the loop" in r.getMessage()
               for r in caplog.records)
    g = gpxpy.parse(write_gpx(loop, tmp_path / "e.gpx").read_text(encoding="utf-8"))
    assert all(p.elevation is None for p in g.tracks[0].segments[0].points)


def test_dem_covering_part_of_the_loop_warns(
        loop: Loop, science_city: Network, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    dem = _write_dem(tmp_path / "dem.tif")
    middle = float(np.median(loop.lat))
    with rasterio.open(dem, "r+") as ds:
        band = ds.read(1)
        rows = int((36.16 - middle) / 0.0005)
        band[:rows, :] = -9999.0  # nodata north of the loop's middle latitude
        ds.write(band, 1)
    with caplog.at_level("WARNING", logger="ringroute"):
        add_elevation(loop, science_city, dem=dem)
    assert loop.ele is not None
    known = sum(e is not None for e in loop.ele) / len(loop.ele)
    assert 0.2 < known < 0.8
    assert any(f"holds elevations for {100 * known:.0f}% of the loop's points only"
               in r.getMessage() for r in caplog.records)
    path = write_gpx(loop, tmp_path / "e.gpx")
    xmlschema.XMLSchema(str(GPX_XSD)).validate(str(path))
