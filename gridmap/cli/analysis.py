"""``gridmap hotspots``, ``gridmap coverage`` and ``gridmap stats``: the analyses from the command line.

Examples::

    gridmap hotspots --incidents cases.csv --cells h3:9 --permutations 999 --seed 1 --out hot.geojson
    gridmap hotspots --incidents cases.geojson --cells grids --grids grids.gpkg --per-households --out hot.geojson
    gridmap hotspots --store gpkg:///data/demo.gpkg --cells grids --area 410611001 --out hot.geojson
    gridmap hotspots --store gpkg:///data/demo.gpkg --cells communities --emerging --period month --out ehsa.geojson
    gridmap coverage --store gpkg:///data/demo.gpkg --distance 1000 --method network
    gridmap stats --store gpkg:///data/demo.gpkg --level community --out stats.csv

Commands stay thin: parse, call ``gridmap.services.analysis`` (store mode) or
``gridmap.services.analysis_files`` (file mode), print. Errors are one line and exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gridmap.errors import ValidationError

if TYPE_CHECKING:
    from gridmap.cli.main import CliContext

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_OUT = click.Path(dir_okay=False, path_type=Path)


def _echo_json(body: Any) -> None:
    click.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))


def _bins_line(summary: dict[str, Any]) -> str:
    bins = summary.get("bins", {})
    parts = [f"{label} {bins.get(str(b), 0)}" for b, label in ((3, "+3"), (2, "+2"), (1, "+1"), (0, "0"),
                                                                 (-1, "-1"), (-2, "-2"), (-3, "-3"))]
    return "bins: " + ", ".join(parts)


def _hotspot_options(**kw: Any) -> Any:
    from gridmap.services.analysis import HotspotOptions

    return HotspotOptions(method=kw["method"], permutations=kw["permutations"], seed=kw["seed"], fdr=not kw["no_fdr"],
                          per_households=kw["per_households"], weight_column=kw["weight"])


def _run_hotspots(obj: CliContext, kw: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(frame, summary) of the analysis the options ask for."""
    from gridmap.services import analysis as svc
    from gridmap.services import analysis_files as files
    from gridmap.store import open_store

    if kw["incidents"] is not None and kw["store_url"] is not None:
        raise ValidationError("give --incidents FILE (file mode) or --store URL (store mode), not both")
    if kw["incidents"] is not None:
        if kw["area"]:
            raise ValidationError("--area applies to store mode; in file mode the files are the area")
        if kw["emerging"]:
            result = files.emerging_from_files(
                kw["incidents"], cells=kw["cells"], period=kw["period"], grids_path=kw["grids"],
                time_column=kw["time_column"], weight_column=kw["weight"], permutations=kw["emerging_permutations"],
                seed=kw["seed"], fdr=not kw["no_fdr"], crs=kw["crs"])
            return result.frame, result.summary
        res = files.hotspots_from_files(
            kw["incidents"], cells=kw["cells"], options=_hotspot_options(**kw), grids_path=kw["grids"],
            buildings_path=kw["buildings"], time_column=kw["time_column"], categories=kw["category"] or None,
            start=kw["start"], end=kw["end"], crs=kw["crs"])
        return res.frame, res.summary
    if kw["grids"] is not None or kw["buildings"] is not None:
        raise ValidationError("--grids/--buildings are for file mode (--incidents FILE); the store has its own")
    store = open_store(obj.store_url(kw["store_url"]), obj.settings)
    try:
        if kw["emerging"]:
            em = svc.emerging_from_store(
                store, cells=kw["cells"], period=kw["period"], area_code=kw["area"] or "",
                categories=kw["category"] or None, start=kw["start"], end=kw["end"],
                permutations=kw["emerging_permutations"], seed=kw["seed"], fdr=not kw["no_fdr"])
            return em.frame, em.summary
        hs = svc.hotspots_from_store(store, cells=kw["cells"], options=_hotspot_options(**kw),
                                     area_code=kw["area"] or "", categories=kw["category"] or None,
                                     start=kw["start"], end=kw["end"])
        return hs.frame, hs.summary
    finally:
        store.close()


