"""Inspection points and check-ins on both stores: import, distance rule, photos, idempotent replay."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path

import pyproj
import pytest
from PIL import Image

from gridmap import schema
from gridmap.auth.principal import Principal
from gridmap.config import Settings
from gridmap.crs import working_epsg_at
from gridmap.errors import NotFoundError, PermissionDeniedError, ValidationError
from gridmap.field.geo import _pipeline_transformer, _transformer, distance_m
from gridmap.model import Role
from gridmap.services.field import FieldService
from gridmap.store.base import Store
from tests.field.conftest import NOW, W_A, W_B, A, B, jpeg
from tests.tracking import world

#: Metres per degree of latitude near 35.7°N (WGS84 meridian arc), for placing test positions.
M_PER_DEG_LAT = 110_950.0


def north_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    return lon, lat + metres / M_PER_DEG_LAT


def test_import_binds_each_point_to_its_grid_worker_and_interval(field_store: Store) -> None:
    points = field_store.read(schema.INSPECTION_POINTS).set_index("point_id")
    assert points.loc["p-a1", "grid_code"] == A and points.loc["p-a1", "worker_id"] == "w-a"
    assert points.loc["p-a2", "interval_days"] == 2  # empty cell: the default (E-42: every two days)
    assert points.loc["p-b1", "grid_code"] == B and points.loc["p-b1", "worker_id"] == "w-b"
    assert points.loc["p-b1", "interval_days"] == 1
    audit = field_store.read(schema.AUDIT_LOG, where={"action": "field.points.import"})
    assert len(audit) == 1 and audit["detail"].iloc[0]["added"] == 3


def test_import_refuses_a_point_outside_every_grid_and_writes_nothing(
        store: Store, field_settings: Settings, tmp_path: Path) -> None:
    world.populate_store(store)
    path = tmp_path / "bad.geojson"
    path.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"point_id":"x1",'
                    '"name":"far"},"geometry":{"type":"Point","coordinates":[114.9,35.9]}}]}', encoding="utf-8")
    with pytest.raises(ValidationError, match="x1 lies in no active grid"):
        FieldService(store, field_settings).import_points(path)
    assert store.count(schema.INSPECTION_POINTS) == 0


def test_distance_is_metres_in_the_working_crs() -> None:
    lon, lat = world.inside(A)
    assert distance_m(lon, lat, *north_of(lon, lat, 500.0)) == pytest.approx(500.0, rel=2e-3)


@pytest.mark.parametrize("lon, lat", [(114.3, 35.7), (121.47, 31.23), (87.6, 43.8), (24.94, 60.17), (-73.99, 40.73)])
def test_distance_transformer_is_the_operation_pyproj_picks_in_every_thread(lon: float, lat: float) -> None:
    """The cached pipeline gives from_crs's coordinates, in this thread and in a new one."""
    epsg = working_epsg_at(lon, lat)
    expected = pyproj.Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    assert _transformer(epsg).transform(lon, lat) == pytest.approx(expected, abs=1e-6)
    in_thread: list[tuple[float, float]] = []
    worker = threading.Thread(target=lambda: in_thread.append(_transformer(epsg).transform(lon, lat)))
    worker.start()
    worker.join()
    assert in_thread[0] == pytest.approx(expected, abs=1e-6)


