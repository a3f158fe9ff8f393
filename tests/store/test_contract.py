"""The store contract: one suite, run unchanged on GeoPackageStore and PostGISStore (fixture ``store``).

What it proves: both stores create exactly gridmap.schema's tables; every logical type of every
layer survives a round trip; filters, bbox and column selection select the same rows; counts of
update/delete/truncate are right; compare-and-set sees stale versions; a transaction is atomic
(also when it fails half-way through a multi-layer write); unique keys raise ConflictError and
write nothing.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.errors import ConflictError, StoreUnavailableError, ValidationError
from gridmap.schema import AREAS, AUDIT_LOG, BUILDINGS, FID, GENERATIONS, GEOMETRY, GRIDS, LAYERS, ROADS
from gridmap.store.base import Store
from gridmap.store.migrations import latest_version
from gridmap.store.sql import PANDAS_DTYPES
from tests.store.introspect import expected_schema, physical_schema
from tests.store.samples import LAT0, LON0, assert_frame_matches, sample_frame, utc

AREA_CODES = ["410611", "410611001", "410611002", "410611001001", "410611001002", "410611002001"]


def areas_frame(codes: list[str] | None = None) -> gpd.GeoDataFrame:
    """A district, two streets, three communities; households NULL for the district."""
    codes = codes or AREA_CODES
    level = {6: "district", 9: "street", 12: "community"}
    rows = {
        "code": codes,
        "name": [f"区域{c}" for c in codes],
        "level": [level[len(c)] for c in codes],
        "parent_code": [c[:-3] if len(c) > 6 else None for c in codes],
        "households": [None if len(c) == 6 else 100 * (i + 1) for i, c in enumerate(codes)],
        "synthetic": [len(c) == 12 for c in codes],
        "valid_from": [pd.Timestamp("2024-01-01", tz="Asia/Shanghai")] * len(codes),
    }
    geoms = [shapely.box(LON0 + i * 0.01, LAT0, LON0 + i * 0.01 + 0.005, LAT0 + 0.005) for i in range(len(codes))]
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)


def grids_frame(generation_id: int, codes: list[str]) -> gpd.GeoDataFrame:
    rows = {"code": codes, "name": [f"第{i + 1}网格" for i in range(len(codes))], "kind": "base",
            "community_code": [c[:12] for c in codes], "generation_id": generation_id}
    geoms = [shapely.box(LON0, LAT0 + i * 0.001, LON0 + 0.001, LAT0 + (i + 1) * 0.001) for i in range(len(codes))]
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)


def backend(store: Store) -> str:
    return "gpkg" if store.url.startswith("gpkg") else "postgis"


def test_migrate_is_idempotent_and_tables_match_schema(store: Store) -> None:
    version = store.schema_version()
    assert version == latest_version(backend(store)) >= 2
    assert store.migrate() == version
    assert store.migrate() == version
    assert physical_schema(store) == expected_schema(store)


def _assert_contract_frame(store: Store, layer: str, frame: pd.DataFrame) -> None:
    spec = LAYERS[layer]
    expected = [FID, *spec.column_names] + ([GEOMETRY] if spec.geometry_type else [])
    assert list(frame.columns) == expected
    assert str(frame[FID].dtype) == "int64"
    for col in spec.columns:
        assert str(frame[col.name].dtype) == PANDAS_DTYPES[col.type], col.name
    assert isinstance(frame, gpd.GeoDataFrame) == (spec.geometry_type is not None)
    if spec.geometry_type:
        assert frame.crs.to_epsg() == store.settings.storage_epsg


@pytest.mark.parametrize("layer", list(LAYERS))
def test_round_trip_of_every_column_of_every_layer(store: Store, layer: str) -> None:
    """Empty and full reads have the contract columns and dtypes; every value comes back equal."""
    empty = store.read(layer)
    _assert_contract_frame(store, layer, empty)
    assert len(empty) == 0 and store.count(layer) == 0
    spec = LAYERS[layer]
    written = sample_frame(spec, 40, seed=len(layer))
    with store.transaction() as tx:
        fids = tx.insert(layer, written)
    assert len(set(fids)) == 40 and fids == sorted(fids)
    read = store.read(layer)
    _assert_contract_frame(store, layer, read)
    assert read[FID].tolist() == fids
    assert_frame_matches(spec, written, read)


@pytest.mark.parametrize("layer", list(LAYERS))
def test_rows_inserted_one_at_a_time_read_back_like_a_bulk_insert(store: Store, layer: str) -> None:
    """One-row inserts take their own path on PostGIS (INSERT ... RETURNING); every value must match."""
    spec = LAYERS[layer]
    written = sample_frame(spec, 3, seed=len(layer) + 7)
    with store.transaction() as tx:
        fids = [fid for i in range(3) for fid in tx.insert(layer, written.iloc[[i]])]
    assert len(set(fids)) == 3 and fids == sorted(fids)
    read = store.read(layer)
    _assert_contract_frame(store, layer, read)
    assert read[FID].tolist() == fids
    assert_frame_matches(spec, written, read)


def test_values_that_need_care_round_trip(store: Store) -> None:
    """Empty string is not NULL; 中文 and emoji survive; ms kept, µs dropped; json lists/dicts nest."""
    frame = pd.DataFrame({
        "at": [pd.Timestamp("2024-06-30 23:59:59.999999", tz="Asia/Shanghai"), utc("1999-12-31T16:00:00.5")],
        "actor": ["", "网格员 🙂"],
        "action": ["login", "import"],
        "target": [None, "O'Brien; DROP TABLE audit_log; --"],
        "detail": [{"n": [1, 2.5, None, "中文"], "ok": True}, [{"a": {}}, []]],
    })
    with store.transaction() as tx:
        tx.insert(AUDIT_LOG, frame)
    read = store.read(AUDIT_LOG)
    assert read["at"].tolist() == [pd.Timestamp("2024-06-30 15:59:59.999", tz="UTC"),
                                   pd.Timestamp("1999-12-31 16:00:00.5", tz="UTC")]
    assert read["actor"].tolist() == ["", "网格员 🙂"]
    assert read["target"].tolist() == [None, "O'Brien; DROP TABLE audit_log; --"]
    assert read["detail"].tolist() == frame["detail"].tolist()
    assert store.count(AUDIT_LOG, where={"target": None}) == 1


def test_geometry_rules_on_write(store: Store) -> None:
    """Polygon becomes MultiPolygon; wrong types and metric coordinates are refused; other CRS reprojected."""
    frame = areas_frame(["410611"])
    frame.geometry = [shapely.box(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01)]
    projected = areas_frame(["410612"]).to_crs(3857)
    with store.transaction() as tx:
        tx.insert(AREAS, frame)
        tx.insert(AREAS, projected)
        with pytest.raises(ValidationError, match=r"areas.*MULTIPOLYGON.*Point"):
            tx.insert(AREAS, areas_frame(["410613"]).set_geometry([shapely.Point(LON0, LAT0)]))
        with pytest.raises(ValidationError, match="lon/lat"):
            tx.insert(AREAS, areas_frame(["410614"]).set_geometry([shapely.box(5e5, 4e6, 5e5 + 10, 4e6 + 10)]))
        with pytest.raises(ValidationError, match=r"roads.*LINESTRING.*MultiLineString"):
            tx.insert(ROADS, gpd.GeoDataFrame({"road_class": ["primary"]}, geometry=[
                shapely.MultiLineString([[(LON0, LAT0), (LON0 + 0.01, LAT0)]])], crs=4326))
    read = store.read(AREAS)
    assert read.geometry.geom_type.tolist() == ["MultiPolygon", "MultiPolygon"]
    assert shapely.equals_exact(read.geometry.iloc[0], shapely.MultiPolygon([frame.geometry.iloc[0]]), tolerance=0)
    original = areas_frame(["410612"]).geometry.iloc[0]
    assert shapely.equals_exact(read.geometry.iloc[1].geoms[0], original, tolerance=1e-9)


def test_bad_frames_are_refused_with_the_column_named(store: Store) -> None:
    with store.transaction() as tx:
        with pytest.raises(ValidationError, match="'areas' has no columns colour"):
            tx.insert(AREAS, areas_frame().assign(colour="red"))
        with pytest.raises(ValidationError, match="'name' is required"):
            tx.insert(AREAS, areas_frame().assign(name=None))
        with pytest.raises(ValidationError, match=r"'valid_from'.*time zone"):
            tx.insert(AREAS, areas_frame().assign(valid_from=pd.Timestamp("2024-01-01")))
        with pytest.raises(ValidationError, match=r"'households'.*expected int"):
            tx.insert(AREAS, areas_frame().assign(households="many"))
        with pytest.raises(ValidationError, match=r"'detail'.*not JSON"):
            tx.insert(AUDIT_LOG, pd.DataFrame({"at": [utc("2024-01-01")], "action": ["x"], "detail": [{1, 2}]}))
    assert store.count(AREAS) == 0 and store.count(AUDIT_LOG) == 0


def test_filters_equal_in_is_null_and_columns(store: Store) -> None:
    with store.transaction() as tx:
        fids = tx.insert(AREAS, areas_frame())

    def codes(**where: object) -> list[str]:
        found = store.read(AREAS, where=where, columns=["code"])["code"].tolist()
        assert store.count(AREAS, where=where) == len(found)
        return found

    assert codes(level="street") == ["410611001", "410611002"]
    assert codes(level=["district", "street"]) == AREA_CODES[:3]
    assert codes(level=("street",), parent_code="410611") == ["410611001", "410611002"]
    assert codes(parent_code=None) == ["410611"]
    assert codes(parent_code=["410611001", None]) == ["410611", "410611001001", "410611001002"]
    assert codes(households=np.array([200, 300])) == ["410611001", "410611002"]
    assert codes(level=[]) == [] and codes(level="town") == []
    assert codes(code="x'; DROP TABLE areas; --") == [] and store.count(AREAS) == 6
    assert codes(synthetic=True) == AREA_CODES[3:]
    assert codes(fid={fids[0], fids[3]}) == ["410611", "410611001001"]
    assert codes(valid_from=pd.Timestamp("2023-12-31 16:00", tz="UTC")) == AREA_CODES
    assert list(store.read(AREAS, columns=["name", "code"]).columns) == [FID, "code", "name"]
    with_geometry = store.read(AREAS, columns=["code", GEOMETRY])
    assert isinstance(with_geometry, gpd.GeoDataFrame) and list(with_geometry.columns) == [FID, "code", GEOMETRY]
    assert not isinstance(store.read(AREAS, columns=["code"]), gpd.GeoDataFrame)
    with pytest.raises(ValidationError, match="no column 'colour'"):
        store.read(AREAS, where={"colour": "red"})
    with pytest.raises(ValidationError, match="no column 'colour'"):
        store.read(AREAS, columns=["colour"])
    with pytest.raises(ValidationError, match="cannot filter on json"):
        store.read(AUDIT_LOG, where={"detail": {}})
    with pytest.raises(ValidationError, match="expected text"):
        store.read(AREAS, where={"code": 410611})


def _envelope_hits(frame: gpd.GeoDataFrame, box: tuple[float, float, float, float]) -> list[int]:
    """Independent answer: rows whose exact envelope intersects the box (touching counts)."""
    hits = []
    for fid, geom in zip(frame[FID], frame.geometry, strict=True):
        if geom is None or geom.is_empty:
            continue
        x0, y0, x1, y1 = geom.bounds
        if x0 <= box[2] and x1 >= box[0] and y0 <= box[3] and y1 >= box[1]:
            hits.append(int(fid))
    return hits


def test_bbox_selects_exactly_the_intersecting_envelopes(store: Store) -> None:
    written = sample_frame(LAYERS[BUILDINGS], 300, seed=11)
    with store.transaction() as tx:
        tx.insert(BUILDINGS, written)
    everything = store.read(BUILDINGS)
    rng = np.random.default_rng(5)
    boxes = []
    for _ in range(15):
        x, y = LON0 + rng.uniform(-0.05, 0.04), LAT0 + rng.uniform(-0.05, 0.04)
        boxes.append((x, y, x + rng.uniform(0, 0.02), y + rng.uniform(0, 0.02)))
    x0, y0, x1, y1 = everything.geometry.iloc[0].bounds
    boxes += [(x1, y1, x1 + 0.01, y1 + 0.01), (x0 - 0.01, y0 - 0.01, x0, y0), (x0, y0, x0, y0)]
    boxes.append((x1 + 1e-9, y1 + 1e-9, x1 + 0.01, y1 + 0.01))  # just off a corner: float32 index boxes say hit
    assert everything[FID].iloc[0] in store.read(BUILDINGS, bbox=boxes[-3])[FID].tolist()
    for box in boxes:
        got = store.read(BUILDINGS, bbox=box)
        assert got[FID].tolist() == _envelope_hits(everything, box), box
    some = store.read(BUILDINGS, bbox=boxes[0], where={"synthetic": True}, columns=["synthetic"])
    assert set(some["synthetic"]) <= {True} and list(some.columns) == [FID, "synthetic"]
    with pytest.raises(ValidationError, match="attribute table"):
        store.read(GENERATIONS, bbox=(0, 0, 1, 1))
    with pytest.raises(ValidationError, match="min <= max"):
        store.read(BUILDINGS, bbox=(1, 1, 0, 0))


def test_update_delete_truncate_counts(store: Store) -> None:
    with store.transaction() as tx:
        first = tx.insert(AREAS, areas_frame())
    moved = shapely.box(LON0 + 1, LAT0 + 1, LON0 + 1.01, LAT0 + 1.01)
    with store.transaction() as tx:
        assert tx.update(AREAS, {"level": "community"}, {"households": 400, "synthetic": None}) == 3
        assert tx.update(AREAS, {"code": "410611"}, {GEOMETRY: moved, "name": "淇滨区"}) == 1
        assert tx.update(AREAS, {"code": "999"}, {"households": 1}) == 0
        with pytest.raises(ValidationError, match="needs a where"):
            tx.update(AREAS, {}, {"households": 1})
    communities = store.read(AREAS, where={"level": "community"})
    assert communities["households"].tolist() == [400, 400, 400] and communities["synthetic"].isna().all()
    inside_moved = (LON0 + 1.001, LAT0 + 1.001, LON0 + 1.002, LAT0 + 1.002)
    assert store.read(AREAS, bbox=inside_moved)["name"].tolist() == ["淇滨区"]
    assert store.read(AREAS, bbox=(LON0, LAT0, LON0 + 0.001, LAT0 + 0.001))["code"].tolist() == []
    with store.transaction() as tx:
        assert tx.update(AREAS, {"code": "410611"}, {GEOMETRY: None}) == 1
    assert store.read(AREAS, bbox=inside_moved).empty
    assert store.read(AREAS, where={"code": "410611"}).geometry.tolist() == [None]
    with store.transaction() as tx:
        assert tx.delete(AREAS, {"level": "street"}) == 2
        assert tx.delete(AREAS, {}) == 0
        assert tx.delete(AREAS, {"level": "street"}) == 0
        assert tx.truncate(AREAS) == 4
        assert tx.truncate(AREAS) == 0
    assert store.count(AREAS) == 0
    with store.transaction() as tx:
        again = tx.insert(AREAS, areas_frame())
    assert min(again) > max(first)  # fids are never reused


def test_compare_and_set_update_returns_zero_on_stale_version(store: Store) -> None:
    row = pd.DataFrame({"generation_id": [7], "community_code": ["410611001001"], "status": ["staged"],
                        "version": [1], "created_at": [utc("2024-05-01T08:00:00")]})
    with store.transaction() as tx:
        tx.insert(GENERATIONS, row)
    certificate = {"ok": True, "checks": [{"name": "coverage", "gaps_m2": 0.0}], "note": "全覆盖、无缝隙"}
    approve = {"version": 2, "status": "validated", "certificate": certificate, "approved_at": utc("2024-05-02T09:30")}
    with store.transaction() as tx:
        assert tx.update(GENERATIONS, {"generation_id": 7, "version": 1}, approve) == 1
    with store.transaction() as tx:
        assert tx.update(GENERATIONS, {"generation_id": 7, "version": 1}, {"version": 2, "status": "approved"}) == 0
    stored = store.read(GENERATIONS)
    assert stored[["version", "status"]].values.tolist() == [[2, "validated"]]
    assert stored["certificate"].tolist() == [certificate]
    assert stored["approved_at"].tolist() == [pd.Timestamp("2024-05-02 09:30", tz="UTC")]


def test_rollback_on_exception_leaves_nothing_and_writes_are_private(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as tx:
        tx.insert(AREAS, areas_frame())
        tx.insert(GRIDS, grids_frame(1, ["410611001001001"]))
        assert len(tx.read(AREAS)) == 6 and tx.read(GRIDS)["code"].tolist() == ["410611001001001"]
        assert store.count(AREAS) == 0  # another connection does not see uncommitted rows
        raise RuntimeError("boom")
    assert store.count(AREAS) == 0 and store.count(GRIDS) == 0
    with pytest.raises(StoreUnavailableError, match="transaction has ended"):
        tx.insert(AREAS, areas_frame())


def test_failure_in_the_middle_of_a_multi_layer_write_rolls_back_everything(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert(GRIDS, grids_frame(1, ["410611001001001"]))
    with pytest.raises(ConflictError), store.transaction() as tx:
        tx.insert(AREAS, areas_frame())
        tx.update(GRIDS, {"generation_id": 1}, {"households": 350})
        tx.insert(GRIDS, grids_frame(1, ["410611001001002", "410611001001001"]))
        tx.insert(AREAS, areas_frame(["410612"]))  # never reached
    assert store.count(AREAS) == 0
    grids = store.read(GRIDS)
    assert grids["code"].tolist() == ["410611001001001"] and grids["households"].isna().all()


def test_unique_violation_is_a_conflict_naming_the_values_and_writes_nothing(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert(AREAS, areas_frame(["410611", "410611001"]))
        tx.insert(GRIDS, grids_frame(1, ["410611001001001"]))
        tx.insert(GRIDS, grids_frame(2, ["410611001001001"]))  # same code, other generation: allowed
    for codes, duplicate in ((["410612", "410611"], "(410611)"), (["410613", "410613"], "(410613)")):
        with pytest.raises(ConflictError) as caught, store.transaction() as tx:
            tx.insert(AREAS, areas_frame(codes))
        assert "'areas'" in caught.value.message and duplicate in caught.value.message
        assert caught.value.http_status == 409
    with pytest.raises(ConflictError, match=r"grids.*\(generation_id, code\) \(1, 410611001001001\)"), \
            store.transaction() as tx:
        tx.insert(GRIDS, grids_frame(1, ["410611001001009", "410611001001001"]))
    with pytest.raises(ConflictError, match="code='410611'"), store.transaction() as tx:
        tx.update(AREAS, {"code": "410611001"}, {"code": "410611"})
    assert store.read(AREAS)["code"].tolist() == ["410611", "410611001"]
    assert store.count(GRIDS) == 2


def test_a_caught_conflict_keeps_the_other_writes_of_the_transaction(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert(AREAS, areas_frame(["410611"]))
        with pytest.raises(ConflictError):
            tx.insert(AREAS, areas_frame(["410612", "410611"]))  # 410612 must not be written either
        tx.insert(AREAS, areas_frame(["410613"]))
    assert store.read(AREAS)["code"].tolist() == ["410611", "410613"]


def test_unknown_layer_is_a_validation_error(store: Store) -> None:
    with pytest.raises(ValidationError, match=r"unknown layer 'parcels'.*areas"):
        store.read("parcels")
    with pytest.raises(ValidationError, match="unknown layer"):
        store.count("parcels")
    with store.transaction() as tx:
        for call in (lambda: tx.insert("parcels", pd.DataFrame({"a": [1]})), lambda: tx.read("parcels"),
                     lambda: tx.update("parcels", {"a": 1}, {"a": 2}), lambda: tx.delete("parcels", {"a": 1}),
                     lambda: tx.truncate("parcels")):
            with pytest.raises(ValidationError, match="unknown layer 'parcels'"):
                call()


def test_ten_thousand_rows_insert_correctly(store: Store) -> None:
    spec = LAYERS[BUILDINGS]
    written = sample_frame(spec, 10_000, seed=42)
    with store.transaction() as tx:
        fids = tx.insert(BUILDINGS, written)
    assert len(fids) == 10_000 and len(set(fids)) == 10_000 and fids == sorted(fids)
    assert store.count(BUILDINGS) == 10_000
    read = store.read(BUILDINGS)
    assert read[FID].tolist() == fids
    assert_frame_matches(spec, written, read)
    assert int(read["households"].sum()) == sum(v for v in written["households"] if v is not None)
    assert store.count(BUILDINGS, where={"fid": fids[5000:5100]}) == 100


def test_closed_store_refuses_work(store: Store) -> None:
    store.close()
    with pytest.raises(StoreUnavailableError, match="closed"):
        store.read(AREAS)