def _hotspots_command(group: click.Group) -> None:
    @group.command("hotspots")
    @click.option("--incidents", type=_FILE, default=None, help="File mode: incidents (GeoJSON, GeoPackage, CSV...).")
    @click.option("--store", "store_url", metavar="URL", default=None, help="Store mode (default without --incidents).")
    @click.option("--cells", default="grids", show_default=True, metavar="SPEC",
                  help="grids | communities | h3:RES | square:METRES")
    @click.option("--grids", type=_FILE, default=None, help="File mode: grid or community polygons (with code).")
    @click.option("--buildings", type=_FILE, default=None,
                  help="File mode: buildings with households (rates on h3/square).")
    @click.option("--weight", default=None, metavar="COLUMN", help="Sum this column instead of counting incidents.")
    @click.option("--time-column", default=None, metavar="COLUMN", help="Incident time column (default reported_at).")
    @click.option("--start", default=None, help="Only incidents reported at or after this date (ISO 8601).")
    @click.option("--end", default=None, help="Only incidents reported before this date (ISO 8601).")
    @click.option("--category", multiple=True, help="Only these categories (repeat the option).")
    @click.option("--per-households", is_flag=True, help="Rates per 100 households instead of counts.")
    @click.option("--method", type=click.Choice(["gi_star", "local_moran"]), default="gi_star", show_default=True)
    @click.option("--permutations", type=int, default=999, show_default=True, help="0 = normal approximation.")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of the permutations.")
    @click.option("--no-fdr", is_flag=True, help="Do not apply the False Discovery Rate correction.")
    @click.option("--area", default=None, metavar="CODE", help="Store mode: only this district/street/community/grid.")
    @click.option("--emerging", is_flag=True, help="Emerging-hotspot categories over time instead.")
    @click.option("--period", type=click.Choice(["week", "month"]), default="month", show_default=True)
    @click.option("--emerging-permutations", type=int, default=0, show_default=True,
                  help="Permutations per period for --emerging (0 = analytic, as ArcGIS).")
    @click.option("--crs", default=None, help="CRS of the files when they declare none or lie (e.g. gcj02).")
    @click.option("--out", type=_OUT, required=True, help="Output GeoJSON file.")
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    @click.pass_obj
    def hotspots(obj: CliContext, **kw: Any) -> None:
        """Getis-Ord Gi* / local Moran's I hotspots (or emerging hotspots) of incidents, to GeoJSON."""
        from gridmap.services.analysis_files import write_geojson

        frame, summary = _run_hotspots(obj, kw)
        n = write_geojson(frame, kw["out"], summary=summary)
        if kw["as_json"]:
            _echo_json({"ok": True, "out": str(kw["out"]), "features": n, "summary": summary})
            return
        click.echo(f"{n} cells ({summary.get('cells')}) -> {kw['out']}")
        if "categories" in summary and kw["emerging"]:
            click.echo("categories: " + ", ".join(f"{k} {v}" for k, v in summary["categories"].items()))
        else:
            click.echo(_bins_line(summary))
        for note in summary.get("notes", []):
            click.echo(f"note: {note}")


def _frame_text(frame: Any, title: str) -> str:
    if frame is None or len(frame) == 0:
        return f"{title}: none"
    return f"{title}:\n{frame.to_string(index=False, max_rows=50)}"


