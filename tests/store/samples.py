"""Deterministic sample frames for any layer of gridmap.schema, and the values a store must give back.

Every nullable column gets some NULLs, text gets Chinese and quotes, datetimes come in several
time zones with microseconds (the store keeps milliseconds), json gets lists, dicts and scalars,
the GEOMETRY layers get a mix of polygon, multipolygon, point and line.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.schema import GEOMETRY, Column, LayerSpec

LON0, LAT0 = 114.29, 35.74  # 鹤壁市淇滨区
_TEXTS = ("黎阳社区第三网格", "O'Brien \"quoted\"", "plain", "表情 🙂", "  spaces  ", "")
_ZONES = ("UTC", "Asia/Shanghai", "America/New_York")


def _value(col: Column, i: int, rng: np.random.Generator, key: bool) -> Any:
    if col.nullable and not key and i % 5 == 3:
        return None
    if col.type == "text":
        return f"{col.name}-{i:05d}" if key else _TEXTS[int(rng.integers(len(_TEXTS)))] + str(i)
    if col.type == "int":
        return i + 1 if key else int(rng.integers(-(2**40), 2**40))
    if col.type == "float":
        return float(rng.normal(0, 1e6))
    if col.type == "bool":
        return bool(i % 2)
    if col.type == "datetime":
        base = pd.Timestamp("2024-02-29 23:59:59.123456", tz="UTC") + pd.Timedelta(seconds=int(rng.integers(10**8)))
        return base.tz_convert(_ZONES[i % len(_ZONES)]).to_pydatetime()
    return ([{"code": "OUT_OF_BAND", "message": f"超出 {i}"}, 1, 2.5, True, None], {"k": [i, "中文"]}, "text", 3)[i % 4]


def _geometry(kind: str, i: int, rng: np.random.Generator) -> shapely.Geometry:
    x, y = LON0 + rng.uniform(-0.05, 0.05), LAT0 + rng.uniform(-0.05, 0.05)
    d = rng.uniform(1e-5, 1e-3)
    box = shapely.box(x, y, x + d, y + d)
    if kind == "MULTIPOLYGON":
        return shapely.MultiPolygon([box, shapely.box(x + 2 * d, y, x + 3 * d, y + d)]) if i % 3 == 0 else \
            shapely.MultiPolygon([box])
    if kind == "POINT":
        return shapely.Point(x, y)
    if kind in ("LINESTRING", "MULTILINESTRING"):
        line = shapely.LineString([(x, y), (x + d, y + d / 2), (x + 2 * d, y)])
        return line if kind == "LINESTRING" else shapely.MultiLineString([line])
    mixed = (box, shapely.Point(x, y), shapely.MultiPolygon([box]), shapely.LineString([(x, y), (x + d, y)]))
    return mixed[i % len(mixed)]


def sample_geoframe(spec: LayerSpec, n: int, *, seed: int = 0) -> gpd.GeoDataFrame:
    """:func:`sample_frame` of a layer with geometry."""
    frame = sample_frame(spec, n, seed=seed)
    assert isinstance(frame, gpd.GeoDataFrame)
    return frame


def sample_frame(spec: LayerSpec, n: int, *, seed: int = 0) -> pd.DataFrame:
    """``n`` rows for ``spec``: keys unique, every column filled (NULLs in nullable ones)."""
    rng = np.random.default_rng(seed)
    keys = {c for cols in ([spec.key] if spec.key else []) + list(spec.unique) for c in cols}
    data = {c.name: pd.Series([_value(c, i, rng, c.name in keys) for i in range(n)], dtype=object)
            for c in spec.columns}
    frame = pd.DataFrame(data)
    if spec.geometry_type is None:
        return frame
    geoms = [None if i % 7 == 6 else _geometry(spec.geometry_type, i, rng) for i in range(n)]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def expected_value(col: Column, value: Any) -> Any:
    """What a store returns for a value written: datetimes in UTC truncated to ms, everything else equal."""
    if value is None:
        return None
    if col.type == "datetime":
        stamp = pd.Timestamp(value).tz_convert("UTC")
        return stamp.floor("ms")
    return value


def assert_frame_matches(spec: LayerSpec, written: pd.DataFrame, read: pd.DataFrame) -> None:
    """Cell-by-cell comparison of what was written with what a store read back (same row order)."""
    assert len(read) == len(written)
    for col in spec.columns:
        got = read[col.name].tolist()
        want = [expected_value(col, v) for v in written[col.name].tolist()]
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if w is None:
                assert g is None or g is pd.NA or g is pd.NaT or (isinstance(g, float) and np.isnan(g)), (col.name, i)
            elif col.type == "float":
                assert g == w, (col.name, i, g, w)  # float64 round trips exactly
            else:
                assert g == w, (col.name, i, g, w)
    if spec.geometry_type is not None:
        want_geoms = np.asarray(written.geometry.to_numpy(), dtype=object)
        got_geoms = np.asarray(read.geometry.to_numpy(), dtype=object)
        for i, (g, w) in enumerate(zip(got_geoms, want_geoms, strict=True)):
            if w is None:
                assert g is None, (GEOMETRY, i, g)
            else:
                assert shapely.equals_exact(g, w, tolerance=0), (GEOMETRY, i, g.wkt, w.wkt)
                assert g.geom_type == w.geom_type, (i, g.geom_type, w.geom_type)


def utc(text: str) -> dt.datetime:
    return pd.Timestamp(text, tz="UTC").to_pydatetime()