def test_distance_transformer_is_built_once_when_many_threads_ask_at_once() -> None:
    """The first burst of check-ins: sixteen threads, one proj.db search (the rest wait for it)."""
    epsg = working_epsg_at(114.3, 35.7)
    _pipeline_transformer.cache_clear()
    start = threading.Barrier(16)

    def first_use() -> None:
        start.wait()
        _transformer(epsg).transform(114.3, 35.7)

    threads = [threading.Thread(target=first_use) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    info = _pipeline_transformer.cache_info()
    assert (info.misses, info.hits) == (1, 15)


def test_checkin_near_the_point_is_stored_with_distance_accuracy_and_clean_photo(
        service: FieldService, field_settings: Settings, new_id: Callable[[], str]) -> None:
    lon, lat = north_of(*world.inside(A), 12.0)
    cid = new_id()
    row, replayed = service.checkin(W_A, {"id": cid.upper(), "point_id": "p-a1", "lon": lon, "lat": lat,
                                          "accuracy": 8, "note": "正常"}, [("a.jpg", jpeg())])
    assert not replayed and row["checkin_id"] == cid and row["worker_id"] == "w-a" and row["grid_code"] == A
    assert row["distance_m"] == pytest.approx(12.0, abs=0.2) and row["accuracy_m"] == 8.0
    assert row["day"] == "2026-05-12" and row["at"] == NOW
    (photo,) = row["photos"]
    stored = (Path(field_settings.field_photo_dir) / photo["name"]).read_bytes()
    assert b"PhoneMaker" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert dict(image.getexif()) == {} and image.size == (64, 48)
    audit = service.store.read(schema.AUDIT_LOG, where={"action": "field.checkin"})
    assert audit["target"].tolist() == [cid] and audit["actor"].tolist() == ["w-a"]


def test_the_answer_to_a_checkin_is_what_a_read_returns(service: FieldService, new_id: Callable[[], str]) -> None:
    """The check-in is answered from the row written (no read back); it must equal the committed row."""
    lon, lat = north_of(*world.inside(A), 5.0)
    row, _ = service.checkin(W_A, {"id": new_id(), "point_id": "p-a1", "lon": lon, "lat": lat, "note": "正常",
                                   "at": "2026-05-12T09:30:00+08:00"}, [("a.jpg", jpeg())])
    read = service.store.read(schema.CHECKINS, where={"checkin_id": row["checkin_id"]}).to_dict("records")[0]
    assert list(row) == list(read)
    for name, value in read.items():
        if name == "geometry":
            assert value.equals_exact(row[name], 0.0)
        elif isinstance(value, float) and value != value:  # NaN read for a missing float
            assert row[name] is None
        else:
            assert row[name] == value, name
    assert str(row["at"]) == "2026-05-12 01:30:00+00:00"
    (record,) = service.store.read_records(schema.CHECKINS, where={"checkin_id": row["checkin_id"]})
    assert record == row  # the plain-row read (replays answer from it) holds the same values, None for missing


def test_checkin_500_m_away_is_refused_naming_the_distance(service: FieldService, new_id: Callable[[], str]) -> None:
    lon, lat = north_of(*world.inside(A), -500.0)  # still inside the world, 500 m south
    with pytest.raises(ValidationError) as caught:
        service.checkin(W_A, {"id": new_id(), "point_id": "p-a1", "lon": lon, "lat": lat}, [("a.jpg", jpeg())])
    assert caught.value.code == "too_far" and "you are 500 m from" in caught.value.message
    assert "within 50 m" in caught.value.message
    assert caught.value.details["distance_m"] == pytest.approx(500.0, rel=3e-3)  # type: ignore[index]
    assert service.store.count(schema.CHECKINS) == 0


def test_configured_distance_applies(field_store: Store, field_settings: Settings,
                                     new_id: Callable[[], str]) -> None:
    wide = FieldService(field_store, field_settings.replace(checkin_max_distance_m=600.0), clock=lambda: NOW)
    lon, lat = north_of(*world.inside(A), -500.0)
    row, _ = wide.checkin(W_A, {"id": new_id(), "point_id": "p-a1", "lon": lon, "lat": lat}, [("a.jpg", jpeg())])
    assert row["distance_m"] == pytest.approx(500.0, rel=3e-3)


def test_replayed_checkin_returns_the_stored_result_and_stores_nothing_twice(
        service: FieldService, new_id: Callable[[], str]) -> None:
    lon, lat = world.inside(A)
    cid = new_id()
    fields = {"id": cid, "point_id": "p-a1", "lon": lon, "lat": lat, "note": "first"}
    first, replayed1 = service.checkin(W_A, fields, [("a.jpg", jpeg())])
    again, replayed2 = service.checkin(W_A, {**fields, "note": "changed"}, [("a.jpg", jpeg())])
    assert (replayed1, replayed2) == (False, True)
    assert again["note"] == "first" and again["fid"] == first["fid"]
    assert service.store.count(schema.CHECKINS) == 1
    assert service.store.count(schema.AUDIT_LOG, where={"action": "field.checkin"}) == 1


@pytest.mark.parametrize(("uploads", "code"), [
    ([], "photo_required"),
    ([("notes.txt", b"just text, not a picture")], "photo_invalid"),
    ([("big.jpg", b"\xff\xd8\xff" + b"0" * 2_000_000)], "photo_too_large"),
])
def test_photo_rules(field_store: Store, field_settings: Settings, new_id: Callable[[], str],
                     uploads: list[tuple[str, bytes]], code: str) -> None:
    service = FieldService(field_store, field_settings.replace(field_photo_max_bytes=1_000_000), clock=lambda: NOW)
    lon, lat = world.inside(A)
    with pytest.raises(ValidationError) as caught:
        service.checkin(W_A, {"id": new_id(), "point_id": "p-a1", "lon": lon, "lat": lat}, uploads)
    assert caught.value.code == code and caught.value.http_status == 400
    assert field_store.count(schema.CHECKINS) == 0


def test_a_worker_cannot_check_in_at_another_grids_point(service: FieldService, new_id: Callable[[], str]) -> None:
    lon, lat = world.inside(B)
    with pytest.raises(NotFoundError, match="inspection point p-b1 not found"):
        service.checkin(W_A, {"id": new_id(), "point_id": "p-b1", "lon": lon, "lat": lat}, [("a.jpg", jpeg())])
    with pytest.raises(NotFoundError, match="inspection point p-zz not found"):
        service.checkin(W_A, {"id": new_id(), "point_id": "p-zz", "lon": lon, "lat": lat}, [("a.jpg", jpeg())])


def test_only_worker_accounts_linked_to_the_registry_check_in(service: FieldService,
                                                               new_id: Callable[[], str]) -> None:
    lon, lat = world.inside(A)
    fields = {"id": new_id(), "point_id": "p-a1", "lon": lon, "lat": lat}
    with pytest.raises(PermissionDeniedError, match="not an active grid worker"):
        service.checkin(Principal("nobody", Role.WORKER, A), fields, [("a.jpg", jpeg())])
    with pytest.raises(PermissionDeniedError, match="does not do field work"):
        service.checkin(Principal("cmd", Role.COMMAND, A), fields, [("a.jpg", jpeg())])


def test_workers_see_their_own_points_and_checkins_only(service: FieldService, new_id: Callable[[], str]) -> None:
    assert sorted(service.points_for(W_A)["point_id"]) == ["p-a1", "p-a2"]
    assert sorted(service.points_for(W_B)["point_id"]) == ["p-b1"]
    lon, lat = world.inside(A)
    service.checkin(W_A, {"id": new_id(), "point_id": "p-a1", "lon": lon, "lat": lat}, [("a.jpg", jpeg())])
    assert len(service.checkins_for(W_A)) == 1 and len(service.checkins_for(W_B)) == 0