def _coverage_command(group: click.Group) -> None:
    @group.command("coverage")
    @click.option("--store", "store_url", metavar="URL", default=None, help="Store URL (default: settings).")
    @click.option("--area", default=None, metavar="CODE", help="Only this district/street/community/grid.")
    @click.option("--distance", "distance_m", type=float, default=1000.0, show_default=True,
                  help="Walking distance to a service centre, metres (15-minute circle ~ 1000 m).")
    @click.option("--method", type=click.Choice(["network", "line"]), default="network", show_default=True,
                  help="Along roads or in a straight line.")
    @click.option("--facilities", type=_FILE, default=None,
                  help="Measure from these places (worker bases, shelters...) instead of the service centres.")
    @click.option("--crs", default=None, help="CRS of --facilities when it declares none (e.g. gcj02).")
    @click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
    @click.option("--csv-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Also write each table as CSV into this folder.")
    @click.pass_obj
    def coverage(obj: CliContext, store_url: str | None, area: str | None, distance_m: float, method: str,
                 facilities: Path | None, crs: str | None, as_json: bool, csv_dir: Path | None) -> None:
        """Grids without a worker, households per worker (Gini), gaps, access to centres, key units."""
        from gridmap.services.analysis import coverage_from_store
        from gridmap.services.analysis_files import layer_from_file
        from gridmap.store import open_store

        places = layer_from_file(facilities, what="facilities", crs=crs) if facilities is not None else None
        store = open_store(obj.store_url(store_url), obj.settings)
        try:
            report = coverage_from_store(store, area_code=area or "", distance_m=distance_m, method=method,
                                         facilities=places)
        finally:
            store.close()
        tables = {"grids_without_worker": report.grids_without_worker, "streets": report.streets,
                  "uncovered": report.uncovered, "access_by_community": report.access_by_community,
                  "key_units": report.key_units}
        if csv_dir is not None:
            csv_dir.mkdir(parents=True, exist_ok=True)
            for name, frame in tables.items():
                frame.to_csv(csv_dir / f"{name}.csv", index=False, encoding="utf-8-sig")
        if as_json:
            _echo_json({"ok": True, **report.to_dict()})
            return
        access = report.access
        click.echo(f"households within {access['distance_m']:g} m ({access['method']}): "
                   f"{access['households_within']:,.0f} of {access['households']:,.0f} ({access['share_within']:.1%})")
        for name, frame in tables.items():
            click.echo(_frame_text(frame, name.replace("_", " ")))
        for note in report.notes:
            click.echo(f"note: {note}")


def _stats_command(group: click.Group) -> None:
    @group.command("stats")
    @click.option("--store", "store_url", metavar="URL", default=None, help="Store URL (default: settings).")
    @click.option("--level", type=click.Choice(["district", "street", "community", "grid", "estate"]),
                  default="community", show_default=True)
    @click.option("--area", default=None, metavar="CODE", help="Only the areas inside this code.")
    @click.option("--out", type=_OUT, default=None, help="Write the table: .csv, or .geojson with the outlines.")
    @click.option("--json", "as_json", is_flag=True, help="Print totals and rows as JSON.")
    @click.pass_obj
    def stats(obj: CliContext, store_url: str | None, level: str, area: str | None, out: Path | None,
              as_json: bool) -> None:
        """Buildings, dwellings, households, persons and incidents (by category and status) per area."""
        from gridmap.services.analysis import stats_from_store, summary_of
        from gridmap.services.analysis_files import write_geojson
        from gridmap.store import open_store

        store = open_store(obj.store_url(store_url), obj.settings)
        try:
            result = stats_from_store(store, obj.settings, level=level, area_code=area or "")
        finally:
            store.close()
        if out is not None:
            if out.suffix.lower() == ".csv":
                result.table().to_csv(out, index=False, encoding="utf-8-sig")
            else:
                write_geojson(result.frame, out, summary=summary_of(result))
        if as_json:
            _echo_json({"ok": True, **summary_of(result), "rows": result.table().to_dict("records")})
            return
        click.echo(result.table().to_string(index=False, max_rows=100))
        totals = summary_of(result)["totals"]
        click.echo("total: " + ", ".join(f"{k} {v:,.0f}" for k, v in totals.items() if ":" not in k))


def register(group: click.Group) -> None:
    """Add ``hotspots``, ``coverage`` and ``stats`` to the gridmap group."""
    _hotspots_command(group)
    _coverage_command(group)
    _stats_command(group)
