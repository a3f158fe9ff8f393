"""From a file to rows ready for a layer: columns mapped and typed, geometry checked and converted.

This is the pure half of an import (no store): everything that can be decided from the file
alone. Store-dependent checks (duplicates against stored codes, parents that must exist) and the
write itself live in :mod:`gridmap.services.importing`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridmap.config import Settings
from gridmap.crs import WGS84, CrsSpec, parse_crs, storage_crs, transform_geometries
from gridmap.crs.gauss_kruger import family_mismatch, gauss_kruger
from gridmap.errors import ValidationError
from gridmap.io import checks, columns, osm
from gridmap.io.checks import FeatureProblem, Repair
from gridmap.io.households import estimate_households
from gridmap.io.readers import SourceData, kind_from_path, read_source
from gridmap.model import RoadClass, UnitType, WorkerRole

#: Columns identifying a feature in messages, per import layer.
_LABEL_KEYS = {
    "roads": ("road_id", "name"),
    "buildings": ("building_id", "name", "road_name", "house_number"),
    "estates": ("estate_id", "name"),
    "units": ("unit_id", "name"),
    "workers": ("worker_id", "name"),
    "incidents": ("incident_id", "category"),
}
_AREA_LABEL_KEYS = ("code", "name")


@dataclass
class Prepared:
    """Rows for one layer, in the storage CRS, plus what was found on the way."""

    frame: pd.DataFrame  # GeoDataFrame for layers with geometry
    labels: columns.FeatureLabels  # one per row of ``frame``
    crs: CrsSpec
    features_read: int
    problems: list[FeatureProblem] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_for_layer(
    path: str | Path,
    layer: columns.ImportLayer,
    *,
    file_layer: str | None = None,
    column_map: Mapping[str, str] | None = None,
) -> SourceData:
    """Read ``path`` for ``layer``: .osm.pbf through pyrosm (roads, buildings), anything else as a file."""
    p = Path(path)
    if p.exists() and kind_from_path(p) == "osm":
        if layer.name == "roads":
            return osm.roads_from_pbf(p)
        if layer.name == "buildings":
            return osm.buildings_from_pbf(p)
        raise ValidationError(f"{p}: an OSM extract can fill the roads or buildings layer, not {layer.name}")
    prefer = (layer.name, layer.target, layer.name.rstrip("s"))
    return read_source(p, file_layer=file_layer, prefer_layers=prefer, column_map=column_map)


def crs_of_source(source: SourceData, crs_text: str | None) -> tuple[CrsSpec, list[str]]:
    """The CRS the coordinates are in: ``--crs`` if given, else the file's, else WGS84 (with a warning)."""
    if crs_text:
        try:
            return parse_crs(crs_text), []
        except ValidationError as exc:
            raise ValidationError(f"{source.path}: --crs {crs_text}: {exc.message}", code="unknown_crs") from None
    if source.crs is None:
        if source.kind in {"csv", "geojson"}:
            return WGS84, []  # lon/lat by convention (RFC 7946 for GeoJSON)
        if source.kind in {"shapefile", "zip"}:  # a survey file's metres read as degrees would be nonsense
            raise ValidationError(
                f"{source.path}: the shapefile has no .prj, so its coordinate system is unknown; add the .prj or "
                "give it with --crs (e.g. --crs EPSG:4547 for CGCS2000 / 3-degree Gauss-Krüger CM 114E, "
                "--crs EPSG:4490 for CGCS2000 lon/lat)",
                code="unknown_crs",
            )
        return WGS84, [f"{source.path}: the file declares no CRS; assumed WGS84 lon/lat"]
    try:
        return parse_crs(source.crs), []
    except ValidationError:
        pass
    try:
        epsg = pyproj.CRS.from_user_input(source.crs).to_epsg(min_confidence=70)
    except pyproj.exceptions.CRSError:
        epsg = None
    if epsg is None:
        raise ValidationError(
            f"{source.path}: the file's CRS cannot be identified ({source.crs[:120]}); give it with --crs, "
            "e.g. --crs EPSG:4547 or --crs cgcs2000",
            code="unknown_crs",
        )
    return parse_crs(f"EPSG:{epsg}"), []


