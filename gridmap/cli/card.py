"""``gridmap card GRID_CODE --out FILE.pdf|.png``: the printable grid card (公示牌) of one active grid."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gridmap.cli.main import CliContext


def register(group: click.Group) -> None:
    """Add the ``card`` command to the gridmap group."""

    @group.command("card")
    @click.argument("grid_code")
    @click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="Output file, .pdf (vector, for print) or .png (150 dpi).")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.option("--photo-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Folder that relative worker photo names are resolved against (default: settings.photo_dir,"
                       " else the photos folder beside a GeoPackage store, else the current folder).")
    @click.option("--supervision-phone", default=None,
                  help="Supervision phone (监督电话); default: settings.extra supervision_phone, else the"
                       " street centre's phone, else the community centre's.")
    @click.pass_obj
    def card_command(obj: CliContext, grid_code: str, out: Path, store_url: str | None, photo_dir: Path | None,
                     supervision_phone: str | None) -> None:
        """Draw the grid card: map with roads and buildings, workers, phones, duties and a QR code."""
        from gridmap.services.cards import card_data_from_store, supervision_phone_for, write_card
        from gridmap.services.lookup import LookupIndex
        from gridmap.services.photos import photo_dir_from_settings
        from gridmap.store import open_store

        settings = obj.settings.replace(store_url=obj.store_url(store_url))
        store = open_store(settings.store_url, settings)
        try:
            index = LookupIndex.from_store(store)
            result = index.result_for_grid(grid_code)
            data = card_data_from_store(
                store,
                obj.settings,
                result,
                index.grid_geometry(grid_code),
                supervision_phone=supervision_phone
                or obj.settings.extra.get("supervision_phone")
                or supervision_phone_for(index, result),
                photo_dir=photo_dir or photo_dir_from_settings(settings) or Path.cwd(),
            )
            path = write_card(data, out)
        finally:
            store.close()
        click.echo(str(path))
