"""``gridmap import`` and ``gridmap export``: files in and out of a store.

Examples::

    gridmap import districts boundaries/qibin.geojson
    gridmap import streets jd.zip --crs cgcs2000 --map code=JDDM --map name=JDMC
    gridmap import buildings city.osm.pbf --fix            # OSM extract: footprints, levels, addresses
    gridmap import incidents cases.csv --crs gcj02 --json  # points copied from AMap
    gridmap export communities --format shp --out communities.shp

An import is all-or-nothing: on any error nothing is written, the message names the file, the
feature(s) and the rule, and the exit status is 2 (3 when the store is unavailable). ``--json``
prints the report (or the error with every offending feature) as JSON instead of text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gridmap.errors import GridmapError, ValidationError

if TYPE_CHECKING:
    from gridmap.cli.main import CliContext

FORMATS = ("geojson", "gpkg", "shp", "csv")
_FORMAT_OF_SUFFIX = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".shp": "shp", ".zip": "shp",
                     ".csv": "csv"}


def column_map_from_options(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("code=JDDM", "name=JDMC")`` -> ``{"code": "JDDM", "name": "JDMC"}``; a malformed pair is an error."""
    out: dict[str, str] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise ValidationError(f"--map {pair!r}: expected FIELD=COLUMN, e.g. --map code=JDDM")
        out[field.strip()] = column.strip()
    return out


def _echo_json(body: dict[str, Any]) -> None:
    click.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar on stderr (only on a terminal: logs and pipes stay clean)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description:>6}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        yield update


def _fail(exc: GridmapError, as_json: bool) -> None:
    if not as_json:
        raise exc  # the group prints "error: ..." and exits non-zero
    _echo_json({"ok": False, "error": exc.to_dict()})
    sys.exit(2 if exc.http_status < 500 else 3)


def _print_import(report: Any, as_json: bool) -> None:
    if as_json:
        _echo_json({"ok": True, "report": report.to_dict()})
        return
    click.echo(report.summary())
    for repair in report.repaired:
        click.echo(f"  repaired {repair['feature']}: {repair['problem']} -> {repair['action']}")


def _run_import(obj: CliContext, layer: str, file: str, options: dict[str, Any]) -> Any:
    from gridmap.cli.users import cli_actor
    from gridmap.services.importing import import_layer
    from gridmap.store import open_store

    store = open_store(obj.store_url(options["store_url"]), obj.settings)
    try:
        with _progress_bar(not options["as_json"]) as progress:
            return import_layer(
                store,
                obj.settings,
                layer,
                Path(file),
                crs=options["crs"],
                column_map=column_map_from_options(options["mappings"]),
                fix=options["fix"],
                file_layer=options["file_layer"],
                progress=progress,
                actor=cli_actor(),
            )
    finally:
        store.close()


def _run_export(obj: CliContext, layer: str, fmt: str | None, out: str, store_url: str | None,
                since: str | None = None, until: str | None = None) -> Any:
    from gridmap.services.exporting import export_layer
    from gridmap.store import open_store

    chosen = fmt or _FORMAT_OF_SUFFIX.get(Path(out).suffix.lower())
    if chosen is None:
        raise ValidationError(f"{out}: cannot tell the format from the name; give --format {'|'.join(FORMATS)}")
    if (since or until) and layer != "positions":
        raise ValidationError("--since/--until select a time window of the positions layer only")
    store = open_store(obj.store_url(store_url), obj.settings)
    try:
        if layer == "positions":  # worker positions: a time window, read day by day (gridmap.services.position_export)
            from gridmap.services.position_export import export_positions

            return export_positions(store, obj.settings, chosen, Path(out), since=since, until=until)
        return export_layer(store, layer, chosen, Path(out))
    finally:
        store.close()


def register(group: click.Group) -> None:
    """Add ``import`` and ``export`` to the gridmap group."""

    @group.command("import")
    @click.argument("layer", metavar="LAYER")
    @click.argument("file", metavar="FILE")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.option("--crs", default=None, help="CRS of the file's coordinates: EPSG:n, wgs84, cgcs2000, gcj02, bd09.")
    @click.option("--map", "mappings", multiple=True, metavar="FIELD=COLUMN", help="Which file column fills a field.")
    @click.option("--fix", is_flag=True, help="Repair invalid geometries (make_valid) and list each repair.")
    @click.option("--file-layer", default=None, help="Layer to read from a multi-layer file (GeoPackage, zip).")
    @click.option("--json", "as_json", is_flag=True, help="Print the report (or the error) as JSON.")
    @click.pass_obj
    def import_command(obj: CliContext, layer: str, file: str, **options: Any) -> None:
        """Import FILE into LAYER (districts, streets, communities, roads, buildings, estates, units, workers,
        incidents). FILE: .geojson, .gpkg, .shp, .zip (a shapefile), .csv (lon/lat or WKT) or .osm.pbf."""
        try:
            report = _run_import(obj, layer, file, options)
        except GridmapError as exc:
            _fail(exc, options["as_json"])
            return
        _print_import(report, options["as_json"])

    @group.command("export")
    @click.argument("layer", metavar="LAYER")
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Default: from --out's suffix.")
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write.")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.option("--since", default=None, help="positions: from this date or ISO time (local time zone).")
    @click.option("--until", default=None, help="positions: up to this date (inclusive) or ISO time (exclusive).")
    @click.option("--json", "as_json", is_flag=True, help="Print the report (or the error) as JSON.")
    @click.pass_obj
    def export_command(
        obj: CliContext, layer: str, fmt: str | None, out: str, store_url: str | None, since: str | None,
        until: str | None, as_json: bool
    ) -> None:
        """Export LAYER (a schema layer such as areas, grids, roads, positions, or districts/streets/communities)."""
        try:
            report = _run_export(obj, layer, fmt, out, store_url, since, until)
        except GridmapError as exc:
            _fail(exc, as_json)
            return
        if as_json:
            _echo_json({"ok": True, "report": report.to_dict()})
        else:
            click.echo(report.summary())
