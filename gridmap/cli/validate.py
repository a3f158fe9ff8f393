"""``gridmap validate``: the coverage certificate of a grids file (hand-drawn or generated).

File mode reads the grids, the parent communities (one file may hold several; grids are matched
by their ``community_code`` column or else by geometry) and optionally the buildings, runs
``checks.check_partition`` and prints a summary or the JSON report. The exit status is 0 when
every check holds, 1 when any fails, 2 when the input itself is unusable.

Store mode (``--community CODE`` / ``--all --store URL``) is wired by the lead on top of
``gridmap.partition.checks.validate_community``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import pyproj

from gridmap.errors import ValidationError
from gridmap.io.readers import read_source
from gridmap.partition.checks import DEFAULT_TOLERANCE_M2, HOUSEHOLDS, check_partition
from gridmap.partition.problem import Band

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def layer_from_file(path: Path, *, crs: str | None, what: str) -> gpd.GeoDataFrame:
    """A GeoDataFrame from any file gridmap reads; undecodable geometries come in as None (and fail
    the geometry check) instead of aborting the whole read."""
    source = read_source(path)
    if source.geometries is None:
        raise ValidationError(f"{path}: the {what} file has no geometry column")
    declared = crs or source.crs
    if declared is None:
        raise ValidationError(f"{path}: the {what} file declares no CRS; pass --crs (e.g. --crs EPSG:4326)")
    try:
        parsed = pyproj.CRS.from_user_input(declared)
    except pyproj.exceptions.CRSError:
        raise ValidationError(f"{path}: {declared!r} is not a CRS pyproj understands") from None
    return gpd.GeoDataFrame(source.frame, geometry=list(source.geometries), crs=parsed)


def band_from_options(band_min: int | None, band_max: int | None, ctx_obj: Any) -> Band:
    """--min/--max (target halfway), or the configured preset when neither is given."""
    if band_min is None and band_max is None:
        settings = getattr(ctx_obj, "settings", None)  # the CliContext of the gridmap group
        if settings is None:
            raise ValidationError("give --min and --max households (no settings to take a band preset from)")
        preset = settings.household_band
        return Band(preset.min_households, preset.max_households, preset.target_households)
    if band_min is None or band_max is None:
        raise ValidationError("give both --min and --max households, or neither (to use the configured band)")
    return Band(band_min, band_max, (band_min + band_max) // 2)


@click.command("validate")
@click.option("--grids", "grids_path", type=_FILE, required=True, help="Grids file (GeoJSON, GeoPackage, Shapefile).")
@click.option("--parent", "parent_path", type=_FILE, required=True, help="Community boundary file (one or several).")
@click.option("--parent-code-column", default=None, help="Column of the parent file holding community codes.")
@click.option("--buildings", "buildings_path", type=_FILE, default=None, help="Buildings (footprints or points).")
@click.option("--min", "band_min", type=int, default=None, help="Band minimum, households per grid.")
@click.option("--max", "band_max", type=int, default=None, help="Band maximum, households per grid.")
@click.option("--households-column", default=HOUSEHOLDS, show_default=True, help="Households column.")
@click.option("--tolerance-m2", type=float, default=DEFAULT_TOLERANCE_M2, show_default=True,
              help="Gaps, overlaps and parts smaller than this many m² are noise.")  # fmt: skip
@click.option("--crs", default=None, help="CRS for files that declare none, e.g. EPSG:4326.")
@click.option("--json", "as_json", is_flag=True, help="Print the full JSON report instead of a summary.")
@click.pass_context
def validate_command(
    ctx: click.Context,
    grids_path: Path,
    parent_path: Path,
    parent_code_column: str | None,
    buildings_path: Path | None,
    band_min: int | None,
    band_max: int | None,
    households_column: str,
    tolerance_m2: float,
    crs: str | None,
    as_json: bool,
) -> None:
    """Check that grids tile their communities: no gaps, no overlaps, whole buildings, household band."""
    band = band_from_options(band_min, band_max, ctx.obj)
    grids = layer_from_file(grids_path, crs=crs, what="grids")
    parent = layer_from_file(parent_path, crs=crs, what="parent")
    buildings = layer_from_file(buildings_path, crs=crs, what="buildings") if buildings_path else None
    certificate = check_partition(grids, parent, buildings=buildings, band=band, households_column=households_column,
                                  tolerance_m2=tolerance_m2, parent_code_column=parent_code_column,
                                  source=str(grids_path))  # fmt: skip
    if as_json:
        report = certificate.to_dict()
        report["inputs"] = {"grids": str(grids_path), "parent": str(parent_path),
                            "buildings": str(buildings_path) if buildings_path else None,
                            "band": {"min": band.min, "max": band.max, "target": band.target}}  # fmt: skip
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(f"grids {grids_path} against {parent_path}, band {band.min}..{band.max} households")
        for line in certificate.summary():
            click.echo(line)
    if not certificate.ok:
        sys.exit(1)


def register(group: click.Group) -> None:
    group.add_command(validate_command)
