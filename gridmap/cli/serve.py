"""``gridmap serve``: run the map portal (waitress; ``--dev`` for Flask's debug server)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # imported for the annotation only: gridmap.cli.main imports this module
    from gridmap.cli.main import CliContext


def register(group: click.Group) -> None:
    """Add the ``serve`` command to the gridmap group."""

    @group.command("serve")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
                  help="TCP port (0 picks a free one).")
    @click.option("--workers", default=8, show_default=True, type=click.IntRange(1, None),
                  help="Waitress threads serving requests. Each open live map (event stream) holds one; by"
                       " default up to workers - 2 streams are admitted (GRIDMAP_LIVE_MAX_SUBSCRIBERS overrides).")
    @click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 32),
                  help="Waitress processes on the same port, each with --workers threads (Python uses one"
                       " core per process: set this to the cores the portal may use). Unix only.")
    @click.option("--dev", is_flag=True, help="Flask debug server on a loopback address (development only).")
    @click.pass_obj
    def serve_command(
        obj: CliContext, store_url: str | None, host: str, port: int, workers: int, processes: int, dev: bool
    ) -> None:
        """Serve the portal (网格地图门户) and print the URL to open."""
        from gridmap.portal import server  # Flask and Folium load only when serving

        settings = obj.settings.replace(store_url=obj.store_url(store_url))
        server.serve(settings, host=host, port=port, workers=workers, dev=dev, processes=processes)
