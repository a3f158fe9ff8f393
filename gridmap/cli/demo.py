"""``gridmap demo``: build the demo district (if the store is empty or --replace) and serve the portal.

``gridmap demo --city [--districts N]`` builds the synthetic city instead (N copies of the district
with their own seeds and codes, 34 by default: about 3.5 million households, 500,000 buildings),
partitioned through ``--executor`` (serial, local:N, dask://HOST:PORT). PostGIS is the store for it
(``--store postgresql://...``); a GeoPackage works too, more slowly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from gridmap import schema
from gridmap.services.photos import photo_dir_from_settings
from gridmap.store import Store, open_store

if TYPE_CHECKING:  # imported for the annotation only: gridmap.cli.main imports this module
    from gridmap.cli.main import CliContext
    from gridmap.config import Settings
    from gridmap.services.demo import CitySummary, DemoSummary

DEMO_STORE_URL = "gpkg://./data/demo.gpkg"
CITY_STORE_URL = "gpkg://./data/city.gpkg"
SUMMARY_FIELDS = ("communities", "households", "grids", "workers", "incidents", "seconds")


def _build(store: Store, obj: CliContext, *, seed: int, replace: bool, scale: float) -> DemoSummary:
    """Run build_demo with a rich progress bar on stderr."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gridmap.services.demo import build_demo, partition_every_community

    settings = obj.settings.replace(store_url=store.url)
    with Progress(TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("gridmap demo", total=1)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        return build_demo(store, settings, seed=seed, replace=replace, scale=scale, progress=progress,
                          partition=partition_every_community)  # fmt: skip


def _build_city(store: Store, obj: CliContext, *, seed: int, scale: float | None, districts: int,
                executor: str) -> CitySummary:
    """Run build_city with a rich progress bar on stderr."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from gridmap.services.demo import CityParams, build_city

    params = CityParams(districts=districts, seed=seed, scale=CityParams.scale if scale is None else scale)
    settings = obj.settings.replace(store_url=store.url)
    with Progress(TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("gridmap demo --city", total=1)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        return build_city(store, settings, params, executor=executor, progress=progress)


def _print_city(summary: CitySummary, url: str) -> None:
    click.echo(f"synthetic city of {summary.districts} districts (codes 4106NN, labelled synthetic) in {url}")
    for key in ("communities", "households", "buildings", "grids", "workers", "incidents", "seconds"):
        value = getattr(summary, key)
        click.echo(f"  {key:<14}{value:>14,}" if isinstance(value, int) else f"  {key:<14}{value:>14}")


def _placeholder_photos(store: Store, settings: Settings) -> int:
    """Labelled placeholder photos for the demo's workers in the photo folder (none without a folder)."""
    from gridmap.services.photos import write_placeholder_photos

    folder = photo_dir_from_settings(settings)
    if folder is None:
        return 0
    return write_placeholder_photos(store.read(schema.WORKERS, columns=["worker_id", "photo", "synthetic"]), folder)


def _counts_from_store(store: Store) -> dict[str, Any]:
    """The summary numbers of a demo that is already in the store (nothing is rebuilt)."""
    district = store.read(schema.AREAS, where={"level": "district"}, columns=["households"])
    households = int(district["households"].fillna(0).sum()) if not district.empty else 0
    return {
        "communities": store.count(schema.AREAS, where={"level": "community"}),
        "households": households,
        "grids": store.count(schema.GRIDS),
        "workers": store.count(schema.WORKERS),
        "incidents": store.count(schema.INCIDENTS),
        "seconds": "-",
    }


def _print_summary(numbers: dict[str, Any], url: str, *, built: bool) -> None:
    from rich.cells import cell_len  # display width: a Chinese character takes two columns

    click.echo(f"demo district 鹤壁市淇滨区 (410611) in {url}" + ("" if built else " (already built; kept)"))
    labels = {"communities": "communities 社区/村", "households": "households 户", "grids": "grids 网格",
              "workers": "workers 网格员", "incidents": "incidents 事件", "seconds": "build seconds"}
    for key in SUMMARY_FIELDS:
        value = numbers[key]
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        click.echo(f"  {labels[key]}{' ' * (22 - cell_len(labels[key]))}{shown:>10}")


def _fill_district(store: Store, obj: CliContext, url: str, *, seed: int, replace: bool, scale: float) -> None:
    """Build the district unless the store already holds it (or ``replace``), then print its numbers."""
    from gridmap.services.demo import nonempty_demo_layers

    built = replace or not nonempty_demo_layers(store)
    if built:
        summary = _build(store, obj, seed=seed, replace=replace, scale=scale)
        numbers = {k: getattr(summary, k) for k in SUMMARY_FIELDS}
    else:
        numbers = _counts_from_store(store)
    _print_summary(numbers, url, built=built)


def register(group: click.Group) -> None:
    """Add the ``demo`` command to the gridmap group."""

    @group.command("demo")
    @click.option("--store", "store_url", metavar="URL", default=None,
                  help=f"Store URL (default: {DEMO_STORE_URL}).")
    @click.option("--no-serve", is_flag=True, help="Build and print the summary, then exit (no portal).")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address the portal listens on.")
    @click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Portal TCP port.")
    @click.option("--seed", default=2024, show_default=True, type=int, help="Seed: the same seed, the same demo.")
    @click.option("--replace", is_flag=True, help="Rebuild even when the store holds data (deletes the demo layers).")
    @click.option("--scale", default=None, type=click.FloatRange(0.02, 1.5),
                  help="Size of each district (1 = ~70,000 households; default 1, or 1.5 with --city).")
    @click.option("--city", is_flag=True, help="Build the synthetic city (many districts) into an empty store.")
    @click.option("--districts", default=34, show_default=True, type=click.IntRange(1, 49),
                  help="Districts of the city (with --city).")
    @click.option("--executor", default="serial", show_default=True, metavar="SPEC",
                  help="Where the city's communities are partitioned: serial, local:N or dask://HOST:PORT.")
    @click.pass_obj
    def demo_command(
        obj: CliContext, store_url: str | None, no_serve: bool, host: str, port: int, seed: int, replace: bool,
        scale: float | None, city: bool, districts: int, executor: str,
    ) -> None:
        """Build the synthetic demo district inside the real outline of 淇滨区 (or a city) and serve the portal."""
        url = store_url or (CITY_STORE_URL if city else DEMO_STORE_URL)
        # The demo takes incident reports from anyone (Open311 and the report form), like a resident portal.
        settings = obj.settings.replace(store_url=url, allow_anonymous_reports=True)
        store = open_store(url, settings)
        try:
            if city:
                _print_city(_build_city(store, obj, seed=seed, scale=scale, districts=districts, executor=executor),
                            url)  # fmt: skip
            else:
                _fill_district(store, obj, url, seed=seed, replace=replace, scale=1.0 if scale is None else scale)
            photos = _placeholder_photos(store, settings)
        finally:
            store.close()
        if photos:
            click.echo(f"  {photos} synthetic placeholder photo(s) written to {photo_dir_from_settings(settings)}")
        if no_serve:
            return
        try:
            from gridmap.portal.server import DEFAULT_WORKERS, serve
        except ModuleNotFoundError as exc:
            click.echo(f"the portal is not available in this installation ({exc.name} is missing);"
                       f" the demo is built: open {url} in QGIS, or run `gridmap serve --store {url}` later")
            return
        click.echo(f"serving the portal on http://{host}:{port}/ (Ctrl+C to stop)")
        serve(settings, host=host, port=port, workers=DEFAULT_WORKERS, dev=False)
