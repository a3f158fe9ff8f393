"""Feature-level checks on imported geometries, and the repairs ``--fix`` is allowed to make.

Every check returns *all* offending features (a file with 40 bad polygons should be fixed in one
round, not 40), each as a :class:`FeatureProblem` naming the row, the feature and the rule.
Repairs happen only when the caller asks (``fix=True``) and each one is recorded, so an import
report can list exactly what was changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.io.readers import GeometryIssue

#: Geometry type names each storage geometry type accepts (multi-lines are split on import).
ACCEPTED_TYPES: dict[str, frozenset[str]] = {
    "MULTIPOLYGON": frozenset({"Polygon", "MultiPolygon"}),
    "LINESTRING": frozenset({"LineString", "MultiLineString"}),
    "MULTILINESTRING": frozenset({"LineString", "MultiLineString"}),
    "POINT": frozenset({"Point"}),
    "GEOMETRY": frozenset({"Polygon", "MultiPolygon", "Point"}),
}
_WHAT = {
    "MULTIPOLYGON": "polygons",
    "LINESTRING": "lines",
    "MULTILINESTRING": "lines",
    "POINT": "points",
    "GEOMETRY": "polygons or points",
}
_LOCATION = re.compile(r"\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)\s*\]")


@dataclass(frozen=True)
class FeatureProblem:
    """One feature breaking one rule. ``row`` is 0-based; messages say ``feature row+1``."""

    rule: str
    row: int
    feature: str
    message: str
    location: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Repair:
    """One geometry changed by ``--fix``: what was wrong and what was done."""

    row: int
    feature: str
    problem: str
    action: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _location(reason: str) -> tuple[float, float] | None:
    m = _LOCATION.search(reason)
    return (float(m.group(1)), float(m.group(2))) if m else None


def polygonal_part(geom: BaseGeometry) -> BaseGeometry | None:
    """The polygons of a geometry (what make_valid may wrap in a collection), or None when none."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in {"Polygon", "MultiPolygon"}]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return None if merged.is_empty else merged


def repaired_geometry(geom: BaseGeometry, *, geometry_type: str) -> BaseGeometry | None:
    """``make_valid`` (structure method: rings rebuilt, holes kept), keeping polygons for polygon layers."""
    fixed = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    if geometry_type in {"MULTIPOLYGON"} or (geometry_type == "GEOMETRY" and geom.geom_type != "Point"):
        return polygonal_part(fixed)
    if fixed.is_empty or not fixed.is_valid:
        return None
    return fixed


@dataclass
class GeometryCheck:
    geometries: np.ndarray
    problems: list[FeatureProblem]
    repairs: list[Repair]
    #: Rows ``--fix`` removed because nothing of the right type was left (0-based, sorted).
    dropped: list[int] = field(default_factory=list)


def _invalid(row: int, geom: BaseGeometry, label: str, out: GeometryCheck, *, geometry_type: str, fix: bool) -> None:
    """An invalid geometry: repaired (or dropped when it collapses to nothing) with fix, else a problem."""
    reason = shapely.is_valid_reason(geom)
    if not fix:
        msg = f"{label}: {reason}; run again with --fix to repair it"
        out.problems.append(FeatureProblem("invalid_geometry", row, label, msg, _location(reason)))
        return
    fixed = repaired_geometry(geom, geometry_type=geometry_type)
    if fixed is None:
        out.geometries[row] = None
        out.dropped.append(row)
        out.repairs.append(Repair(row, label, reason, "dropped: nothing valid of the layer's type remains"))
        return
    out.geometries[row] = fixed
    out.repairs.append(Repair(row, label, reason, "made valid (shapely.make_valid, polygonal parts kept)"))


def check_geometries(
    geometries: np.ndarray,
    labels: Sequence[str],
    *,
    geometry_type: str,
    layer: str,
    issues: Mapping[int, GeometryIssue] | None = None,
    fix: bool = False,
) -> GeometryCheck:
    """Undecodable, empty, wrongly typed and invalid geometries; repaired where ``fix`` allows.

    ``geometry_type`` is the storage type of the target layer (schema.LayerSpec.geometry_type).
    With ``fix``, a geometry that make_valid reduces to nothing of the layer's type (a building
    ring with two distinct points, say) is dropped, and the drop is listed with the repairs.
    """
    out = GeometryCheck(np.array(geometries, dtype=object, copy=True), [], [])
    accepted = ACCEPTED_TYPES[geometry_type]
    for row, issue in (issues or {}).items():
        if fix and issue.repaired is not None:
            out.geometries[row] = issue.repaired
            out.repairs.append(Repair(row, labels[row], issue.reason, "rebuilt from the stored coordinates"))
        else:
            msg = f"{labels[row]}: {issue.reason}"
            out.problems.append(FeatureProblem("unreadable_geometry", row, labels[row], msg))
    bad_rows = {p.row for p in out.problems}
    for row, geom in enumerate(out.geometries):
        if row in bad_rows:
            continue
        if geom is None or geom.is_empty:
            msg = f"{labels[row]}: geometry is empty"
            out.problems.append(FeatureProblem("empty_geometry", row, labels[row], msg))
        elif geom.geom_type not in accepted:
            msg = f"{labels[row]}: is a {geom.geom_type} but the {layer} layer needs {_WHAT[geometry_type]}"
            out.problems.append(FeatureProblem("wrong_geometry_type", row, labels[row], msg))
        elif not geom.is_valid:
            _invalid(row, geom, labels[row], out, geometry_type=geometry_type, fix=fix)
    out.problems.sort(key=lambda p: p.row)
    out.dropped.sort()
    return out


