"""Build the demo district into a store: ``build_demo(store, settings, *, seed, partition, ...)``.

Without a partition hook everything is written in ONE ``store.transaction()`` (all or nothing).
With a hook, the base layers are committed first (the hook reads them through the store and
usually stages/activates grid generations itself), then workers and incidents located to the
returned grids are written in a second transaction. A non-empty store is refused unless
``replace=True``; then the demo layers are truncated inside the first transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from time import perf_counter
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap import schema
from gridmap.config import Settings
from gridmap.demo.generate import DemoDistrict, district_from_seed
from gridmap.demo.incidents import incidents_for
from gridmap.demo.params import DemoParams
from gridmap.demo.people import workers_for_grids
from gridmap.errors import ConflictError, ValidationError
from gridmap.executors import Executor
from gridmap.store.base import Store, StoreTransaction, iter_chunks

#: (step label, steps done, steps in total). The CLI drives a rich progress bar with it.
Progress = Callable[[str, int, int], None]
#: The lead's partition step: reads the committed base layers, writes/activates grids, returns them.
PartitionHook = Callable[[Store, Settings, Progress | None], gpd.GeoDataFrame]

#: Layers the demo writes (and truncates on ``replace``). Accounts, tokens and the audit log are not demo data.
DEMO_LAYERS: tuple[str, ...] = (
    schema.AREAS, schema.ROADS, schema.ESTATES, schema.BUILDINGS, schema.UNITS, schema.SERVICE_CENTRES,
    schema.GENERATIONS, schema.GRIDS, schema.WORKERS, schema.INCIDENTS,
)
CHUNK_ROWS = 5_000


@dataclass(frozen=True)
class DemoSummary:
    """What a build produced (counts) and how long it took (seconds, per step in ``timings``)."""

    seed: int
    scale: float
    streets: int
    communities: int
    urban_communities: int
    households: int
    population: int
    buildings: int
    roads: int
    estates: int
    units: int
    service_centres: int
    grids: int
    workers: int
    incidents: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Steps:
    """Times the steps and reports them to ``progress``."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0
        self.timings: dict[str, float] = {}
        self._label = ""
        self._t = perf_counter()

    def start(self, label: str) -> None:
        self._label, self._t = label, perf_counter()
        if self.progress is not None:
            self.progress(label, self.done, self.total)

    def finish(self) -> None:
        self.timings[self._label] = round(perf_counter() - self._t, 3)
        self.done += 1
        if self.progress is not None:
            self.progress(self._label, self.done, self.total)


def nonempty_demo_layers(store: Store) -> list[str]:
    """The demo layers that already hold rows."""
    return [layer for layer in DEMO_LAYERS if store.count(layer) > 0]


def _write(tx: StoreTransaction, layer: str, frame: pd.DataFrame) -> None:
    for chunk in iter_chunks(frame, CHUNK_ROWS):
        tx.insert(layer, chunk)


def _communities(district: DemoDistrict) -> gpd.GeoDataFrame:
    areas = district.areas
    return areas[areas["level"] == "community"].reset_index(drop=True)


