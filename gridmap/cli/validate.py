"""``gridmap validate``: the coverage certificate of a grids file (hand-drawn or generated).

File mode reads the grids, the parent communities (one file may hold several; grids are matched
by their ``community_code`` column or else by geometry) and optionally the buildings, runs
``checks.check_partition`` and prints a summary or the JSON report. The exit status is 0 when
every check holds, 1 when any fails, 2 when the input itself is unusable.

Store mode (``--community CODE`` / ``--all [--store URL]``) validates the active generation of
each community (or ``--generation ID``) with ``gridmap.services.validation``, by the same rules.
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
from gridmap.services.partitioning import Band, read_source
from gridmap.services.validation import DEFAULT_TOLERANCE_M2, HOUSEHOLDS, check_partition

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
@click.option("--grids", "grids_path", type=_FILE, default=None, help="Grids file (GeoJSON, GeoPackage, Shapefile).")
@click.option("--parent", "parent_path", type=_FILE, default=None, help="Community boundary file (one or several).")
@click.option("--community", "community_code", metavar="CODE", default=None, help="Store mode: one community.")
@click.option("--all", "all_communities", is_flag=True, help="Store mode: every community in the store.")
@click.option("--store", "store_url", metavar="URL", default=None, help="Store URL (default: settings).")
@click.option("--generation", "generation_id", type=int, default=None,
              help="Store mode: validate this generation instead of the active one.")
@click.option("--parent-code-column", default=None, help="Column of the parent file holding community codes.")
@click.option("--buildings", "buildings_path", type=_FILE, default=None, help="Buildings (footprints or points).")
@click.option("--min", "band_min", type=int, default=None, help="Band minimum, households per grid.")
@click.option("--max", "band_max", type=int, default=None, help="Band maximum, households per grid.")
@click.option("--households-column", default=HOUSEHOLDS, show_default=True, help="Households column.")
@click.option("--tolerance-m2", type=float, default=DEFAULT_TOLERANCE_M2, show_default=True,
              help="Gaps, overlaps and parts smaller than this many m² are noise.")  # fmt: skip
@click.option("--crs", default=None, help="CRS for files that declare none, e.g. EPSG:4326.")
@click.option("--json", "as_json", is_flag=True, help="Print the full JSON report instead of a summary.")
@click.option("--coverage-only", is_flag=True,
              help="Certify the tiling only (gaps, overlaps, containment, contiguity); households not checked.")
@click.pass_context
def validate_command(
    ctx: click.Context,
    grids_path: Path | None,
    parent_path: Path | None,
    community_code: str | None,
    all_communities: bool,
    store_url: str | None,
    generation_id: int | None,
    parent_code_column: str | None,
    buildings_path: Path | None,
    band_min: int | None,
    band_max: int | None,
    households_column: str,
    tolerance_m2: float,
    crs: str | None,
    as_json: bool,
    coverage_only: bool,
) -> None:
    """Check that grids tile their communities: no gaps, no overlaps, whole buildings, household band."""
    store_mode = community_code is not None or all_communities
    if store_mode:
        # without --min/--max every community is judged by its own band (urban 社区, rural 村)
        explicit = None if band_min is None and band_max is None else band_from_options(band_min, band_max, ctx.obj)
        if grids_path or parent_path or buildings_path:
            raise ValidationError("give either files (--grids/--parent) or store mode (--community/--all), not both")
        if community_code is not None and all_communities:
            raise ValidationError("give --community CODE or --all, not both")
        _validate_store(ctx.obj, store_url, community_code, generation_id, explicit, as_json, coverage_only)
        return
    band = None if coverage_only else band_from_options(band_min, band_max, ctx.obj)
    if grids_path is None or parent_path is None:
        raise ValidationError("file mode needs --grids FILE and --parent FILE (or use --community CODE / --all)")
    grids = layer_from_file(grids_path, crs=crs, what="grids")
    parent = layer_from_file(parent_path, crs=crs, what="parent")
    buildings = layer_from_file(buildings_path, crs=crs, what="buildings") if buildings_path else None
    certificate = check_partition(grids, parent, buildings=buildings, band=band, households_column=households_column,
                                  tolerance_m2=tolerance_m2, parent_code_column=parent_code_column,
                                  source=str(grids_path), coverage_only=coverage_only)  # fmt: skip
    band_text = "not checked" if band is None else f"{band.min}..{band.max} households"
    if as_json:
        report = certificate.to_dict()
        report["inputs"] = {"grids": str(grids_path), "parent": str(parent_path),
                            "buildings": str(buildings_path) if buildings_path else None,
                            "band": "not checked" if band is None else
                            {"min": band.min, "max": band.max, "target": band.target}}  # fmt: skip
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(f"grids {grids_path} against {parent_path}, band {band_text}")
        for line in certificate.summary():
            click.echo(line)
    if not certificate.ok:
        sys.exit(1)


def _validate_store(
    obj: Any,
    store_url: str | None,
    community_code: str | None,
    generation_id: int | None,
    band: Band | None,
    as_json: bool,
    coverage_only: bool = False,
) -> None:
    from gridmap.services.partitioning import community_codes
    from gridmap.services.validation import validate_store
    from gridmap.store import open_store

    store = open_store(store_url or obj.settings.store_url, obj.settings)
    try:
        codes = [community_code] if community_code is not None else community_codes(store)
        results = validate_store(store, codes, band=band, generation_id=generation_id, coverage_only=coverage_only)
    finally:
        store.close()
    ok = all(r.certificate.ok for r in results)
    if as_json:
        bands: Any = "per community (settings.band / rural_band)"
        if coverage_only:
            bands = "not checked"
        elif band is not None:
            bands = {"min": band.min, "max": band.max}
        report = {"ok": ok, "band": bands, "communities": [r.to_dict() for r in results]}
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for r in results:
            verdict = "OK" if r.certificate.ok else "FAILED"
            click.echo(f"community {r.community_code}, generation {r.generation_id}: {verdict}")
            for line in r.certificate.summary():
                click.echo(f"  {line}")
        click.echo(f"{sum(r.certificate.ok for r in results)} of {len(results)} communities pass")
    if not ok:
        sys.exit(1)


def register(group: click.Group) -> None:
    group.add_command(validate_command)
