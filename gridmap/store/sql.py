"""What both stores share: checking input against ``gridmap.schema``, canonical values, typed frames.

Why one module: the GeoPackage and PostGIS stores must accept the same frames, reject the same
mistakes with the same messages, and hand back identical pandas dtypes, or the contract suite
(and every caller) would see two dialects. Each store only encodes the canonical values below
for its own database (ISO text vs timestamptz, 0/1 vs boolean, GeoPackage binary vs EWKB).

Canonical Python value per logical type (``None`` = NULL): text -> ``str``; int -> ``int``;
float -> ``float``; bool -> ``bool``; datetime -> ``datetime`` in UTC truncated to the millisecond
(what GeoPackage's DATETIME format holds, so both stores keep the same instant); json -> the JSON
text (``str``), so each store parses/stores it once.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import ConflictError, ValidationError
from gridmap.schema import FID, GEOMETRY, Column, ColumnType, LayerSpec

#: pandas dtype of each logical type in frames read from a store (see gridmap.store.base).
PANDAS_DTYPES: dict[ColumnType, str] = {
    "text": "object",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "datetime": "datetime64[ns, UTC]",
    "json": "object",
}
_FID_COLUMN = Column(FID, "int", False)
#: Allowed shapely geometry type ids per layer geometry type (GEOMETRY takes any).
_ALLOWED_TYPES: dict[str, set[str]] = {
    "MULTIPOLYGON": {"Polygon", "MultiPolygon"},
    "LINESTRING": {"LineString"},
    "MULTILINESTRING": {"LineString", "MultiLineString"},
    "POINT": {"Point"},
}
_SHOW = 5  # offending values quoted in an error message


@dataclass(frozen=True)
class Condition:
    """One filter term: ``column IN values`` (equality when one value), OR'ed with IS NULL when asked."""

    column: str
    values: tuple[Any, ...]
    include_null: bool


@dataclass
class PreparedRows:
    """Rows checked against a layer spec: canonical values per column, geometries as a shapely array."""

    spec: LayerSpec
    data: dict[str, list[Any]]
    geometry: np.ndarray | None
    length: int


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def column_of(spec: LayerSpec, name: str, *, allow_fid: bool = False) -> Column:
    """The spec column ``name`` (``fid`` too when allowed) or a ValidationError naming the layer."""
    if allow_fid and name == FID:
        return _FID_COLUMN
    try:
        return spec.column(name)
    except KeyError:
        raise ValidationError(
            f"layer {spec.name!r} has no column {name!r}; columns: {', '.join(spec.column_names)}"
        ) from None


def canonical_value(spec: LayerSpec, col: Column, value: Any, *, row: Any = None) -> Any:
    """One value as the canonical Python type of ``col`` (see module docstring)."""
    if _missing(value):
        return None
    kind = col.type
    if kind == "text" and isinstance(value, str):
        return str(value)
    if kind == "int" and isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return int(value)
    if kind == "int" and isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    if kind == "float" and isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value)
    if kind == "bool" and isinstance(value, bool | np.bool_):
        return bool(value)
    where = f"layer {spec.name!r} column {col.name!r}" + (f" row {row}" if row is not None else "")
    if kind == "datetime":
        return _utc_ms(value, where)
    if kind == "json":
        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{where}: value {_describe(value)} is not JSON ({exc})") from None
    raise ValidationError(f"{where}: expected {kind}, got {type(value).__name__} {_describe(value)}")


