"""Deliver a partition as a file and certify the file itself, not the geometry in memory (issue 16).

The planner receives bytes, and every step between the certified geometry and those bytes
(reprojection, multipart handling, the GeoJSON/GeoPackage/Shapefile/CSV writer, coordinate
precision) could change them. So :func:`write_certified_grids`:

1. puts the grids in the output CRS: the boundary file's own CRS (so the grids' outer edges are
   the boundary's own vertices there), except CSV, which is always EPSG:4326 lon/lat WKT (a CSV
   has no place to declare a CRS);
2. writes them into a private temporary folder next to ``out``;
3. reads that file back with gridmap's own file reader and runs the coverage certificate on it,
   in the file's CRS (``certified: "<name> as written"``);
4. compares the written grids with the computed ones (same codes, households and shapes up to
   the certificate's tolerance); a difference is a :class:`DeliveryError` and nothing is left;
5. only then moves the file (all parts of a shapefile) to ``out``.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.crs import working_crs_for
from gridmap.errors import GridmapError, ValidationError
from gridmap.io.readers import read_source
from gridmap.io.writers import write_frame
from gridmap.partition.certificate.checks import DEFAULT_TOLERANCE_M2, check_partition, projected
from gridmap.partition.certificate.report import Certificate
from gridmap.partition.engine import PartitionResult, stored_boundary
from gridmap.partition.grids.exact_edges import frame_with_exact_outer_edges
from gridmap.schema import GRIDS_SPEC

FORMATS = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".shp": "shp", ".csv": "csv"}
#: Shapefile parts moved with the .shp.
_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")
CODE = GRIDS_SPEC.column("code").name
HOUSEHOLDS = GRIDS_SPEC.column("households").name


class DeliveryError(GridmapError):
    """The written file does not hold the grids that were computed and certified."""

    http_status = 500
    code = "delivery_mismatch"


@dataclass(frozen=True)
class Delivered:
    """The file written, its CRS, and the certificate of the file as read back."""

    path: Path
    crs: str
    certificate: Certificate
    rows: int


def format_of(out: Path) -> str:
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValidationError(f"{out}: unknown output type {out.suffix!r}; use .gpkg, .geojson, .shp or .csv")
    return fmt


def grids_for_output(
    result: PartitionResult, boundary: gpd.GeoDataFrame, fmt: str
) -> tuple[gpd.GeoDataFrame, BaseGeometry]:
    """The grids in the output CRS with outer edges on the boundary's own vertices, and that boundary."""
    source = pyproj.CRS.from_user_input(boundary.crs)
    target = pyproj.CRS.from_epsg(4326) if fmt == "csv" else source
    parent = shapely.union_all(np.asarray(boundary.geometry.values, dtype=object))
    if not source.equals(target):  # a projected boundary's edges are straight in metres: follow them
        parent = stored_boundary(parent, source, 4326)
    grids = result.grids
    if not pyproj.CRS.from_user_input(grids.crs).equals(target):
        grids = frame_with_exact_outer_edges(grids.to_crs(target), parent)
    return grids, parent


def read_back(path: Path) -> gpd.GeoDataFrame:
    """The grids file as gridmap reads any file (CSV: lon/lat WKT, EPSG:4326)."""
    source = read_source(path)
    if source.geometries is None:
        raise DeliveryError(f"{path}: the written grids file has no geometry")
    bad = [i + 1 for i, g in enumerate(source.geometries) if g is None]
    if bad:
        raise DeliveryError(f"{path}: features {bad[:10]} of the written file have no readable geometry")
    crs = source.crs or "EPSG:4326"
    return gpd.GeoDataFrame(source.frame, geometry=list(source.geometries), crs=crs)


def mismatches(
    written: gpd.GeoDataFrame, computed: gpd.GeoDataFrame, *, tolerance_m2: float = DEFAULT_TOLERANCE_M2
) -> list[str]:
    """What differs between the written and the computed grids (empty when they agree)."""
    if len(written) != len(computed):
        return [f"{len(written)} grids written, {len(computed)} computed"]
    problems: list[str] = []
    w_codes = [str(c) for c in written[CODE]] if CODE in written.columns else []
    c_codes = [str(c) for c in computed[CODE]]
    if w_codes != c_codes:
        problems.append("grid codes differ or are out of order")
    if HOUSEHOLDS in written.columns:
        w_hh = pd.to_numeric(written[HOUSEHOLDS], errors="coerce").fillna(-1).astype(int).tolist()
        if w_hh != [int(h) for h in computed[HOUSEHOLDS]]:
            problems.append("households differ")
    crs = working_crs_for(computed.to_crs(4326))
    w = np.asarray(projected(written.to_crs(computed.crs), crs).geometry.values, dtype=object)
    c = np.asarray(projected(computed, crs).geometry.values, dtype=object)
    diff = np.asarray(shapely.area(shapely.symmetric_difference(shapely.make_valid(w), c)), dtype=float)
    for i in np.flatnonzero(diff > tolerance_m2).tolist():
        problems.append(f"grid {c_codes[i]}: the written shape differs by {diff[i]:.1f} m²")
    return problems


def write_certified_grids(
    result: PartitionResult,
    out: Path,
    boundary: gpd.GeoDataFrame,
    *,
    allow_straddling: bool = False,
) -> Delivered:
    """Write the grids to ``out``, certify the file as read back, and only then put it in place."""
    fmt = format_of(out)
    grids, parent = grids_for_output(result, boundary, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        staged = staging / out.name
        rows = write_frame(grids, GRIDS_SPEC, fmt, staged)
        written = read_back(staged)
        certificate = check_partition(
            written, parent, buildings=result.buildings, band=result.band, allow_straddling=allow_straddling,
            certified=f"{out.name} as written", source=str(out),
        )  # fmt: skip
        problems = mismatches(written, grids)
        if problems:
            raise DeliveryError(
                f"{out}: the written file does not hold the computed grids ({'; '.join(problems[:5])});"
                " nothing was written",
                details=problems,
            )
        for part in sorted(staging.iterdir()):
            shutil.move(str(part), out.with_suffix(part.suffix) if fmt == "shp" else out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Delivered(out, pyproj.CRS.from_user_input(grids.crs).to_string(), certificate, rows)


__all__ = ["FORMATS", "Delivered", "DeliveryError", "format_of", "mismatches", "read_back", "write_certified_grids"]