_ROAD_CLASSES_TEXT = ", ".join(c.value for c in RoadClass) + " (or an OSM highway=* value such as primary, residential)"


def _layer_rules(layer: columns.ImportLayer, frame: pd.DataFrame, labels: Sequence[str]) -> list[FeatureProblem]:
    """Values that must come from a fixed list (road class, unit type, worker role)."""
    allowed: dict[str, tuple[str, set[str]]] = {
        "roads": ("road_class", {c.value for c in RoadClass} | set(osm.HIGHWAY_CLASSES)),
        "units": ("unit_type", {t.value for t in UnitType}),
        "workers": ("role", {r.value for r in WorkerRole}),
    }
    if layer.name not in allowed:
        return []
    col, values = allowed[layer.name]
    problems = []
    for row, value in enumerate(frame[col]):
        if value is not None and not pd.isna(value) and str(value).lower() not in values:
            shown = ", ".join(sorted(values)) if layer.name != "roads" else _ROAD_CLASSES_TEXT
            problems.append(
                FeatureProblem(
                    f"unknown_{col}", row, labels[row], f"{labels[row]}: {col} {value!r} is not one of: {shown}"
                )
            )
    if layer.name == "roads":
        frame[col] = pd.Series([_road_class(v) for v in frame[col]], dtype=object)
    return problems


def _road_class(value: Any) -> str | None:
    """A RoadClass value from a class name or an OSM highway tag; None when neither (reported apart)."""
    if value is None or pd.isna(value):
        return None
    text = str(value).strip().lower()
    cls = osm.road_class_from_highway(text)
    if cls is None and text in {c.value for c in RoadClass}:
        cls = RoadClass(text)
    return None if cls is None else cls.value


def _non_finite_problems(geoms: np.ndarray, labels: Sequence[str], crs: CrsSpec) -> list[FeatureProblem]:
    out = []
    for row, geom in enumerate(geoms):
        if geom is not None and not np.isfinite(shapely.get_coordinates(geom)).all():
            msg = f"{labels[row]}: coordinates cannot be converted from {crs.name}; is that really the file's CRS?"
            out.append(FeatureProblem("bad_coordinates", row, labels[row], msg))
    return out


def _check_gauss_kruger_family(source: SourceData, crs: CrsSpec, geoms: np.ndarray) -> None:
    """Refuse coordinates of the other CGCS2000 Gauss-Krüger family (zone number in X or not)."""
    declared = gauss_kruger(crs.epsg)
    present = [g for g in geoms if g is not None]
    if declared is None or not present:
        return
    why = family_mismatch(declared, shapely.get_coordinates(np.asarray(present, dtype=object))[:, 0])
    if why is not None:
        raise ValidationError(
            f"{source.path}: the coordinate system is {declared.label}, but {why}; fix the .prj or give the right "
            "one with --crs EPSG:CODE. Nothing was imported.",
            code="wrong_crs_family",
        )


