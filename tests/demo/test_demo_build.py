"""build_demo into real stores: counts, one transaction, refusal to overwrite, replace, the
partition hook, and determinism (same seed -> byte-identical layers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap import schema
from gridmap.config import Settings
from gridmap.demo import build as build_module
from gridmap.demo.build import DEMO_LAYERS, build_demo
from gridmap.demo.generate import district_from_seed
from gridmap.demo.params import SYNTHETIC_SOURCE, DemoParams
from gridmap.errors import ConflictError
from gridmap.model import WorkerRole
from gridmap.store.base import Store
from gridmap.store.factory import open_store

SMALL: dict[str, Any] = {"scale": 0.15, "months": 2}


def _layer(store: Store, layer: str) -> pd.DataFrame:
    return store.read(layer).drop(columns=[schema.FID])


def test_build_writes_every_layer_as_summarised(store: Store, settings: Settings) -> None:
    seen: list[tuple[str, int, int]] = []
    summary = build_demo(store, settings, progress=lambda label, done, total: seen.append((label, done, total)),
                         **SMALL)
    assert store.count(schema.AREAS) == 1 + summary.streets + summary.communities
    assert store.count(schema.BUILDINGS) == summary.buildings
    assert store.count(schema.ROADS) == summary.roads
    assert store.count(schema.ESTATES) == summary.estates
    assert store.count(schema.UNITS) == summary.units
    assert store.count(schema.SERVICE_CENTRES) == summary.service_centres == 1 + summary.streets + summary.communities
    assert store.count(schema.WORKERS) == summary.workers > summary.communities
    assert store.count(schema.INCIDENTS) == summary.incidents > 0
    assert store.count(schema.GRIDS) == summary.grids == 0
    buildings = store.read(schema.BUILDINGS)
    assert int(buildings["households"].sum()) == summary.households
    incidents = store.read(schema.INCIDENTS)
    assert incidents["synthetic"].all() and incidents["source"].eq(SYNTHETIC_SOURCE).all()
    assert incidents["grid_code"].isna().all() and incidents["community_code"].notna().all()
    assert seen[-1][1] == seen[-1][2] and [s[1] for s in seen] == sorted(s[1] for s in seen)
    assert set(summary.timings) == {label for label, _, _ in seen}


def test_refuses_a_non_empty_store_and_replace_rebuilds(store: Store, settings: Settings) -> None:
    first = build_demo(store, settings, seed=11, **SMALL)
    before = _layer(store, schema.AREAS)
    counts = {layer: store.count(layer) for layer in DEMO_LAYERS}
    with pytest.raises(ConflictError, match="--replace"):
        build_demo(store, settings, seed=12, **SMALL)
    pd.testing.assert_frame_equal(_layer(store, schema.AREAS), before)  # untouched
    second = build_demo(store, settings, seed=11, replace=True, **SMALL)
    assert second.households == first.households and second.incidents == first.incidents
    assert {layer: store.count(layer) for layer in DEMO_LAYERS} == counts  # replaced, not appended
    assert counts[schema.BUILDINGS] == first.buildings > 0


def test_a_failure_leaves_the_store_empty(store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("incident writer failed")

    original = build_module._write

    def failing_write(tx: Any, layer: str, frame: pd.DataFrame) -> None:
        if layer == schema.INCIDENTS:
            boom()
        original(tx, layer, frame)

    monkeypatch.setattr(build_module, "_write", failing_write)
    with pytest.raises(RuntimeError):
        build_demo(store, settings, **SMALL)
    assert all(store.count(layer) == 0 for layer in DEMO_LAYERS)  # one transaction: nothing half-written


def test_partition_hook_sees_committed_layers_and_its_grids_are_used(store: Store, settings: Settings) -> None:
    calls: list[int] = []

    def one_grid_per_community(st: Store, s: Settings, progress: Any) -> gpd.GeoDataFrame:
        communities = st.read(schema.AREAS, where={"level": "community"})
        calls.append(len(communities))
        return gpd.GeoDataFrame({
            "code": communities["code"] + "001", "name": communities["name"] + "第一网格", "kind": "base",
            "community_code": communities["code"], "generation_id": 1,
            "households": communities["households"], "synthetic": False,  # like the real partition: unlabelled
        }, geometry=communities.geometry.values, crs=communities.crs)

    summary = build_demo(store, settings, partition=one_grid_per_community, **SMALL)
    assert calls == [summary.communities]
    assert store.count(schema.GRIDS) == summary.grids == summary.communities
    assert store.read(schema.GRIDS)["synthetic"].eq(True).all()  # grids of synthetic communities are labelled
    workers = store.read(schema.WORKERS)
    full = workers[workers["role"] == WorkerRole.FULL_TIME.value]
    assert sorted(full["grid_code"]) == sorted(store.read(schema.GRIDS)["code"])
    incidents = store.read(schema.INCIDENTS)
    assert incidents["grid_code"].notna().mean() > 0.99
    ok = incidents["grid_code"].notna()
    assert (incidents.loc[ok, "grid_code"].str[:12] == incidents.loc[ok, "community_code"]).all()


def _build_into(path: Path, seed: int) -> Store:
    settings = Settings()
    st = open_store(f"gpkg://{path}", settings)
    build_demo(st, settings, seed=seed, **SMALL)
    return st


def test_same_seed_gives_byte_identical_layers(tmp_path: Path) -> None:
    a, b = _build_into(tmp_path / "a.gpkg", 2024), _build_into(tmp_path / "b.gpkg", 2024)
    for layer in DEMO_LAYERS:
        fa, fb = _layer(a, layer), _layer(b, layer)
        if schema.GEOMETRY in fa:
            assert (shapely.to_wkb(fa.geometry.values) == shapely.to_wkb(fb.geometry.values)).all(), layer
            fa, fb = pd.DataFrame(fa.drop(columns=schema.GEOMETRY)), pd.DataFrame(fb.drop(columns=schema.GEOMETRY))
        pd.testing.assert_frame_equal(fa, fb, check_exact=True, obj=layer)
    assert len(_layer(a, schema.INCIDENTS)) > 0


def test_another_seed_gives_another_district() -> None:
    one = district_from_seed(DemoParams(seed=1, scale=0.05), Settings())
    two = district_from_seed(DemoParams(seed=2, scale=0.05), Settings())
    assert not one.areas["name"].equals(two.areas["name"])
    assert not np.array_equal(shapely.to_wkb(one.buildings.geometry.values[:5]),
                              shapely.to_wkb(two.buildings.geometry.values[:5]))
