"""``gridmap partition`` (file mode): partition one community from files into grids.

Reads the community boundary, roads and buildings (and optionally estates and units) from any file
gridmap reads (GeoJSON, GeoPackage, Shapefile, zipped Shapefile, CSV with geometry), runs
``partition.engine.partition_community`` and writes the grids (format from the --out suffix), the
JSON report (--report) and a Folium preview (--map). The grids file is certified *as written*:
it is read back and the coverage certificate runs on it (``services.delivery``). The exit status
is 0 when that certificate holds, 1 when the grids were written but a check failed (e.g. a grid
out of band), 2 when the input is unusable, and non-zero with nothing written when the written
file does not hold the computed grids.

Store mode (``--community CODE | --all [--store URL] [--commit] [--executor SPEC]``) reads the
communities from a store, fans the work out through an executor (serial, local:N, dask://HOST:PORT)
and, with --commit, writes one *staged* generation per community (``gridmap generations`` approves
and activates them). Without --commit it is a dry run that changes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import pyproj

from gridmap.codes import PROVISIONAL_COMMUNITY_CODE, PROVISIONAL_COMMUNITY_NAME
from gridmap.config import BAND_PRESETS, Settings
from gridmap.errors import ValidationError
from gridmap.schema import AREAS_SPEC
from gridmap.services.delivery import Delivered, DeliveryError, format_of, write_certified_grids
from gridmap.services.partitioning import HOUSEHOLDS, Band, PartitionResult, partition_community, read_source

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_OUT = click.Path(dir_okay=False, path_type=Path)
_SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")
CODE = AREAS_SPEC.column("code").name
NAME = AREAS_SPEC.column("name").name


def layer_from_file(path: Path, *, what: str) -> gpd.GeoDataFrame:
    """A GeoDataFrame from any file gridmap reads; the file must declare its CRS."""
    source = read_source(path)
    if source.geometries is None:
        raise ValidationError(f"{path}: the {what} file has no geometry column")
    if source.crs is None:
        raise ValidationError(f"{path}: the {what} file declares no CRS (save it with one, e.g. EPSG:4326)")
    try:
        crs = pyproj.CRS.from_user_input(source.crs)
    except pyproj.exceptions.CRSError:
        raise ValidationError(f"{path}: {source.crs!r} is not a CRS pyproj understands") from None
    missing = [i for i, g in enumerate(source.geometries) if g is None]
    if missing:
        raise ValidationError(
            f"{path}: {len(missing)} {what} feature(s) have no readable geometry (rows {missing[:10]});"
            " fix them with `gridmap import --fix` or in QGIS"
        )
    return gpd.GeoDataFrame(source.frame, geometry=list(source.geometries), crs=crs)


def band_from_options(settings: Settings, preset: str | None, band_min: int | None, band_max: int | None) -> Band:
    """The preset's band (``--band`` or the configured one) with --min/--max overriding its bounds;
    the target stays the preset's when it lies inside, else halfway."""
    chosen = BAND_PRESETS[preset] if preset else settings.household_band
    lo = chosen.min_households if band_min is None else band_min
    hi = chosen.max_households if band_max is None else band_max
    if lo > hi:
        raise ValidationError(f"--min ({lo}) is greater than --max ({hi}): the band must satisfy min <= max")
    target = chosen.target_households if lo <= chosen.target_households <= hi else (lo + hi) // 2
    return Band(lo, hi, target)


def _community_identity(boundary: gpd.GeoDataFrame, path: Path, code: str | None, name: str | None) -> tuple[str, str]:
    """Community code and name from the options, else from the boundary's code/name columns, else
    provisional ones (a what-if on a boundary drawn in QGIS has no code yet), with a warning."""
    if code is None and CODE in boundary.columns and boundary[CODE].nunique() == 1:
        code = str(boundary[CODE].iloc[0])
    if name is None and NAME in boundary.columns and boundary[NAME].nunique() == 1:
        name = str(boundary[NAME].iloc[0])
    if code is None:
        code = PROVISIONAL_COMMUNITY_CODE
        click.echo(
            f"warning: {path} gives no community code, so the grids are numbered provisionally"
            f" ({code}001, {code}002, ...); give --code CODE (12 digits: county + street + community,"
            f" e.g. 410611001002) or a '{CODE}' column in the boundary file for the real grid codes",
            err=True,
        )
    if name is None:
        name = PROVISIONAL_COMMUNITY_NAME
        click.echo(
            f"warning: {path} gives no community name; the grids are named provisionally after {name!r}"
            f" ({name}第一网格, ...); give --name NAME or a '{NAME}' column in the boundary file",
            err=True,
        )
    return code, name


