"""Store mode of the partition: read a community from a store, stage, activate, query."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.affinity
from shapely.geometry import LineString, MultiPolygon, box

from gridmap import schema
from gridmap.errors import NotFoundError, ValidationError
from gridmap.model import GenerationStatus
from gridmap.partition.problem import Band
from gridmap.services.generations import activate_generation, active_grids, grids_as_of
from gridmap.services.partitioning import band_from_settings, community_codes, partition_store

# A 1.2 km x 0.9 km community near Hebi, in degrees (about 0.0133 deg lon and 0.0081 deg lat).
W, S = 114.28, 35.74
DX, DY = 0.0133, 0.0081
COMMUNITY = "410611001001"


def _seed_store(store, *, households_per_building: int = 30, community: str = COMMUNITY) -> int:
    rng = np.random.default_rng(7)
    outline = box(W, S, W + DX, S + DY)
    areas = gpd.GeoDataFrame(
        {
            "code": ["410611", community[:9], community],
            "name": ["淇滨区", "金山街道", "黎阳社区"],
            "level": ["district", "street", "community"],
            "parent_code": [None, "410611", community[:9]],
        },
        geometry=[
            MultiPolygon([outline.buffer(0.001, join_style="mitre")]),
            MultiPolygon([outline.buffer(0.0005, join_style="mitre")]),
            MultiPolygon([outline]),
        ],
        crs=4326,
    )
    roads = []
    classes = []
    for i in range(1, 6):  # north-south roads, every ~200 m; the middle one an arterial
        x = W + DX * i / 6
        roads.append(LineString([(x, S - 0.001), (x, S + DY + 0.001)]))
        classes.append("arterial" if i == 3 else "local")
    for j in range(1, 4):  # east-west roads
        y = S + DY * j / 4
        roads.append(LineString([(W - 0.001, y), (W + DX + 0.001, y)]))
        classes.append("local")
    road_frame = gpd.GeoDataFrame({"road_class": classes, "name": [f"路{i}" for i in range(len(roads))]},
                                  geometry=roads, crs=4326)
    # buildings: small squares placed away from the roads, inside each block
    blocks = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(
        [*roads, outline.exterior]))))
    blocks = [b for b in blocks if b.representative_point().within(outline)]
    footprints = []
    for block in blocks:
        inner = block.buffer(-0.0004)
        minx, miny, maxx, maxy = inner.bounds
        for _ in range(4):
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            footprints.append(box(x - 0.0001, y - 0.0001, x + 0.0001, y + 0.0001))
    buildings = gpd.GeoDataFrame(
        {"households": [households_per_building] * len(footprints), "community_code": community},
        geometry=footprints, crs=4326,
    )
    with store.transaction() as tx:
        tx.insert(schema.AREAS, areas)
        tx.insert(schema.ROADS, road_frame)
        tx.insert(schema.BUILDINGS, buildings)
    return int(buildings["households"].sum())


def test_dry_run_then_commit_then_activate(store, settings):
    total = _seed_store(store)
    assert community_codes(store) == [COMMUNITY]
    band = Band(300, 500, 400)
    dry = partition_store(store, settings, [COMMUNITY], band=band, seed=1)
    assert not dry.committed and store.count(schema.GRIDS) == 0 and store.count(schema.GENERATIONS) == 0
    outcome = dry.outcomes[0]
    grids = outcome.result.grids
    assert outcome.result.certificate.ok, outcome.result.certificate.to_dict()
    assert int(grids["households"].sum()) == total  # every household in exactly one grid
    assert grids["households"].between(300, 500).all()
    assert all(len(c) == 15 and c.startswith(COMMUNITY) for c in grids["code"])

    run = partition_store(store, settings, [COMMUNITY], band=band, seed=1, commit=True, actor="planner1")
    gen_id = run.outcomes[0].generation_id
    assert gen_id == 1
    gens = store.read(schema.GENERATIONS)
    assert gens.iloc[0]["status"] == GenerationStatus.STAGED.value
    assert len(active_grids(store)) == 0  # staged is not active
    assert store.count(schema.GRIDS, where={"generation_id": gen_id}) == len(grids)

    activate_generation(store, gen_id, actor="planner1")
    live = active_grids(store)
    assert sorted(live["code"]) == sorted(grids["code"])
    # a second partition with another seed, activated, retires the first; the first stays queryable as of before
    before = gens.iloc[0]["created_at"]
    run2 = partition_store(store, settings, [COMMUNITY], band=band, seed=2, commit=True)
    activate_generation(store, run2.outcomes[0].generation_id)
    statuses = dict(zip(*[store.read(schema.GENERATIONS)[c] for c in ("generation_id", "status")], strict=True))
    assert statuses == {1: "retired", 2: "active"}
    now_grids = grids_as_of(store, __import__("pandas").Timestamp.now(tz="UTC"))
    assert set(now_grids["generation_id"]) == {2}
    assert len(grids_as_of(store, before)) == 0  # nothing was in force before the first activation


def test_errors_name_the_problem(store, settings):
    with pytest.raises(ValidationError, match="no community"):
        partition_store(store, settings, [], band=Band(300, 500, 400))
    with pytest.raises(NotFoundError, match="410611001009"):
        partition_store(store, settings, ["410611001009"], band=Band(300, 500, 400))
    with pytest.raises(ValidationError, match="greater than"):
        band_from_settings(settings, min_households=600, max_households=500)
    assert band_from_settings(settings, min_households=None, max_households=None) == Band(300, 500, 400)


def test_band_follows_community_kind(settings):
    from gridmap.codes import is_village_code
    from gridmap.services.partitioning import band_for_community

    assert not is_village_code("410611001001") and not is_village_code("410611001199")
    assert is_village_code("410611101200") and is_village_code("410611101399")
    assert not is_village_code("410611101400")
    assert is_village_code("410611101201003")  # a village's grid code
    assert not is_village_code("41061110120x")
    assert band_for_community("410611001001", settings) == Band(300, 500, 400)  # 社区: urban, P-1
    assert band_for_community("410611101201", settings) == Band(100, 300, 200)  # 村: rural, P-5
    hebi = settings.replace(band="urban-hebi", rural_band="rural-150")
    assert band_for_community("410611001001", hebi) == Band(200, 500, 350)
    assert band_for_community("410611101201", hebi) == Band(120, 180, 150)


def test_dask_cluster_gives_the_serial_result(tmp_path, settings):
    """`--executor dask://...`: the same grids as serial, computed on a real dask.distributed cluster."""
    from dask.distributed import Client, LocalCluster

    from gridmap.store import open_store

    store = open_store(f"gpkg://{tmp_path}/d.gpkg", settings)
    _seed_store(store)
    serial = partition_store(store, settings, [COMMUNITY], seed=5)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        distributed = partition_store(store, settings, [COMMUNITY], seed=5, executor=f"dask://{address.split('://')[1]}")
        with Client(cluster) as client:
            from gridmap.executors import make_executor

            via_client = partition_store(store, settings, [COMMUNITY], seed=5, executor=make_executor(client))
    for run in (distributed, via_client):
        a, b = serial.outcomes[0].result.grids, run.outcomes[0].result.grids
        assert list(a["code"]) == list(b["code"])
        assert list(a["households"]) == list(b["households"])
        assert all(x.equals_exact(y, 1e-9) for x, y in zip(a.geometry, b.geometry, strict=True))


def test_commit_certifies_the_grids_as_read_back(store, settings):
    _seed_store(store)
    run = partition_store(store, settings, [COMMUNITY], band=Band(300, 500, 400), seed=1, commit=True)
    stored = store.read(schema.GENERATIONS).iloc[0]["certificate"]
    gen_id = run.outcomes[0].generation_id
    assert stored["ok"] is True and stored["certified"].endswith(f"generation {gen_id} as read back")
    assert run.outcomes[0].result.certificate.certified == stored["certified"]


def test_a_stored_copy_that_differs_rolls_the_generation_back(store, settings, monkeypatch):
    """If what the store hands back is not what was computed, nothing is staged (issue 16)."""
    import gridmap.services.partitioning as partitioning
    from gridmap.services.delivery import DeliveryError

    _seed_store(store)
    original = store.transaction

    def shifted_reads():  # type: ignore[no-untyped-def]
        cm = original()

        class Wrapped:
            def __enter__(self):  # type: ignore[no-untyped-def]
                self.tx = cm.__enter__()
                real_read = self.tx.read

                def read(layer, **kw):  # type: ignore[no-untyped-def]
                    frame = real_read(layer, **kw)
                    if layer == schema.GRIDS:  # a backend that moved one grid by ~10 m
                        frame.loc[frame.index[0], "geometry"] = shapely.affinity.translate(
                            frame.geometry.iloc[0], xoff=1e-4)
                    return frame

                self.tx.read = read
                return self.tx

            def __exit__(self, *exc):  # type: ignore[no-untyped-def]
                return cm.__exit__(*exc)

        return Wrapped()

    monkeypatch.setattr(store, "transaction", shifted_reads)
    with pytest.raises(DeliveryError, match="as read back does not hold the computed grids"):
        partitioning.partition_store(store, settings, [COMMUNITY], band=Band(300, 500, 400), seed=1, commit=True)
    monkeypatch.undo()
    assert store.count(schema.GENERATIONS) == 0 and store.count(schema.GRIDS) == 0
