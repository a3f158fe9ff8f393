"""Worker tracking commands: ``track-listen``, ``purge-positions``, ``patrol-report`` and ``workers``.

``gridmap export positions`` lives in the shared ``export`` command (gridmap.cli.data), which hands the
positions layer to :func:`gridmap.tracking.export.export_positions` for the ``--since/--until`` window.
Commands are thin: parse, call gridmap.tracking / gridmap.services, print.
"""

from __future__ import annotations

import json
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


def register(group: click.Group) -> None:
    """Add the tracking commands to the gridmap group."""

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
        from gridmap.tracking.listener import serve_listener

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
        from gridmap.store.base import open_store
        from gridmap.tracking.retention import purge_positions

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