def _write_outputs(
    result: PartitionResult,
    boundary: gpd.GeoDataFrame,
    opts: dict[str, Any],
    title: str,
) -> Delivered:
    """Write --out and certify it as read back, then the report and the map (issue 16)."""
    out: Path = opts["out"]
    delivered = write_certified_grids(result, out, boundary, allow_straddling=opts["allow_straddling"])
    lost = {c.name for c in delivered.certificate.failed} - {c.name for c in result.certificate.failed}
    if lost:
        for suffix in (out.suffix, *(_SHAPEFILE_SIDECARS if out.suffix.lower() == ".shp" else ())):
            out.with_suffix(suffix).unlink(missing_ok=True)
        raise DeliveryError(
            f"{out}: the written file fails {', '.join(sorted(lost))}, which the computed grids pass;"
            " nothing was written",
            details=delivered.certificate.to_dict(),
        )
    if opts["report"] is not None:
        body = {
            "certificate": delivered.certificate.to_dict(),
            "certificate_in_memory": {"ok": result.certificate.ok,
                                      "failed": [c.name for c in result.certificate.failed]},
            "output": {"path": str(out), "crs": delivered.crs, "grids": delivered.rows},
            "report": result.report,
        }  # fmt: skip
        opts["report"].write_text(json.dumps(body, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    if opts["map_path"] is not None:
        from gridmap.portal.maps.assets import html_from_map, web_root
        from gridmap.services.partitioning import map_from_result

        html = html_from_map(map_from_result(result, title=title), static_url=(web_root() / "static").as_uri())
        opts["map_path"].write_text(html, encoding="utf-8")
    return delivered


def _summary(result: PartitionResult, delivered: Delivered) -> str:
    rep = result.report
    cert = delivered.certificate
    lines = [
        f"{rep['grids']['total']} grids ({rep['grids']['base']} base, {rep['grids']['dedicated']} dedicated),"
        f" {rep['households']} households, written to {delivered.path} ({delivered.crs})",
        f"in band {result.band.min}..{result.band.max}: {rep['share_in_band']}; certificate of {cert.certified}: "
        + ("ok" if cert.ok else "FAILED (" + ", ".join(c.name for c in cert.failed) + ")"),
    ]
    lines += [f"  {g['code']} {g['name']}: {g['reason']}" for g in rep["out_of_band"]]
    return "\n".join(lines)


@click.command("partition")
@click.option("--boundary", type=_FILE, help="File mode: community boundary (one polygon, or parts).")
@click.option("--roads", type=_FILE, help="File mode: road lines with road_class (or OSM highway).")
@click.option("--buildings", type=_FILE, help="File mode: buildings with a household count each.")
@click.option("--community", "store_community", metavar="CODE", help="Store mode: partition this community.")
@click.option("--all", "store_all", is_flag=True, help="Store mode: partition every community in the store.")
@click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings).")
@click.option("--commit", is_flag=True, help="Store mode: write staged generations (default: dry run).")
@click.option(
    "--executor",
    default="serial",
    show_default=True,
    metavar="SPEC",
    help="Store mode: serial, local:N or dask://HOST:PORT.",
)
@click.option("--json", "as_json", is_flag=True, help="Store mode: print the JSON report.")
@click.option("--households-column", default=HOUSEHOLDS, show_default=True, help="Column of household counts.")
@click.option("--estates", type=_FILE, help="Estate (小区) polygons kept whole where the band allows.")
@click.option("--units", type=_FILE, help="Units (school, hospital...) that may get dedicated grids.")
@click.option("--band", "preset", type=click.Choice(sorted(BAND_PRESETS)), help="Household band preset.")
@click.option("--min", "band_min", type=click.IntRange(min=0), help="Minimum households per grid.")
@click.option("--max", "band_max", type=click.IntRange(min=1), help="Maximum households per grid.")
@click.option("--grids", "n_grids", type=click.IntRange(min=1), help="Exact number of base grids (e.g. workers).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random generator.")
@click.option("--code", "community_code", help="12-digit community code (else the boundary's code column).")
@click.option("--name", "community_name", help="Community name (else the boundary's name column).")
@click.option("--out", type=_OUT, help="File mode: grids file: .gpkg, .geojson, .shp or .csv.")
@click.option("--report", type=_OUT, help="JSON report with the coverage certificate.")
@click.option("--map", "map_path", type=_OUT, help="HTML preview map.")
@click.option(
    "--allow-straddling",
    is_flag=True,
    help="Report buildings cut by grid edges as a warning instead of failing the certificate.",
)
@click.pass_obj
def partition_command(obj: Any, **opts: Any) -> None:
    """Partition communities into grids of a household band (file mode or store mode)."""
    settings: Settings = obj.settings
    if opts["store_community"] or opts["store_all"]:
        _store_mode(settings, opts)
        return
    missing = [f"--{k}" for k in ("boundary", "roads", "buildings", "out") if not opts[k]]
    if missing:
        raise ValidationError(
            f"file mode needs {', '.join(missing)} (or use store mode: --community CODE | --all [--store URL])"
        )
    band = band_from_options(settings, opts["preset"], opts["band_min"], opts["band_max"])
    format_of(opts["out"])  # an unknown --out type is refused before any work
    boundary = layer_from_file(opts["boundary"], what="boundary")
    code, name = _community_identity(boundary, opts["boundary"], opts["community_code"], opts["community_name"])
    buildings = layer_from_file(opts["buildings"], what="buildings")
    column = opts["households_column"]
    if column not in buildings.columns:
        raise ValidationError(
            f"{opts['buildings']}: no households column {column!r} (columns: {', '.join(map(str, buildings.columns))});"
            " name it with --households-column"
        )
    if column != HOUSEHOLDS:
        buildings = buildings.drop(columns=[HOUSEHOLDS], errors="ignore").rename(columns={column: HOUSEHOLDS})
    optional = {k: layer_from_file(opts[k], what=k) if opts[k] else None for k in ("estates", "units")}
    result = partition_community(
        boundary,
        layer_from_file(opts["roads"], what="roads"),
        buildings,
        community_code=code,
        community_name=name,
        band=band,
        settings=settings,
        estates=optional["estates"],
        units=optional["units"],
        n_grids=opts["n_grids"],
        seed=opts["seed"],
        sources={k: str(opts[k]) for k in ("boundary", "roads", "buildings", "estates", "units") if opts[k]},
        allow_straddling=opts["allow_straddling"],
    )
    delivered = _write_outputs(result, boundary, opts, name)
    click.echo(_summary(result, delivered))
    sys.exit(0 if delivered.certificate.ok else 1)


def _store_mode(settings: Settings, opts: dict[str, Any]) -> None:
    from rich.progress import Progress

    from gridmap.services.partitioning import community_codes, partition_store
    from gridmap.store import open_store

    if opts["store_community"] and opts["store_all"]:
        raise ValidationError("give --community CODE or --all, not both")
    stray = [f"--{k}" for k in ("boundary", "roads", "buildings", "estates", "units", "out") if opts[k]]
    if stray:
        raise ValidationError(f"store mode reads its inputs from the store; drop {', '.join(stray)}")
    explicit = opts["preset"] or opts["band_min"] is not None or opts["band_max"] is not None
    band = band_from_options(settings, opts["preset"], opts["band_min"], opts["band_max"]) if explicit else None
    store = open_store(opts["store_url"] or settings.store_url, settings)
    try:
        codes = [opts["store_community"]] if opts["store_community"] else community_codes(store)
        with Progress(transient=True, disable=opts["as_json"] or len(codes) < 2) as bar:
            task = bar.add_task("partition", total=len(codes))
            run = partition_store(
                store, settings, codes, band=band, n_grids=opts["n_grids"], seed=opts["seed"],
                commit=opts["commit"], executor=opts["executor"], actor="cli",
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
    finally:
        store.close()
    body = run.to_dict()
    if opts["report"] is not None:
        opts["report"].write_text(json.dumps(body, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    if opts["as_json"]:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))
    else:
        for outcome in run.outcomes:
            rep = outcome.result.report
            where = f"generation {outcome.generation_id}" if run.committed else "not written"
            verdict = "ok" if outcome.result.ok else "FAILED"
            click.echo(
                f"{outcome.code} {outcome.name}: {rep['grids']['total']} grids, {rep['households']} households,"
                f" in band {rep['share_in_band']}, certificate {verdict} ({where})"
            )
            for g in rep["out_of_band"]:
                click.echo(f"  {g['code']} {g['name']}: {g['reason']}")
        grids = sum(len(o.result.grids) for o in run.outcomes)
        verb = "staged" if run.committed else "dry run, nothing written:"
        click.echo(
            f"{verb} {grids} grids in {len(run.outcomes)} communities;"
            f" certificates ok: {sum(o.result.ok for o in run.outcomes)} of {len(run.outcomes)}"
        )
    sys.exit(0 if run.ok else 1)


def register(group: click.Group) -> None:
    group.add_command(partition_command)
