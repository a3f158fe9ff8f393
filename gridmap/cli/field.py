"""Field-work commands: ``gridmap field import-points`` (inspection points from CSV or GeoJSON).

Thin: parse, call gridmap.services.field, print. The worker's check-ins, visits and logs come in
through the portal (the /field page and /api/v1/field), not the command line.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # annotation only: gridmap.cli.main imports this module
    from gridmap.cli.main import CliContext


def register(group: click.Group) -> None:
    """Add the ``field`` command group."""

    @group.group("field")
    def field() -> None:
        """The grid worker's day: inspection points (巡查点), check-ins, visits, logs."""

    @field.command("import-points")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
    @click.pass_obj
    def import_points(obj: CliContext, path: str, store_url: str | None, as_json: bool) -> None:
        """Import inspection points from PATH (CSV with lon/lat columns, or GeoJSON points).

        Columns: point_id, name, and optionally kind, grid_code, worker_id, interval_days (default
        settings.inspection_interval_days), address, note. A missing grid_code/worker_id is taken from
        the active grid at the point and its worker. All-or-nothing; stored point_ids are replaced.
        """
        from gridmap.services.field import FieldService
        from gridmap.store import open_store

        store = open_store(obj.store_url(store_url), obj.settings)
        try:
            report = FieldService(store, obj.settings).import_points(path, actor="cli")
        finally:
            store.close()
        if as_json:
            click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
            return
        click.echo(f"Imported {report.read} inspection points from {path}: {report.added} added, "
                   f"{report.replaced} replaced.")
        for warning in report.warnings:
            click.echo(f"warning: {warning}")
