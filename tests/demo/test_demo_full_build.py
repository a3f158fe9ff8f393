"""The full demo (scale 1, 12 months) built into a fresh GeoPackage: the promised sizes. Slow (~15 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridmap import schema
from gridmap.config import Settings
from gridmap.demo.build import build_demo
from gridmap.store.factory import open_store


@pytest.mark.slow
def test_full_demo_has_the_promised_size(tmp_path: Path) -> None:
    settings = Settings()
    store = open_store(f"gpkg://{tmp_path / 'demo.gpkg'}", settings)
    summary = build_demo(store, settings)
    assert summary.urban_communities >= 20 and summary.communities == store.count(
        schema.AREAS, where={"level": "community"})
    assert summary.households >= 60_000
    areas = store.read(schema.AREAS, where={"level": "community"})
    urban = areas[areas["code"].str[9:].astype(int) < 200]
    assert len(urban) == summary.urban_communities
    assert urban["households"].between(1500, 5000).all()
    assert int(store.read(schema.BUILDINGS, columns=["households"])["households"].sum()) == summary.households
    assert 25_000 <= store.count(schema.INCIDENTS) == summary.incidents <= 40_000
    workers = store.read(schema.WORKERS, columns=["role"])
    assert (workers["role"] == "grid_leader").sum() == summary.communities
