"""Write a layer frame to GeoJSON, GeoPackage, Shapefile or CSV (what QGIS and Excel users open).

Value conversions per format (the store's logical types do not all exist in every format):

* ``json`` columns become JSON text everywhere (no format has a JSON field type GDAL can round trip);
* ``datetime`` stays a date-time in GeoPackage, and becomes ISO 8601 UTC text in GeoJSON, Shapefile
  and CSV (Shapefile only has dates, CSV has no types);
* CSV: ``wkt`` column for lines and polygons, ``lon``/``lat`` columns when every geometry is a
  point; text is written UTF-8 with a BOM so Excel on Chinese Windows shows 中文 correctly;
* Shapefile: field names are cut to 10 characters by :func:`shapefile_field_names` (below), text
  is UTF-8 with a ``.cpg`` file, and a layer must have one geometry family; an output name ending
  in ``.zip`` gets the shapefile's parts in one zip file.
"""

from __future__ import annotations

import json
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely

from gridmap import schema
from gridmap.errors import ValidationError

EXPORT_FORMATS: tuple[str, ...] = ("geojson", "gpkg", "shp", "csv")
_DRIVERS = {"geojson": "GeoJSON", "gpkg": "GPKG", "shp": "ESRI Shapefile"}
#: GeoPackage 1.3, not the 1.4 of the GDAL inside pyogrio's wheel: GDAL 3.6 (Debian 12, QGIS 3.22)
#: warns that a 1.4 file "may only be partially supported", and 1.4 adds nothing we write.
GPKG_DATASET_OPTIONS = {"VERSION": "1.3"}
_OGR_TYPES = {
    "MULTIPOLYGON": "MultiPolygon",
    "LINESTRING": "LineString",
    "MULTILINESTRING": "MultiLineString",
    "POINT": "Point",
}
SHAPEFILE_NAME_LIMIT = 10
#: Longest text a DBF field holds (bytes); longer values are cut by GDAL.
SHAPEFILE_TEXT_BYTES = 254
#: Sidecar files of a shapefile (removed with the .shp when a write fails).
_SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg")


def shapefile_field_names(columns: Sequence[str]) -> dict[str, str]:
    """Deterministic 10-character DBF names for ``columns`` (in schema order).

    Rule: a column keeps its first 10 characters; when that name is already taken by an earlier
    column, it takes its first 8 characters plus the lowest free two-digit counter (``01``,
    ``02``...). Because schema order is fixed, the same layer always gets the same names, e.g.
    buildings: ``households`` stays, ``households_estimated`` becomes ``househol01``. The
    importer accepts these names as aliases, so shapefiles round trip.
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for col in columns:
        name = col[:SHAPEFILE_NAME_LIMIT]
        counter = 0
        while name.lower() in taken:
            counter += 1
            name = f"{col[: SHAPEFILE_NAME_LIMIT - 2]}{counter:02d}"
        taken.add(name.lower())
        out[col] = name
    return out


def _json_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _iso(series: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(series, utc=True)
    return pd.Series([None if pd.isna(t) else t.isoformat() for t in stamps], index=series.index, dtype=object)


def file_columns(frame: pd.DataFrame, spec: schema.LayerSpec, fmt: str) -> pd.DataFrame:
    """The spec's columns of ``frame`` converted to what ``fmt`` can hold (see module docstring)."""
    out = pd.DataFrame(index=frame.index)
    for col in spec.columns:
        values = frame[col.name] if col.name in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        if col.type == "json":
            out[col.name] = pd.Series([_json_text(v) for v in values], index=frame.index, dtype=object)
        elif col.type == "datetime" and fmt != "gpkg":
            out[col.name] = _iso(values)
        elif col.type == "bool" and fmt == "csv":
            out[col.name] = values.map(lambda v: None if pd.isna(v) else ("true" if v else "false"))
        else:
            out[col.name] = values
    return out


def _csv_geometry(geoms: gpd.GeoSeries) -> pd.DataFrame:
    valid = geoms.notna() & ~geoms.is_empty
    if len(geoms) and (geoms[valid].geom_type == "Point").all():
        return pd.DataFrame(
            {
                "lon": np.where(valid, geoms.x.where(valid), np.nan),
                "lat": np.where(valid, geoms.y.where(valid), np.nan),
            },
            index=geoms.index,
        )
    return pd.DataFrame({"wkt": shapely.to_wkt(np.asarray(geoms.to_numpy()), rounding_precision=-1)}, index=geoms.index)


