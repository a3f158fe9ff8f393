"""The store contract for plain rows: ``read_records`` and ``insert`` of mappings, on both stores.

What it proves: ``read_records`` holds exactly what ``read(...).to_dict("records")`` holds (with
None where a frame has NaN/NaT/NA) for every column of every layer, with filters, column choice
and inside a transaction; rows inserted as mappings read back like rows inserted as a frame; bad
mappings are refused with the same messages as bad frames and write nothing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import shapely

from gridmap.errors import ConflictError, ValidationError
from gridmap.schema import AREAS, AUDIT_LOG, FID, GEOMETRY, LAYERS
from gridmap.store.base import Store
from tests.store.samples import LAT0, LON0, assert_frame_matches, sample_frame, utc


def _plain(value: Any) -> Any:
    """A frame cell as read_records gives it: None for every kind of missing value."""
    if value is None or isinstance(value, str | list | dict | shapely.Geometry):
        return value
    return None if pd.isna(value) else value


def _frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A sample frame as mappings: its cells, geometry as the shapely value (None stays None)."""
    rows = [{str(k): (None if v is None else v) for k, v in r.items()} for r in pd.DataFrame(frame).to_dict("records")]
    return [{k: v for k, v in r.items() if not (k == GEOMETRY and v is None)} for r in rows]


@pytest.mark.parametrize("layer", list(LAYERS))
def test_read_records_hold_what_a_frame_read_holds(store: Store, layer: str) -> None:
    spec = LAYERS[layer]
    written = sample_frame(spec, 25, seed=len(layer) + 3)
    with store.transaction() as tx:
        fids = tx.insert(layer, written)
        assert tx.read_records(layer) == _frame_records(tx.read(layer))  # uncommitted rows seen inside
    records = store.read_records(layer)
    assert [r[FID] for r in records] == fids
    assert records == _frame_records(store.read(layer))
    assert all(type(r[FID]) is int for r in records)
    for col in spec.columns:
        present = [r[col.name] for r in records if r[col.name] is not None]
        assert present, col.name  # every column has values to compare, not only NULLs
        if col.type == "datetime":
            assert all(isinstance(v, pd.Timestamp) and str(v.tz) == "UTC" for v in present), col.name
        if col.type == "float":
            assert all(type(v) is float for v in present), col.name
    some = spec.column_names[:2]
    assert store.read_records(layer, columns=some, where={FID: fids[3:6]}) == \
        _frame_records(store.read(layer, columns=some, where={FID: fids[3:6]}))
    assert list(store.read_records(layer, columns=some)[0]) == [FID, *some]
    assert store.read_records(layer, where={FID: -1}) == []


@pytest.mark.parametrize("layer", list(LAYERS))
def test_rows_inserted_as_mappings_read_back_like_a_frame_insert(store: Store, layer: str) -> None:
    spec = LAYERS[layer]
    written = sample_frame(spec, 6, seed=len(layer) + 11)
    rows = _as_records(written)
    with store.transaction() as tx:
        fids = tx.insert(layer, rows[:1]) + tx.insert(layer, rows[1:])  # one row, then the bulk path
    assert len(set(fids)) == 6 and fids == sorted(fids)
    read = store.read(layer)
    assert read[FID].tolist() == fids
    assert_frame_matches(spec, written, read)


def test_bad_mappings_are_refused_like_bad_frames_and_write_nothing(store: Store) -> None:
    area = {"code": "410611", "name": "淇滨区", "level": "district",
            "geometry": shapely.box(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01)}
    with store.transaction() as tx:
        with pytest.raises(ValidationError, match="'areas' has no columns colour"):
            tx.insert(AREAS, [{**area, "colour": "red"}])
        with pytest.raises(ValidationError, match=r"'name' is required; rows \[1\]"):
            tx.insert(AREAS, [{**area, "code": "410612"}, {**area, "code": "410613", "name": None}])
        with pytest.raises(ValidationError, match=r"'valid_from'.*time zone"):
            tx.insert(AREAS, [{**area, "valid_from": pd.Timestamp("2024-01-01")}])
        with pytest.raises(ValidationError, match=r"'households'.*expected int"):
            tx.insert(AREAS, [{**area, "households": "many"}])
        with pytest.raises(ValidationError, match=r"areas.*MULTIPOLYGON.*Point"):
            tx.insert(AREAS, [{**area, "geometry": shapely.Point(LON0, LAT0)}])
        with pytest.raises(ValidationError, match="lon/lat"):
            tx.insert(AREAS, [{**area, "geometry": shapely.box(5e5, 4e6, 5e5 + 10, 4e6 + 10)}])
        with pytest.raises(ValidationError, match="attribute table"):
            tx.insert(AUDIT_LOG, [{"at": utc("2024-01-01"), "action": "x", "geometry": shapely.Point(LON0, LAT0)}])
        assert tx.insert(AREAS, []) == []
    assert store.count(AREAS) == 0 and store.count(AUDIT_LOG) == 0


def test_a_duplicate_key_in_mappings_is_a_conflict_naming_the_value(store: Store) -> None:
    area = {"code": "410611", "name": "淇滨区", "level": "district",
            "geometry": shapely.box(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01)}
    with store.transaction() as tx:
        tx.insert(AREAS, [area])
    with pytest.raises(ConflictError, match=r"duplicate \(code\) \(410611\)"), store.transaction() as tx:
        tx.insert(AREAS, [{**area, "name": "again"}])
    assert [r["name"] for r in store.read_records(AREAS)] == ["淇滨区"]
    polygon = store.read_records(AREAS, columns=["geometry"])[0][GEOMETRY]
    assert polygon.geom_type == "MultiPolygon"  # a Polygon mapping is stored as the layer's MultiPolygon
