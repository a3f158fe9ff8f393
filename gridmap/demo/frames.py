"""Turn generated records into GeoDataFrames with exactly the columns of a ``gridmap.schema`` spec.

Columns get the pandas dtypes of the store contract (text -> object, int -> Int64, float ->
float64, bool -> boolean, datetime -> datetime64[ns, UTC], json -> object), so what we write is
what a store reads back. Polygons of MULTIPOLYGON layers are promoted to one-part MultiPolygons.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import schema
from gridmap.config import Settings
from gridmap.demo.hierarchy import Hierarchy
from gridmap.demo.params import AREAS_VALID_FROM, SYNTHETIC_SOURCE
from gridmap.model import AreaLevel

_DTYPES = {"text": "object", "int": "Int64", "float": "float64", "bool": "boolean", "json": "object"}
OPENING_HOURS = "周一至周五 08:30-12:00, 14:30-18:00"


def typed_frame(
    spec: schema.LayerSpec, records: Sequence[dict[str, Any]], *, columns: dict[str, Any] | None = None
) -> pd.DataFrame:
    """A DataFrame with exactly ``spec``'s columns (missing ones NULL) in the contract's dtypes.

    Give rows as ``records`` (dicts) or, faster for big tables, whole ``columns``.
    """
    data: dict[str, Any] = {}
    n = len(next(iter(columns.values()))) if columns else len(records)
    for col in spec.columns:
        values = columns.get(col.name, [None] * n) if columns is not None else [r.get(col.name) for r in records]
        if col.type == "datetime":
            stamps = values if isinstance(values, pd.DatetimeIndex) else pd.Series(values, dtype="object")
            data[col.name] = pd.Series(pd.to_datetime(stamps, utc=True)).reset_index(drop=True)
        else:
            data[col.name] = pd.Series(values, dtype=_DTYPES[col.type])
    return pd.DataFrame(data)


def records_frame(spec: schema.LayerSpec, records: Sequence[dict[str, Any]]) -> gpd.GeoDataFrame:
    """A GeoDataFrame (no CRS yet: the caller sets the working CRS) of ``spec``'s columns + geometry."""
    frame = typed_frame(spec, records)
    geoms = np.asarray([r["geometry"] for r in records], dtype=object)
    if spec.geometry_type == "MULTIPOLYGON" and len(geoms):
        single = shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON
        geoms[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms), crs=None)


def areas_frame(
    h: Hierarchy, buildings: Sequence[dict[str, Any]], outline_source: str, settings: Settings
) -> gpd.GeoDataFrame:
    """District, streets and communities with households and population summed from the buildings."""
    households: dict[str, int] = {}
    population: dict[str, int] = {}
    for b in buildings:
        code = b["community_code"]
        households[code] = households.get(code, 0) + int(b["households"])
        population[code] = population.get(code, 0) + int(b["population"])

    def total(prefix: str, counts: dict[str, int]) -> int:
        return sum(v for k, v in counts.items() if k.startswith(prefix))

    records: list[dict[str, Any]] = []
    for a in [h.district, *sorted(h.streets, key=lambda s: s.code), *sorted(h.communities, key=lambda c: c.code)]:
        real = a.level is AreaLevel.DISTRICT
        records.append({
            "code": a.code, "name": a.name, "level": a.level.value, "parent_code": a.parent_code,
            "households": total(a.code, households), "population": total(a.code, population),
            "valid_from": AREAS_VALID_FROM, "valid_to": None, "synthetic": not real,
            "source": outline_source if real else SYNTHETIC_SOURCE, "geometry": a.geometry,
        })
    return records_frame(schema.AREAS_SPEC, records)


def service_centres_frame(centres: Sequence[dict[str, Any]]) -> gpd.GeoDataFrame:
    """Centres named as C-3 asks: communities "…党群服务中心", streets and district "…网格化服务管理中心"."""
    records = []
    for k, c in enumerate(centres):
        area = c["area"]
        suffix = "党群服务中心" if area.level is AreaLevel.COMMUNITY else "网格化服务管理中心"
        records.append({
            "centre_id": f"SC{area.code}", "name": f"{area.name}{suffix}", "area_code": area.code,
            "address": c["address"], "phone": f"0392-000{k + 1:04d}", "opening_hours": OPENING_HOURS,
            "synthetic": True, "geometry": c["geometry"],
        })
    return records_frame(schema.SERVICE_CENTRES_SPEC, records)
