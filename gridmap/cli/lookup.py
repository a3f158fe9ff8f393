"""``gridmap lookup``: which grid and which workers serve a point or an address, printed as JSON.

Examples::

    gridmap lookup 114.2975 35.7462
    gridmap lookup 114.3040 35.7475 --crs gcj02
    gridmap lookup --address "淇河路12号"
    gridmap lookup 114.2975 35.7462 --sql          # answer from PostGIS SQL instead of the in-memory index
    gridmap lookup 114.2975 35.7462 --as-of 2024-05-01   # the grid in force on that day (older generations)

Errors are printed as JSON too (``{"ok": false, "error": {...}}``) with exit status 2 for bad input
or nothing found (3 when the store is unavailable), so scripts can read the nearest-grid details.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from gridmap.errors import GridmapError, ValidationError

if TYPE_CHECKING:
    from gridmap.cli.main import CliContext


def _print(body: dict[str, Any]) -> None:
    click.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))


def _answer(obj: CliContext, store_url: str | None, coords: tuple[str, ...], crs: str | None, address: str | None,
            use_sql: bool, as_of: str | None = None) -> dict[str, Any]:
    from gridmap.services.lookup import LookupService
    from gridmap.store import open_store

    if address is not None and coords:
        raise ValidationError("give either LON LAT or --address, not both")
    if as_of is not None and (address is not None or use_sql):
        raise ValidationError("--as-of answers LON LAT from the grids in force then; do not combine it with"
                              " --address or --sql")
    if address is None and len(coords) != 2:
        raise ValidationError(f"expected LON LAT (two numbers) or --address, got {len(coords)} value(s)")
    store = open_store(obj.store_url(store_url), obj.settings)
    try:
        service = LookupService(store, obj.settings)
        if address is not None:
            return {"ok": True, **service.search_address(address).to_dict()}
        if use_sql:
            return {"ok": True, **service.lookup_point_sql(coords[0], coords[1], crs=crs)}
        if as_of is not None:
            result = service.lookup_point(coords[0], coords[1], crs=crs, as_of=as_of)
            return {"ok": True, **result.to_dict(), "as_of": as_of}
        return {"ok": True, **service.lookup_point(coords[0], coords[1], crs=crs).to_dict()}
    finally:
        store.close()


def register(group: click.Group) -> None:
    """Add the ``lookup`` command to the gridmap group."""

    # ignore_unknown_options: a negative coordinate (-73.98) is a value, not an option
    @group.command("lookup", context_settings={"ignore_unknown_options": True})
    @click.argument("coords", nargs=-1, metavar="[LON LAT]")
    @click.option("--crs", default=None, help="CRS of LON LAT: wgs84 (default), cgcs2000, gcj02, bd09, EPSG:n.")
    @click.option("--address", default=None, help="Search an address (road + number, estate + building) instead.")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.option("--sql", "use_sql", is_flag=True, help="Answer with PostGIS SQL (postgresql:// stores only).")
    @click.option("--as-of", "as_of", default=None, metavar="WHEN",
                  help="Answer with the grids in force then (ISO 8601, e.g. 2024-05-01 or 2024-05-01T08:00+08:00).")
    @click.pass_obj
    def lookup_command(obj: CliContext, coords: tuple[str, ...], crs: str | None, address: str | None,
                       store_url: str | None, use_sql: bool, as_of: str | None) -> None:
        """Print the grid, community, street, workers and service centre serving a place (JSON)."""
        try:
            _print(_answer(obj, store_url, coords, crs, address, use_sql, as_of))
        except GridmapError as exc:
            _print({"ok": False, "error": exc.to_dict()})
            sys.exit(2 if exc.http_status < 500 else 3)