def _people_and_incidents(
    district: DemoDistrict, grids: gpd.GeoDataFrame | None, steps: _Steps
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Workers and incidents, each from its own seeded stream (independent of the base layers' draws)."""
    seed = district.params.seed
    steps.start("workers")
    workers = workers_for_grids(grids, _communities(district), rng=np.random.default_rng([seed, 1]))
    steps.finish()
    steps.start("incidents")
    incidents = incidents_for(
        district.areas, district.buildings, district.units, district.estates,
        grids if grids is not None and not grids.empty else None,
        rng=np.random.default_rng([seed, 2]), working_crs=district.working_crs,
        end=district.params.incidents_end, months=district.params.months,
        per_household_year=district.params.incidents_per_household_year,
    )
    steps.finish()
    return workers, incidents


def build_demo(
    store: Store,
    settings: Settings,
    *,
    seed: int = 2024,
    partition: PartitionHook | None = None,
    progress: Progress | None = None,
    replace: bool = False,
    scale: float = 1.0,
    months: int = 12,
) -> DemoSummary:
    """Generate the demo district from ``seed`` and write it to ``store``; see the module docstring.

    ``scale`` < 1 builds a smaller district (fast tests); ``months`` is the incident window.
    Raises ConflictError when the store already holds demo layers and ``replace`` is False.
    """
    t0 = perf_counter()
    params = DemoParams(seed=seed, scale=scale, months=months)
    busy = nonempty_demo_layers(store)
    if busy and not replace:
        raise ConflictError(
            f"store {store.url} already holds data in {', '.join(busy)}; the demo never overwrites data"
            " unless asked: use `gridmap demo --replace` (build_demo(..., replace=True))"
        )
    steps = _Steps(progress, 4 if partition is None else 6)
    steps.start("generate district")
    district = district_from_seed(params, settings)
    steps.finish()
    grids: gpd.GeoDataFrame | None = None
    if partition is None:
        workers, incidents = _people_and_incidents(district, None, steps)
        steps.start("write store")
        with store.transaction() as tx:
            _truncate(tx, replace=replace)
            _write_layers(tx, district)
            _write(tx, schema.WORKERS, workers)
            _write(tx, schema.INCIDENTS, incidents)
        steps.finish()
    else:
        steps.start("write base layers")
        with store.transaction() as tx:
            _truncate(tx, replace=replace)
            _write_layers(tx, district)
        steps.finish()
        steps.start("partition")
        grids = partition(store, settings, progress)
        steps.finish()
        workers, incidents = _people_and_incidents(district, grids, steps)
        steps.start("write workers and incidents")
        with store.transaction() as tx:
            if grids is not None and not grids.empty and tx.read(schema.GRIDS, columns=["code"]).empty:
                _write(tx, schema.GRIDS, _grids_for_store(grids))
            _label_synthetic_grids(tx, district)
            _write(tx, schema.WORKERS, workers)
            _write(tx, schema.INCIDENTS, incidents)
        steps.finish()
    return _summary(district, grids, workers, incidents, steps, seconds=perf_counter() - t0)


def partition_every_community(
    store: Store, settings: Settings, progress: Progress | None, *, executor: Executor | str = "serial"
) -> gpd.GeoDataFrame:
    """The partition hook of ``gridmap demo``: every community cut with its own band (社区 urban, 村 rural),
    staged and activated (seed 0, so the same demo gives the same grids). Benchmarks and the city use it
    too, the city through ``executor`` (local:N or a Dask cluster)."""
    from gridmap.services.partitioning import partition_and_activate_all

    def communities_done(done: int, total: int) -> None:
        if progress is not None:
            progress("partition communities", done, total)

    return partition_and_activate_all(store, settings, seed=0, actor="gridmap demo", progress=communities_done,
                                      executor=executor)  # fmt: skip


def _truncate(tx: StoreTransaction, *, replace: bool) -> None:
    if replace:
        for layer in reversed(DEMO_LAYERS):
            tx.truncate(layer)


def _write_layers(tx: StoreTransaction, district: DemoDistrict) -> None:
    for layer, frame in district.layers().items():
        _write(tx, layer, frame)


def _label_synthetic_grids(tx: StoreTransaction, district: DemoDistrict) -> None:
    """Grids cut from synthetic communities are synthetic too (the hook's partition does not know)."""
    areas = district.areas
    fake = areas.loc[(areas["level"] == "community") & areas["synthetic"].astype(bool), "code"].astype(str).tolist()
    if fake:
        tx.update(schema.GRIDS, {"community_code": fake}, {"synthetic": True})


def _grids_for_store(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The hook's grids with exactly the GRIDS columns (when the hook did not store them itself)."""
    missing = [c.name for c in schema.GRIDS_SPEC.columns if not c.nullable and c.name not in grids.columns]
    if missing:
        raise ValidationError(f"demo: the partition hook returned grids without required columns {missing}")
    keep = [c for c in schema.GRIDS_SPEC.column_names if c in grids.columns] + [grids.geometry.name]
    return grids[keep]


def _summary(
    district: DemoDistrict, grids: gpd.GeoDataFrame | None, workers: pd.DataFrame, incidents: pd.DataFrame,
    steps: _Steps, *, seconds: float,
) -> DemoSummary:
    areas = district.areas
    communities = areas[areas["level"] == "community"]
    top = areas[areas["level"] == "district"].iloc[0]
    return DemoSummary(
        seed=district.params.seed,
        scale=district.params.scale,
        streets=int((areas["level"] == "street").sum()),
        communities=len(communities),
        urban_communities=int(communities["code"].str[9:].astype(int).lt(200).sum()),
        households=int(top["households"]),
        population=int(top["population"]),
        buildings=len(district.buildings),
        roads=len(district.roads),
        estates=len(district.estates),
        units=len(district.units),
        service_centres=len(district.service_centres),
        grids=0 if grids is None else len(grids),
        workers=len(workers),
        incidents=len(incidents),
        seconds=round(seconds, 2),
        timings=steps.timings,
    )
