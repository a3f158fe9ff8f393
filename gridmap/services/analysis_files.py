"""File mode of the analyses: incidents (and grids, buildings) from files, results to GeoJSON.

Why a file mode: an analyst with an export from another system (a CSV of 12345 hotline cases
with lon/lat, a GeoJSON of grids from the planning office) can test for hotspots without a
store. Files are read by ``gridmap.io.readers`` (GeoJSON, GeoPackage, Shapefile, zip, CSV with
lon/lat columns) and converted to lon/lat WGS84; ``crs`` overrides what a file declares
(e.g. ``gcj02`` for coordinates copied from AMap).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from gridmap.analysis.cells import (
    Cells,
    CellSpec,
    cell_spec_from_text,
    cells_from_communities,
    cells_from_grids,
    h3_cells_from_area,
    households_from_buildings,
    square_cells_from_area,
    study_area_from_points,
    with_households,
)
from gridmap.analysis.emerging import EmergingResult, emerging_from_incidents
from gridmap.analysis.hotspots import HotspotOptions, HotspotResult, hotspots_from_incidents
from gridmap.analysis.incident_input import TIME_COLUMN, filter_incidents, incident_points, incident_times
from gridmap.crs import WGS84, transform_geometries
from gridmap.errors import ValidationError
from gridmap.io.prepare import crs_of_source
from gridmap.io.readers import read_source


def layer_from_file(path: str | Path, *, what: str, crs: str | None = None) -> gpd.GeoDataFrame:
    """A file's features as a lon/lat (EPSG:4326) GeoDataFrame; a file without geometry is an error."""
    source = read_source(path)
    if source.geometries is None:
        raise ValidationError(f"{path}: the {what} file has no geometry (CSV needs lon/lat or wkt columns)")
    spec, _ = crs_of_source(source, crs)
    geoms = list(source.geometries)
    if spec.name != WGS84.name:
        present = [g for g in geoms if g is not None]
        moved = iter(transform_geometries(present, spec, WGS84)) if present else iter([])
        geoms = [None if g is None else next(moved) for g in geoms]
    return gpd.GeoDataFrame(source.frame, geometry=geoms, crs=4326)


def _cells_from_files(
    spec: CellSpec, points: gpd.GeoSeries, *, grids_path: str | Path | None, buildings_path: str | Path | None,
    per_households: bool, crs: str | None,
) -> Cells:
    grids = layer_from_file(grids_path, what="grids", crs=crs) if grids_path else None
    if spec.polygonal:
        if grids is None:
            raise ValidationError(f"--cells {spec} needs --grids FILE (the {spec.kind} polygons with a code column)")
        build = cells_from_grids if spec.kind == "grids" else cells_from_communities
        return build(grids, source=str(grids_path))
    area = study_area_from_points(points) if grids is None else shapely.union_all(grids.geometry.dropna().to_numpy())
    if spec.kind == "h3":
        assert spec.h3_resolution is not None
        cells = h3_cells_from_area(area, spec.h3_resolution, points=points)
    else:
        assert spec.size_m is not None
        cells = square_cells_from_area(area, spec.size_m, points=points)
    if per_households:
        if not buildings_path:
            raise ValidationError(
                f"--per-households with --cells {spec} needs --buildings FILE (households per building)")
        buildings = layer_from_file(buildings_path, what="buildings", crs=crs)
        cells = with_households(cells, households_from_buildings(cells, buildings))
    return cells


def _incidents_from_file(
    path: str | Path, *, crs: str | None, time_column: str | None, categories: Sequence[str] | None,
    start: Any, end: Any,
) -> gpd.GeoDataFrame:
    incidents = layer_from_file(path, what="incidents", crs=crs)
    if time_column:  # asked for: every value must parse, even without a window
        incident_times(incidents, time_column, source=str(path))
    frame = filter_incidents(incidents, source=str(path), categories=categories, start=start, end=end,
                             time_column=time_column or TIME_COLUMN)
    if frame.empty:
        raise ValidationError(
            f"{path}: no incident left after the filters (of {len(incidents)}: categories, --start/--end);"
            " all counts would be zero", code="constant_values")
    return gpd.GeoDataFrame(frame, geometry=incidents.geometry.name, crs=4326)


def hotspots_from_files(
    incidents_path: str | Path,
    *,
    cells: str,
    options: HotspotOptions | None = None,
    grids_path: str | Path | None = None,
    buildings_path: str | Path | None = None,
    time_column: str | None = None,
    categories: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    crs: str | None = None,
) -> HotspotResult:
    """``gridmap hotspots --incidents FILE``: hot and cold spots of the file's incidents on the cells."""
    opts = options or HotspotOptions()
    spec = cell_spec_from_text(cells)
    incidents = _incidents_from_file(incidents_path, crs=crs, time_column=time_column, categories=categories,
                                     start=start, end=end)
    points = incident_points(incidents, source=str(incidents_path))
    the_cells = _cells_from_files(spec, points, grids_path=grids_path, buildings_path=buildings_path,
                                  per_households=opts.per_households, crs=crs)
    result = hotspots_from_incidents(the_cells, incidents, opts, source=str(incidents_path))
    result.summary.update({"incidents_file": str(incidents_path),
                           "grids_file": None if not grids_path else str(grids_path)})
    return result


def emerging_from_files(
    incidents_path: str | Path,
    *,
    cells: str,
    period: str = "month",
    grids_path: str | Path | None = None,
    time_column: str | None = None,
    weight_column: str | None = None,
    permutations: int = 0,
    seed: int = 0,
    fdr: bool = True,
    crs: str | None = None,
) -> EmergingResult:
    """Emerging-hotspot categories of the file's incidents (needs their times)."""
    spec = cell_spec_from_text(cells)
    column = time_column or TIME_COLUMN
    incidents = _incidents_from_file(incidents_path, crs=crs, time_column=column, categories=None, start=None,
                                     end=None)
    points = incident_points(incidents, source=str(incidents_path))
    the_cells = _cells_from_files(spec, points, grids_path=grids_path, buildings_path=None, per_households=False,
                                  crs=crs)
    return emerging_from_incidents(the_cells, incidents, period=period, time_column=column,
                                   weight_column=weight_column, permutations=permutations, seed=seed, fdr=fdr,
                                   source=str(incidents_path))


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def geojson_from_frame(frame: gpd.GeoDataFrame, *, summary: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A FeatureCollection (lon/lat, RFC 7946) of ``frame``; NaN becomes null; ``summary`` as a foreign member."""
    data = json.loads(frame.to_crs(4326).to_json(na="null", drop_id=True, to_wgs84=False))
    data.pop("crs", None)
    if summary is not None:
        data["gridmap"] = _clean(dict(summary))
    return dict(_clean(data))


def write_geojson(frame: gpd.GeoDataFrame, path: str | Path, *, summary: Mapping[str, Any] | None = None) -> int:
    """Write ``frame`` as GeoJSON (UTF-8, Chinese kept readable); returns the feature count."""
    out = Path(path)
    if out.suffix.lower() not in (".geojson", ".json"):
        raise ValidationError(f"--out {out}: write a .geojson (or .json) file")
    try:
        out.write_text(json.dumps(geojson_from_frame(frame, summary=summary), ensure_ascii=False), encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"--out {out}: cannot write: {exc.strerror}", code="unwritable_file") from None
    return len(frame)