#: 1970-01-01T00:00:00Z, the origin of pd.Timestamp.value.
_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _utc_ms(value: Any, where: str) -> dt.datetime:
    """An aware date/time as a UTC datetime floored to the millisecond (what both stores keep).

    Aware ``pd.Timestamp`` and ``datetime`` values (every row the services write) take integer
    arithmetic; ``Timestamp.floor`` costs about 20 us a value, a check-in has five of them.
    """
    if isinstance(value, pd.Timestamp) and value.tzinfo is not None:
        return _EPOCH_UTC + dt.timedelta(milliseconds=value.value // 1_000_000)  # .value: UTC nanoseconds
    if type(value) is dt.datetime and value.tzinfo is not None:
        utc = value.astimezone(dt.UTC)
        return utc.replace(microsecond=utc.microsecond // 1000 * 1000)
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: {_describe(value)} is not a date/time") from None
    if ts.tzinfo is None:
        raise ValidationError(f"{where}: {_describe(value)} has no time zone; give an aware datetime (e.g. UTC)")
    result: dt.datetime = ts.tz_convert("UTC").floor("ms").to_pydatetime()
    return result


def canonical_column(spec: LayerSpec, col: Column, series: pd.Series) -> list[Any]:
    """A whole column as canonical values; vectorised for datetimes (the common bulk case)."""
    if col.type == "datetime" and isinstance(series.dtype, pd.DatetimeTZDtype):
        utc = series.dt.tz_convert("UTC").dt.floor("ms")
        return [None if pd.isna(v) else v.to_pydatetime() for v in utc]
    if col.type == "datetime" and pd.api.types.is_datetime64_dtype(series.dtype):
        raise ValidationError(
            f"layer {spec.name!r} column {col.name!r}: naive datetimes (no time zone); "
            "localise them, e.g. tz_localize('UTC')"
        )
    return [canonical_value(spec, col, v, row=i) for i, v in zip(series.index, series.tolist(), strict=True)]


def read_columns(spec: LayerSpec, columns: Sequence[str] | None) -> tuple[list[str], bool]:
    """Attribute columns to read (spec order) and whether to read the geometry.

    ``None`` means every column with the geometry; otherwise exactly the named ones (``fid`` is
    always returned, ``geometry`` only when named).
    """
    if columns is None:
        return list(spec.column_names), spec.geometry_type is not None
    wanted = set(columns)
    with_geometry = GEOMETRY in wanted
    if with_geometry and spec.geometry_type is None:
        raise ValidationError(f"layer {spec.name!r} is an attribute table; it has no {GEOMETRY!r} column")
    wanted -= {GEOMETRY, FID}
    for name in wanted:
        column_of(spec, name)
    return [c for c in spec.column_names if c in wanted], with_geometry


def conditions_from_filters(spec: LayerSpec, where: Mapping[str, Any] | None) -> list[Condition]:
    """Filters as canonical conditions: scalar =, list/tuple/set IN, None IS NULL (json/geometry refused)."""
    conditions = []
    for name, raw in (where or {}).items():
        col = column_of(spec, name, allow_fid=True)
        if col.type == "json" or name == GEOMETRY:
            raise ValidationError(f"layer {spec.name!r}: cannot filter on {col.type} column {name!r}")
        items = list(raw) if isinstance(raw, list | tuple | set | frozenset | np.ndarray | pd.Series) else [raw]
        values = [canonical_value(spec, col, v) for v in items]
        present = tuple(dict.fromkeys(v for v in values if v is not None))
        conditions.append(Condition(name, present, include_null=len(present) < len(values)))
    return conditions


def check_bbox(spec: LayerSpec, bbox: Sequence[float] | None) -> tuple[float, float, float, float] | None:
    """A finite (min_lon, min_lat, max_lon, max_lat) on a layer with geometry, or a ValidationError."""
    if bbox is None:
        return None
    if spec.geometry_type is None:
        raise ValidationError(f"layer {spec.name!r} is an attribute table; a bbox filter needs geometry")
    try:
        x0, y0, x1, y1 = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ValidationError(f"bbox {bbox!r} must be four numbers (min_lon, min_lat, max_lon, max_lat)") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x0 > x1 or y0 > y1:
        raise ValidationError(f"bbox {bbox!r} must be finite with min <= max (min_lon, min_lat, max_lon, max_lat)")
    return x0, y0, x1, y1


def mask_bbox(geometry: np.ndarray, bbox: tuple[float, float, float, float]) -> np.ndarray:
    """Rows whose exact envelope intersects ``bbox``: both stores' indexes use rounded float boxes."""
    bounds = shapely.bounds(geometry)
    x0, y0, x1, y1 = bbox
    with np.errstate(invalid="ignore"):
        hit = (bounds[:, 0] <= x1) & (bounds[:, 2] >= x0) & (bounds[:, 1] <= y1) & (bounds[:, 3] >= y0)
    return np.asarray(hit, dtype=bool)


def geometry_from_frame(spec: LayerSpec, frame: pd.DataFrame, *, epsg: int) -> np.ndarray | None:
    """The frame's geometries in the storage CRS, type-checked (Polygon -> MultiPolygon where the layer wants it)."""
    has_geo = isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame.columns
    if not has_geo and GEOMETRY not in frame.columns:
        return None
    if spec.geometry_type is None:
        raise ValidationError(f"layer {spec.name!r} is an attribute table; the frame must not carry geometry")
    series = frame.geometry if has_geo else gpd.GeoSeries(frame[GEOMETRY].to_numpy(), index=frame.index)
    if series.crs is not None and series.crs.to_epsg() != epsg:
        series = series.to_crs(epsg)
    return check_geometry(spec, np.asarray(series.to_numpy(), dtype=object), index=frame.index)


def check_geometry(spec: LayerSpec, geoms: np.ndarray, *, index: Sequence[Any] | pd.Index | None = None) -> np.ndarray:
    """Type and lon/lat range check of an array of shapely geometries (None allowed)."""
    labels = list(index) if index is not None else list(range(len(geoms)))
    geoms = np.array([None if _missing(g) else g for g in geoms], dtype=object)
    bad = [i for i, g in enumerate(geoms) if g is not None and not isinstance(g, shapely.Geometry)]
    if bad:
        raise ValidationError(f"layer {spec.name!r}: rows {[labels[i] for i in bad[:_SHOW]]} have no shapely geometry")
    allowed = _ALLOWED_TYPES.get(str(spec.geometry_type))
    present = np.array([g is not None for g in geoms], dtype=bool)
    if allowed is not None and present.any():
        types = shapely.get_type_id(geoms)
        names = np.array(["" if g is None else g.geom_type for g in geoms])
        wrong = np.flatnonzero(present & ~np.isin(names, list(allowed)))
        if wrong.size:
            found = sorted(set(names[wrong]))
            raise ValidationError(
                f"layer {spec.name!r} takes {spec.geometry_type} geometries; rows "
                f"{[labels[i] for i in wrong[:_SHOW]]} are {', '.join(found)}"
            )
        if spec.geometry_type in ("MULTIPOLYGON", "MULTILINESTRING"):
            single = np.flatnonzero(present & (types < 4))
            if single.size:
                maker = shapely.multipolygons if spec.geometry_type == "MULTIPOLYGON" else shapely.multilinestrings
                geoms[single] = maker(geoms[single], indices=np.arange(single.size))
    _check_lonlat(spec, geoms, labels)
    return geoms


def _check_lonlat(spec: LayerSpec, geoms: np.ndarray, labels: list[Any]) -> None:
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        out = (bounds[:, 0] < -180) | (bounds[:, 2] > 180) | (bounds[:, 1] < -90) | (bounds[:, 3] > 90)
    wrong = np.flatnonzero(out)
    if wrong.size:
        raise ValidationError(
            f"layer {spec.name!r}: rows {[labels[i] for i in wrong[:_SHOW]]} lie outside lon/lat ranges; "
            "geometry is stored in degrees (reproject metric coordinates before storing)"
        )


def rows_from_frame(spec: LayerSpec, frame: pd.DataFrame, *, epsg: int) -> PreparedRows:
    """Check a frame for ``insert``: known columns, required columns present and non-null, types.

    An ``fid`` column is ignored (the store assigns fids); missing nullable columns become NULL.
    """
    extra = set(frame.columns) - set(spec.column_names) - {FID, GEOMETRY}
    if isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in extra:
        extra.discard(frame._geometry_column_name)
    _refuse_unknown(spec, extra)
    data: dict[str, list[Any]] = {}
    for col in spec.columns:
        if col.name in frame.columns:
            data[col.name] = canonical_column(spec, col, frame[col.name])
        else:
            data[col.name] = [None] * len(frame)
    _refuse_nulls(spec, data, list(frame.index))
    geometry = geometry_from_frame(spec, frame, epsg=epsg)
    if geometry is None and spec.geometry_type is not None:
        geometry = np.full(len(frame), None, dtype=object)
    return PreparedRows(spec, data, geometry, len(frame))


def rows_from_records(spec: LayerSpec, records: Sequence[Mapping[str, Any]]) -> PreparedRows:
    """Check plain rows (mappings) for ``insert``: the same checks and messages as :func:`rows_from_frame`.

    Why a second way in: a request that writes one row (a check-in and its audit entry) spent more
    time building and taking apart a one-row GeoDataFrame than the database spent on the INSERT.
    A ``geometry`` value is a shapely geometry in the storage CRS (a mapping has no CRS to convert
    from); row labels in messages are the positions 0, 1, ...
    """
    extra = {str(k) for r in records for k in r} - set(spec.column_names) - {FID, GEOMETRY}
    _refuse_unknown(spec, extra)
    data = {col.name: [canonical_value(spec, col, r.get(col.name), row=i) for i, r in enumerate(records)]
            for col in spec.columns}
    _refuse_nulls(spec, data, list(range(len(records))))
    given = any(GEOMETRY in r for r in records)
    if spec.geometry_type is None:
        if given:
            raise ValidationError(f"layer {spec.name!r} is an attribute table; the rows must not carry geometry")
        return PreparedRows(spec, data, None, len(records))
    geometry = check_geometry(spec, np.array([r.get(GEOMETRY) for r in records], dtype=object))
    return PreparedRows(spec, data, geometry, len(records))


def _refuse_unknown(spec: LayerSpec, extra: set[str]) -> None:
    if extra:
        raise ValidationError(f"layer {spec.name!r} has no columns {', '.join(sorted(map(str, extra)))}")


def _refuse_nulls(spec: LayerSpec, data: Mapping[str, list[Any]], labels: list[Any]) -> None:
    for col in spec.columns:
        if not col.nullable:
            nulls = [label for label, v in zip(labels, data[col.name], strict=True) if v is None]
            if nulls:
                raise ValidationError(
                    f"layer {spec.name!r}: column {col.name!r} is required; rows {nulls[:_SHOW]} have no value"
                )


def values_for_update(spec: LayerSpec, values: Mapping[str, Any]) -> tuple[dict[str, Any], Any, bool]:
    """Canonical values for ``update``: (attributes, geometry, geometry given?)."""
    if not values:
        raise ValidationError(f"update of layer {spec.name!r} sets no columns")
    attrs: dict[str, Any] = {}
    for name, value in values.items():
        if name == GEOMETRY:
            continue
        if name == FID:
            raise ValidationError(f"layer {spec.name!r}: fid is assigned by the store and cannot be updated")
        col = column_of(spec, name)
        attrs[name] = canonical_value(spec, col, value)
        if attrs[name] is None and not col.nullable:
            raise ValidationError(f"layer {spec.name!r}: column {name!r} is required and cannot be set to NULL")
    if GEOMETRY not in values:
        return attrs, None, False
    if spec.geometry_type is None:
        raise ValidationError(f"layer {spec.name!r} is an attribute table; it has no {GEOMETRY!r} column")
    geom = check_geometry(spec, np.array([values[GEOMETRY]], dtype=object))[0]
    return attrs, geom, True


def key_sets(spec: LayerSpec) -> list[tuple[str, ...]]:
    """Every unique constraint of a layer: its key first, then ``unique``."""
    return ([spec.key] if spec.key else []) + list(spec.unique)


def duplicate_keys(
    rows: PreparedRows,
    existing: Callable[[tuple[str, ...], list[Any]], set[tuple[Any, ...]]],
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]] | None:
    """The first unique constraint the rows break, with the duplicated values, or None.

    ``existing(columns, first_column_values)`` returns the key tuples already stored whose first
    column is among the given values. Rows with a NULL in the key never collide (SQL semantics).
    Only called after the database refused the write, to say *which* values clash.
    """
    for cols in key_sets(rows.spec):
        tuples = [t for t in zip(*(rows.data[c] for c in cols), strict=True) if None not in t]
        dups = [t for t, n in Counter(tuples).items() if n > 1]
        stored = existing(cols, sorted({t[0] for t in tuples}, key=str)) if tuples else set()
        dups += [t for t in dict.fromkeys(tuples) if t in stored]
        if dups:
            return cols, list(dict.fromkeys(dups))
    return None


def conflict_error(spec: LayerSpec, cols: Sequence[str], dups: Sequence[tuple[Any, ...]]) -> ConflictError:
    """The ConflictError for a unique violation: names the layer, the key and the clashing values."""
    shown = ", ".join("(" + ", ".join(map(str, t)) + ")" for t in dups[:_SHOW])
    more = f" and {len(dups) - _SHOW} more" if len(dups) > _SHOW else ""
    return ConflictError(
        f"layer {spec.name!r}: duplicate ({', '.join(cols)}) {shown}{more}; nothing was written",
        details={"layer": spec.name, "columns": list(cols), "duplicates": [list(map(str, t)) for t in dups[:50]]},
    )


def series_from_values(col: Column, values: Sequence[Any]) -> pd.Series:
    """A column read back from a store as its contract dtype; datetimes may come as ISO text or datetime."""
    if col.type in ("text", "json"):
        return pd.Series(list(values), dtype=object)
    if col.type == "datetime":
        stamps = pd.to_datetime(pd.Series(list(values), dtype=object), utc=True, format="ISO8601")
        return stamps.astype("datetime64[ns, UTC]")
    if col.type == "float":
        return pd.Series([math.nan if v is None else v for v in values], dtype="float64")
    if col.type == "int":
        return pd.Series(pd.array(list(values), dtype="Int64"))
    return pd.Series(pd.array(list(values), dtype="boolean"))


def frame_from_columns(
    spec: LayerSpec,
    fids: Sequence[int],
    data: Mapping[str, Sequence[Any]],
    geometry: np.ndarray | None,
    *,
    epsg: int,
) -> pd.DataFrame:
    """The frame handed to callers: ``fid`` (int64), the requested columns in spec order, then geometry."""
    columns: dict[str, pd.Series] = {FID: pd.Series(list(fids), dtype="int64")}
    for name, values in data.items():
        columns[name] = series_from_values(spec.column(name), values)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(fids)))
    if geometry is None:
        return frame
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=epsg), crs=epsg)

