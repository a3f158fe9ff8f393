"""Worker tracking commands: ``track-listen``, ``purge-positions``, ``patrol-report`` and ``workers``.

``gridmap export positions`` lives in the shared ``export`` command (gridmap.cli.data), which hands the
positions layer to :func:`gridmap.services.position_export.export_positions` for the ``--since/--until`` window.
Commands are thin: parse, call gridmap.tracking / gridmap.services, print.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gridmap.errors import GridmapError

if TYPE_CHECKING:  # imported for the annotation only: gridmap.cli.main imports this module
    from gridmap.cli.main import CliContext


def _echo_json(body: Any) -> None:
    click.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))


def _fail(exc: GridmapError, as_json: bool) -> None:
    if as_json:
        _echo_json({"ok": False, "error": exc.to_dict()})
        raise SystemExit(2 if exc.http_status < 500 else 3)
    raise exc


def _run_patrol(obj: CliContext, options: dict[str, Any]) -> Any:
    from gridmap.services.tracking import local_day, patrol_report, tracking_zone
    from gridmap.store import open_store

    today = local_day(datetime.now(UTC), tracking_zone(obj.settings))
    when = options["date"] or (today if options["period"] == "day" else today[:7])
    store = open_store(obj.store_url(options["store_url"]), obj.settings)
    try:
        return patrol_report(store, obj.settings, period=options["period"], when=when, area=options["area"])
    finally:
        store.close()


def _print_patrol(report: Any, options: dict[str, Any]) -> None:
    from gridmap.services.tracking import report_csv

    which = options["by"]
    if options["fmt"] == "csv":
        text = report_csv(report, which=which)
        if options["out"]:
            Path(options["out"]).write_text(text, encoding="utf-8-sig")
            click.echo(f"Wrote the patrol report ({which}, {report.label}) to {options['out']}.")
        else:
            click.echo(text, nl=False)
        return
    frame = report.by_worker if which == "worker" else report.by_grid
    if options["fmt"] == "json":
        clean = frame.astype(object).where(frame.notna(), None)
        _echo_json({"ok": True, "period": report.period, "label": report.label, "distance_m": report.distance_m,
                    "rows": clean.to_dict("records")})
        return
    click.echo(f"Patrol report ({report.period} {report.label}; covered = within {report.distance_m:.0f} m of the "
               f"track; patrolled = {report.patrol_min_minutes:.0f} min in the own grid)")
    click.echo(frame.to_string(index=False) if len(frame) else "No workers or grids in this area.")


def _run_workers(obj: CliContext, action: str, options: dict[str, Any]) -> Any:
    from gridmap.cli.data import column_map_from_options
    from gridmap.services.workers import check_stored_registry, import_workers
    from gridmap.store import open_store

    store = open_store(obj.store_url(options.get("store_url")), obj.settings)
    try:
        if action == "import":
            return import_workers(store, obj.settings, options["file"],
                                  column_map=column_map_from_options(options["mappings"]), actor="cli")
        return check_stored_registry(store)
    finally:
        store.close()


def register(group: click.Group) -> None:
    """Add the tracking commands to the gridmap group."""
    _add_listen_and_purge(group)
    _add_patrol(group)
    _add_workers(group)


def _add_listen_and_purge(group: click.Group) -> None:
    @group.command("track-listen")
    @click.option("--port", default=5055, show_default=True, type=click.IntRange(0, 65535),
                  help="TCP port (Traccar's OsmAnd port is 5055; 0 picks a free one).")
    @click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.option("--threads", default=48, show_default=True, type=click.IntRange(1, 512),
                  help="Waitress threads (each holds one fix until its batch commits).")
    @click.pass_obj
    def track_listen(obj: CliContext, port: int, host: str, store_url: str | None, threads: int) -> None:
        """Receive worker positions from Traccar Client / OsmAnd phones (HTTP 200 = stored)."""
        from gridmap.services.tracking_listener import serve_listener

        serve_listener(obj.settings, host=host, port=port, threads=threads, store_url=obj.store_url(store_url))

    @group.command("purge-positions")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.option("--keep-days", type=click.IntRange(1, None), default=None,
                  help="Days to keep (default: settings.position_retention_days).")
    @click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.pass_obj
    def purge_command(obj: CliContext, store_url: str | None, keep_days: int | None, dry_run: bool,
                      as_json: bool) -> None:
        """Delete positions and geofence events older than the retention period (run daily)."""
        from gridmap.services.tracking import purge_positions
        from gridmap.store import open_store

        try:
            store = open_store(obj.store_url(store_url), obj.settings)
            try:
                report = purge_positions(store, obj.settings, keep_days=keep_days, dry_run=dry_run, actor="cli")
            finally:
                store.close()
        except GridmapError as exc:
            _fail(exc, as_json)
            return
        if as_json:
            _echo_json({"ok": True, "report": report.to_dict()})
        else:
            click.echo(report.summary())


def _add_patrol(group: click.Group) -> None:
    @group.command("patrol-report")
    @click.option("--period", type=click.Choice(["day", "month"]), default="day", show_default=True)
    @click.option("--date", default=None, help="YYYY-MM-DD (day) or YYYY-MM (month); default: today / this month.")
    @click.option("--area", default=None, help="Only workers and grids under this street/community/grid code.")
    @click.option("--by", type=click.Choice(["worker", "grid"]), default="worker", show_default=True)
    @click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
    @click.option("--out", default=None, type=click.Path(dir_okay=False), help="CSV file to write (with --format csv).")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.pass_obj
    def patrol_command(obj: CliContext, **options: Any) -> None:
        """Patrol analytics: time in own grid (R-15), patrol days (R-16), street/building coverage (G-31)."""
        try:
            report = _run_patrol(obj, options)
        except GridmapError as exc:
            _fail(exc, options["fmt"] == "json")
            return
        _print_patrol(report, options)


def _add_workers(group: click.Group) -> None:
    @group.group("workers")
    def workers_group() -> None:
        """The workers registry (网格员台账): import a roster, check the registry rules."""

    @workers_group.command("import")
    @click.argument("file", metavar="FILE")
    @click.option("--map", "mappings", multiple=True, metavar="FIELD=COLUMN", help="Which file column fills a field.")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.option("--json", "as_json", is_flag=True, help="Print the report (or the error) as JSON.")
    @click.pass_obj
    def workers_import(obj: CliContext, file: str, mappings: tuple[str, ...], store_url: str | None,
                       as_json: bool) -> None:
        """Import FILE (CSV...) into the registry; rows with a stored worker_id replace it. All or nothing."""
        try:
            report = _run_workers(obj, "import", {"file": file, "mappings": mappings, "store_url": store_url})
        except GridmapError as exc:
            _fail(exc, as_json)
            return
        if as_json:
            _echo_json({"ok": True, "report": report.to_dict()})
        else:
            click.echo(report.summary())

    @workers_group.command("check")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.pass_obj
    def workers_check(obj: CliContext, store_url: str | None) -> None:
        """Check the stored registry against the active grids (after a boundary change); exit 1 on problems."""
        problems = _run_workers(obj, "check", {"store_url": store_url})
        for problem in problems:
            click.echo(f"[{problem.rule}] {problem.message}")
        if problems:
            raise SystemExit(1)
        click.echo("The workers registry follows every rule.")