def _geometry_type_for(spec: schema.LayerSpec, geoms: gpd.GeoSeries, fmt: str, out: Path) -> str:
    if spec.geometry_type != "GEOMETRY":
        return _OGR_TYPES[str(spec.geometry_type)]
    families = {"Polygon" if t in {"Polygon", "MultiPolygon"} else str(t) for t in geoms.dropna().geom_type}
    if fmt == "shp" and len(families) > 1:
        raise ValidationError(
            f"{out}: a shapefile holds one geometry type, but layer {spec.name} has {', '.join(sorted(families))}; "
            "export it as gpkg or geojson",
            code="unsupported_export",
        )
    if fmt == "shp" and families:
        return families.pop()  # the shapefile Polygon type holds multi-polygons too
    return "Unknown"  # keep each feature's own type (Polygon stays Polygon, Point stays Point)


def write_frame(frame: pd.DataFrame, spec: schema.LayerSpec, fmt: str, out: str | Path) -> int:
    """Write the spec's columns of ``frame`` (geometry in lon/lat) to ``out``; returns the row count.

    ``shp`` to a ``.zip`` name writes the shapefile's parts into one zip (what e-mail and web uploads
    take). A write that fails removes what it had started, so no half-written file is left behind.
    """
    path = Path(out)
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if fmt == "shp" and path.suffix.lower() == ".zip":
        return _write_zipped_shapefile(frame, spec, path)
    created = [] if path.exists() else [path, *(path.with_suffix(s) for s in _SHAPEFILE_PARTS if fmt == "shp")]
    try:
        return _write_file(frame, spec, fmt, path)
    except Exception:
        for part in created:
            part.unlink(missing_ok=True)
        raise


def _write_zipped_shapefile(frame: pd.DataFrame, spec: schema.LayerSpec, path: Path) -> int:
    """The shapefile ``<stem>.shp/.shx/.dbf/.prj/.cpg`` written in a temp folder, then zipped to ``path``."""
    with tempfile.TemporaryDirectory(prefix="gridmap-shp-") as tmp:
        shp = Path(tmp) / f"{path.stem}.shp"
        rows = _write_file(frame, spec, "shp", shp)
        partial = path.with_name(path.name + ".part")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for part in sorted(Path(tmp).iterdir()):
                bundle.write(part, arcname=part.name)
        partial.replace(path)  # the zip appears whole or not at all
    return rows


def shapefile_cut_fields(frame: pd.DataFrame, spec: schema.LayerSpec) -> dict[str, int]:
    """Column -> number of values longer than a DBF text field holds (254 bytes), which a shapefile cuts."""
    table = file_columns(frame, spec, "shp")
    out: dict[str, int] = {}
    for col in table.columns:
        long = sum(1 for v in table[col] if isinstance(v, str) and len(v.encode("utf-8")) > SHAPEFILE_TEXT_BYTES)
        if long:
            out[col] = long
    return out


def _write_file(frame: pd.DataFrame, spec: schema.LayerSpec, fmt: str, path: Path) -> int:
    table = file_columns(frame, spec, fmt)
    has_geometry = spec.geometry_type is not None and isinstance(frame, gpd.GeoDataFrame)
    if fmt == "csv":
        if has_geometry:
            table = pd.concat([table, _csv_geometry(frame.geometry)], axis=1)
        table.to_csv(path, index=False, encoding="utf-8-sig")
        return len(table)
    if not has_geometry and fmt == "shp":
        raise ValidationError(f"{path}: layer {spec.name} has no geometry; export it as csv or gpkg")
    kwargs: dict[str, Any] = {"driver": _DRIVERS[fmt], "layer": spec.name}
    if has_geometry:
        geoms = frame.geometry
        kwargs["geometry_type"] = _geometry_type_for(spec, geoms, fmt, path)
        kwargs["promote_to_multi"] = kwargs["geometry_type"] == "MultiPolygon"
        data = gpd.GeoDataFrame(table, geometry=geoms.to_numpy(), crs=frame.crs)
    else:
        data = table
    if fmt == "shp":
        data = data.rename(columns=shapefile_field_names(spec.column_names))
        kwargs["encoding"] = "UTF-8"
    if fmt == "gpkg":
        kwargs["dataset_options"] = GPKG_DATASET_OPTIONS
    if fmt == "geojson":
        # GDAL's default of 15 decimals drops the last bit of some doubles (114.00000000000001 is
        # written as 114), so a grid vertex would no longer be the boundary's own; 17 significant
        # figures round-trip every double exactly (issue 16).
        kwargs["layer_options"] = {"SIGNIFICANT_FIGURES": "17"}
        if path.exists():
            path.unlink()  # the GeoJSON driver refuses to overwrite
    try:
        with warnings.catch_warnings():  # cut DBF values are reported by shapefile_cut_fields instead
            warnings.filterwarnings("ignore", message=r"Value .* has been truncated to 254", category=RuntimeWarning)
            pyogrio.write_dataframe(data, path, **kwargs)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError) as exc:
        raise ValidationError(f"{path}: cannot write {fmt}: {exc}", code="unwritable_file") from None
    return len(data)