def _bounds_each(geometries: np.ndarray) -> np.ndarray:
    usable = np.array([g is not None and not g.is_empty for g in geometries], dtype=bool)
    bounds = np.full((len(geometries), 4), np.nan)
    if usable.any():
        bounds[usable] = shapely.bounds(np.asarray(geometries[usable]))
    return bounds


def check_coordinates(
    geometries: np.ndarray,
    labels: Sequence[str],
    *,
    claims_degrees: bool,
    crs_label: str,
) -> list[FeatureProblem]:
    """Swapped lon/lat, metres in a file that claims degrees, and degrees in a file that claims metres.

    Swapped: a "latitude" beyond ±90 whose pair fits when swapped, or a point outside mainland
    China that falls inside it once swapped. Metres: coordinates far beyond ±180/±90 (over 360).
    Anything else beyond the ranges is reported as out of range.
    """
    bounds = _bounds_each(geometries)
    problems: list[FeatureProblem] = []
    ok = ~np.isnan(bounds).any(axis=1)
    x_abs = np.maximum(np.abs(bounds[:, 0]), np.abs(bounds[:, 2]))
    y_abs = np.maximum(np.abs(bounds[:, 1]), np.abs(bounds[:, 3]))
    cx = (bounds[:, 0] + bounds[:, 2]) / 2
    cy = (bounds[:, 1] + bounds[:, 3]) / 2
    degree_like = ok & (x_abs <= 180) & (y_abs <= 90)
    if not claims_degrees:
        for row in np.flatnonzero(degree_like).tolist():
            msg = (
                f"{labels[row]}: coordinates look like degrees (x={cx[row]:.6f}, y={cy[row]:.6f}) but the file "
                f"claims {crs_label} (metres); give --crs wgs84 (or the CRS the data is really in)"
            )
            problems.append(FeatureProblem("degrees_not_metres", row, labels[row], msg, (cx[row], cy[row])))
        return problems
    swapped = ok & ~degree_like & (x_abs <= 90) & (y_abs <= 180)
    # Beyond ±90/±180 but small: broken degrees, not a projected CRS (those run to 10^5-10^7 m).
    out_of_range = ok & ~degree_like & ~swapped & (x_abs <= 360) & (y_abs <= 360)
    metres = ok & ~degree_like & ~swapped & ~out_of_range
    if degree_like.any():
        from gridmap.crs import in_mainland_china

        inside = np.asarray(in_mainland_china(cx, cy), dtype=bool)
        inside_swapped = np.asarray(in_mainland_china(cy, cx), dtype=bool)
        swapped |= degree_like & ~inside & inside_swapped
    for row in np.flatnonzero(swapped).tolist():
        msg = (
            f"{labels[row]}: longitude and latitude look swapped (x={cx[row]:.6f}, y={cy[row]:.6f} is valid "
            "only as lat, lon); swap the columns or the coordinate order"
        )
        problems.append(FeatureProblem("swapped_lon_lat", row, labels[row], msg, (cx[row], cy[row])))
    for row in np.flatnonzero(out_of_range).tolist():
        where = f"x={cx[row]:.6f}, y={cy[row]:.6f}"
        msg = f"{labels[row]}: coordinates out of range ({where}); longitude must be within ±180, latitude ±90"
        problems.append(FeatureProblem("coordinates_out_of_range", row, labels[row], msg, (cx[row], cy[row])))
    for row in np.flatnonzero(metres).tolist():
        msg = (
            f"{labels[row]}: coordinates look like metres (x={cx[row]:.1f}, y={cy[row]:.1f}) but the file claims "
            f"{crs_label} (degrees); give --crs with the projected CRS, e.g. --crs EPSG:4547"
        )
        problems.append(FeatureProblem("metres_not_degrees", row, labels[row], msg, (cx[row], cy[row])))
    problems.sort(key=lambda p: p.row)
    return problems


def explode_lines(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split multi-lines into lines (the roads layer holds LINESTRING); returns parts and source rows."""
    parts, rows = shapely.get_parts(np.asarray(geometries), return_index=True)
    return np.asarray(parts, dtype=object), np.asarray(rows, dtype=np.int64)


def to_multipolygons(geometries: np.ndarray) -> np.ndarray:
    """Polygons as MultiPolygons, the areas/estates/grids storage type."""
    out = np.array(geometries, dtype=object, copy=True)
    for i, geom in enumerate(out):
        if geom is not None and geom.geom_type == "Polygon":
            out[i] = shapely.MultiPolygon([geom])
    return out