def prepare_features(
    source: SourceData,
    layer: columns.ImportLayer,
    settings: Settings,
    *,
    crs: str | None = None,
    column_map: Mapping[str, str] | None = None,
    fix: bool = False,
) -> Prepared:
    """Map, type and check every feature of ``source`` for ``layer``; geometry ends in the storage CRS.

    Problems are collected, not raised, so the caller can report all of them at once.
    """
    mapping = columns.resolve_columns(source.columns, layer, column_map or {}, path=source.path)
    keys = _AREA_LABEL_KEYS if layer.level is not None else _LABEL_KEYS[layer.name]
    raw_labels = columns.feature_labels(source.frame.rename(columns={v: k for k, v in mapping.items()}), keys)
    frame, problems = columns.typed_columns(source.frame, layer, mapping, raw_labels)
    labels = columns.feature_labels(frame, keys)
    problems += columns.missing_value_problems(frame, layer.required, labels)
    problems += _layer_rules(layer, frame, labels)
    spec_crs, notes = crs_of_source(source, crs)
    prepared = Prepared(frame, labels, spec_crs, len(frame), problems, [], [*source.warnings, *notes])
    geometry_type = layer.spec.geometry_type
    if geometry_type is None:
        if source.has_geometry:
            prepared.warnings.append(f"{source.path}: layer {layer.name} has no geometry; the file's is ignored")
        return prepared
    if source.geometries is None:
        raise ValidationError(
            f"{source.path}: layer {layer.name} needs geometry but the file has none (a CSV needs lon/lat or "
            f"WKT columns; its columns are: {', '.join(source.columns)}; map them with --map lon=COL --map lat=COL)",
            code="missing_columns",
        )
    checked = checks.check_geometries(
        source.geometries, labels, geometry_type=geometry_type, layer=layer.name, issues=source.geometry_issues, fix=fix
    )
    prepared.repairs = checked.repairs
    bad = {p.row for p in checked.problems}
    usable = np.array([None if i in bad else g for i, g in enumerate(checked.geometries)], dtype=object)
    prepared.problems += checked.problems
    prepared.problems += checks.check_coordinates(
        usable, labels, claims_degrees=spec_crs.is_geographic, crs_label=spec_crs.name
    )
    _check_gauss_kruger_family(source, spec_crs, usable)
    target = storage_crs(settings)
    moved = usable if spec_crs == target else transform_geometries(usable, spec_crs, target)
    prepared.problems += _non_finite_problems(moved, labels, spec_crs)
    prepared.problems.sort(key=lambda p: (p.row, p.rule))
    prepared.frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(moved), crs=f"EPSG:{target.epsg}")
    if checked.dropped and not prepared.problems:
        keep = np.ones(len(frame), dtype=bool)
        keep[checked.dropped] = False
        prepared.frame = prepared.frame[keep].reset_index(drop=True)
        prepared.labels = labels.take(np.flatnonzero(keep).tolist())
    return prepared


def finish_geometries(prepared: Prepared, layer: columns.ImportLayer) -> None:
    """Storage shapes: polygons as MultiPolygons, multi-lines split into lines (labels follow)."""
    frame = prepared.frame
    if not isinstance(frame, gpd.GeoDataFrame):
        return
    geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
    if layer.spec.geometry_type == "MULTIPOLYGON":
        frame[frame.geometry.name] = checks.to_multipolygons(geoms)
    elif layer.spec.geometry_type == "LINESTRING":
        parts, rows = checks.explode_lines(geoms)
        exploded = frame.iloc[rows].reset_index(drop=True)
        prepared.frame = gpd.GeoDataFrame(exploded, geometry=gpd.GeoSeries(parts), crs=frame.crs)
        prepared.labels = prepared.labels.take(rows.tolist())


def add_households(prepared: Prepared, settings: Settings) -> tuple[int, int]:
    """Fill households / households_estimated / footprint_m2 / floors of a buildings frame.

    Returns (total households, buildings whose count is estimated).
    """
    frame = prepared.frame
    result = estimate_households(
        np.asarray(frame.geometry.to_numpy(), dtype=object),
        settings=settings,
        given=frame["households"],
        levels=frame["floors"].astype(object),
        building_types=frame["building_type"],
    )
    # A file exported by gridmap says which counts were estimates; keep that flag on re-import.
    flagged = frame["households_estimated"].fillna(False).to_numpy(dtype=bool)
    estimated = result.estimated.to_numpy(dtype=bool) | flagged
    frame["households"] = result.households.to_numpy()
    frame["households_estimated"] = pd.array(estimated, dtype="boolean")
    frame["footprint_m2"] = result.footprint_m2.to_numpy()
    frame["floors"] = result.floors.to_numpy()
    prepared.warnings += result.warnings
    return int(result.households.sum()), int(estimated.sum())
