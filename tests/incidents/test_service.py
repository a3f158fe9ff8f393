"""IncidentService on both stores: intake and location, the loop with its event log, escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from gridmap import schema
from gridmap.auth.principal import PUBLIC, Principal
from gridmap.config import Settings
from gridmap.crs import from_wgs84
from gridmap.errors import AuthenticationError, ConflictError, PermissionDeniedError, ValidationError
from gridmap.incidents.workflow import Action, ActionRequest, token_hash
from gridmap.model import Role
from gridmap.services.incidents import IncidentService
from gridmap.store.base import Store
from tests.incidents import sample

GEOD = Geod(ellps="WGS84")
T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def fields(point: tuple[float, float], code: str = "sanitation", **extra: str) -> dict[str, str]:
    return {"service_code": code, "long": str(point[0]), "lat": str(point[1]), **extra}


def clocked(service: IncidentService, when: datetime) -> IncidentService:
    return IncidentService(service.store, service.settings, lookup=service.lookup, policy=service.policy,
                           clock=lambda: when)


def test_report_is_located_stored_and_logged(service: IncidentService, worker_a1: Principal) -> None:
    out = clocked(service, T0).report(worker_a1, fields(sample.INSIDE[sample.GRID_A1], description=sample.HOSTILE,
                                                        address_string="九州路1号"))
    row = out.incident
    assert (row["grid_code"], row["community_code"], row["street_code"]) == (
        sample.GRID_A1, sample.COMM_A, sample.STREET)
    assert row["status"] == "reported" and row["version"] == 1 and row["level"] == "grid"
    assert row["description"] == sample.HOSTILE  # stored as text, escaped only when shown
    assert row["reporter"] == "worker-a1" and len(out.token) >= 20
    stored_token = service.get(row["incident_id"])["token"]
    assert stored_token == token_hash(out.token) and out.token not in stored_token  # only the hash is kept
    assert row["deadline_at"] == pd.Timestamp(T0 + timedelta(hours=24))  # sanitation: 24 h at the grid
    assert row["geometry"].equals_exact(shapely.Point(sample.INSIDE[sample.GRID_A1]), 1e-12)
    events = service.events(row["incident_id"])
    assert events[["seq", "action", "from_status", "to_status", "actor"]].values.tolist() == [
        [1, "report", None, "reported", "worker-a1"]]


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_offset_input_lands_on_the_wgs84_point(service: IncidentService, command: Principal, crs: str) -> None:
    lon, lat = sample.INSIDE[sample.GRID_B2]
    gx, gy = from_wgs84(lon, lat, crs)
    assert GEOD.inv(lon, lat, gx, gy)[2] > 100  # the offset is real here (hundreds of metres)
    row = service.report(command, fields((gx, gy), crs=crs)).incident
    got = row["geometry"]
    assert GEOD.inv(lon, lat, got.x, got.y)[2] < 0.5 and row["grid_code"] == sample.GRID_B2


def test_point_in_a_community_without_grids_goes_to_the_community(service: IncidentService) -> None:
    iid = service.report(PUBLIC, fields(sample.IN_COMM_C)).incident["incident_id"]
    row = service.get(iid)  # as stored, not as answered
    assert row["grid_code"] is None and row["community_code"] == sample.COMM_C and row["level"] == "community"
    assert service.events(iid)["action"].tolist() == ["report"]


@pytest.mark.parametrize("point, code", [(sample.OUTSIDE, "outside_service_area"), ((200.0, 35.75), None)])
def test_bad_points_store_nothing(service: IncidentService, point: tuple[float, float], code: str | None) -> None:
    with pytest.raises(ValidationError) as err:
        service.report(PUBLIC, fields(point))
    assert code is None or err.value.code == code
    assert service.store.count(schema.INCIDENTS) == 0 and service.store.count(schema.INCIDENT_EVENTS) == 0


def test_reporters_are_bound_to_their_area_and_setting(service: IncidentService, worker_a1: Principal) -> None:
    with pytest.raises(PermissionDeniedError):
        service.report(worker_a1, fields(sample.INSIDE[sample.GRID_B1]))
    closed = IncidentService(service.store, service.settings.replace(allow_anonymous_reports=False))
    with pytest.raises(AuthenticationError):
        closed.report(PUBLIC, fields(sample.INSIDE[sample.GRID_A1]))
    analyst = Principal("analyst", Role.ANALYST, sample.DISTRICT)
    with pytest.raises(PermissionDeniedError):
        service.report(analyst, fields(sample.INSIDE[sample.GRID_A1]))
    assert service.store.count(schema.INCIDENTS) == 0


def offset(point: tuple[float, float], east_m: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(point[0], point[1], 90.0, east_m)
    return lon, lat


def test_duplicates_same_category_grid_radius_and_days(service: IncidentService) -> None:
    base = sample.INSIDE[sample.GRID_A1]
    first = clocked(service, T0).report(PUBLIC, fields(base)).incident["incident_id"]
    near = clocked(service, T0 + timedelta(hours=1)).report(PUBLIC, fields(offset(base, 60)))
    assert [d.incident_id for d in near.duplicates] == [first]
    assert near.duplicates[0].distance_m == pytest.approx(60.0, abs=0.5)
    assert clocked(service, T0).report(PUBLIC, fields(offset(base, 150))).duplicates != []  # 60 m from `near`
    far = clocked(service, T0).report(PUBLIC, fields(offset(base, 400)))
    assert far.duplicates == []  # radius 100 m
    other = clocked(service, T0).report(PUBLIC, fields(base, code="fire"))
    assert other.duplicates == []
    late = clocked(service, T0 + timedelta(days=30)).report(PUBLIC, fields(base))
    assert late.duplicates == []  # the old ones are older than 7 days


LOOP = [
    (Action.OPEN_CASE, {}, "case_opened"),
    (Action.ASSIGN, {"assigned_to": "W1"}, "assigned"),
    (Action.START, {}, "in_progress"),
    (Action.HANDLE, {"note": "已清运"}, "handled"),
    (Action.FAIL_VERIFICATION, {"note": "仍有垃圾"}, "in_progress"),
    (Action.HANDLE, {"note": "再次清运"}, "handled"),
    (Action.VERIFY, {}, "verified"),
    (Action.CLOSE, {}, "closed"),
    (Action.EVALUATE, {"satisfaction": 4}, "evaluated"),
]


def test_the_closed_loop_with_its_event_log(service: IncidentService, worker_a1: Principal,
                                            command: Principal) -> None:
    iid = service.report(worker_a1, fields(sample.INSIDE[sample.GRID_A1])).incident["incident_id"]
    for action, params, status in LOOP:
        actor = command if action is Action.EVALUATE else worker_a1
        row = service.act(actor, iid, ActionRequest(action, **params))
        assert row["status"] == status, action
    assert row["version"] == 1 + len(LOOP) and row["satisfaction"] == 4 and row["verification_failures"] == 1
    assert row["assigned_to"] == "W1" and row["closed_at"] is not None and not pd.isna(row["closed_at"])
    events = service.events(iid)
    assert events["seq"].tolist() == list(range(1, len(LOOP) + 2))
    assert events["to_status"].tolist()[1:] == [s for _, _, s in LOOP]
    assert events["from_status"].tolist()[1:] == ["reported", *[s for _, _, s in LOOP][:-1]]
    assert events.loc[events["action"] == "handle", "note"].tolist() == ["已清运", "再次清运"]


def test_illegal_and_stale_moves_are_409_and_change_nothing(service: IncidentService,
                                                            worker_a1: Principal) -> None:
    iid = service.report(worker_a1, fields(sample.INSIDE[sample.GRID_A1])).incident["incident_id"]
    with pytest.raises(ConflictError):
        service.act(worker_a1, iid, ActionRequest(Action.CLOSE))
    service.act(worker_a1, iid, ActionRequest(Action.OPEN_CASE))
    with pytest.raises(ConflictError):
        service.act(worker_a1, iid, ActionRequest(Action.ASSIGN, assigned_to="W1", expected_version=1))
    row = service.get(iid)
    assert row["status"] == "case_opened" and row["version"] == 2 and len(service.events(iid)) == 2


def test_urgent_category_goes_straight_to_command(service: IncidentService, worker_a1: Principal) -> None:
    row = clocked(service, T0).report(worker_a1, fields(sample.INSIDE[sample.GRID_A1], code="emergency")).incident
    assert row["level"] == "command" and bool(row["urgent"])
    assert row["deadline_at"] == pd.Timestamp(T0 + timedelta(hours=12))  # the district's hours


def test_escalation_sweep_climbs_cards_and_is_idempotent(service: IncidentService, worker_a1: Principal) -> None:
    at0 = clocked(service, T0)
    iid = at0.report(worker_a1, fields(sample.INSIDE[sample.GRID_A1])).incident["incident_id"]
    early = at0.escalate_overdue(now=T0 + timedelta(hours=23))
    assert early.escalated == [] and early.checked == 1
    t1 = T0 + timedelta(hours=25)
    first = at0.escalate_overdue(now=t1)
    row = service.get(iid)
    assert first.escalated == [iid] and row["level"] == "community" and row["card"] == "yellow"
    assert row["overdue_count"] == 1 and row["deadline_at"] == pd.Timestamp(t1 + timedelta(hours=48))
    assert at0.escalate_overdue(now=t1).escalated == []  # nothing more is due
    t2 = t1 + timedelta(hours=49)
    at0.escalate_overdue(now=t2)
    row = service.get(iid)
    assert (row["level"], row["card"], row["overdue_count"], row["version"]) == ("street", "red", 2, 3)
    events = service.events(iid)
    assert events["action"].tolist() == ["report", "escalate", "escalate"]
    assert events["actor"].tolist()[1:] == ["system:escalation"] * 2
    assert events["detail"].tolist()[2]["to_level"] == "street"


def test_imported_rows_without_version_join_the_loop(service: IncidentService, command: Principal) -> None:
    legacy = gpd.GeoDataFrame(
        {"incident_id": ["EV000001"], "category": ["环境卫生"], "status": ["reported"],
         "reported_at": [pd.Timestamp(T0)], "grid_code": [sample.GRID_B1], "community_code": [sample.COMM_B],
         "street_code": [sample.STREET], "level": ["grid"]},
        geometry=[shapely.Point(sample.INSIDE[sample.GRID_B1])], crs=4326)
    with service.store.transaction() as tx:
        tx.insert(schema.INCIDENTS, legacy)
    row = service.act(command, "EV000001", ActionRequest(Action.OPEN_CASE))
    assert row["version"] == 1 and row["status"] == "case_opened"
    assert service.events("EV000001")["seq"].tolist() == [1]
    report = service.escalate_overdue(now=T0 + timedelta(days=2))  # no deadline stored: reported_at + 24 h
    assert report.escalated == ["EV000001"]


def test_a_report_located_by_its_address_alone(incident_store: Store, settings: Settings) -> None:
    point = sample.INSIDE[sample.GRID_A2]
    with incident_store.transaction() as tx:
        tx.insert(schema.BUILDINGS, gpd.GeoDataFrame(
            {"building_id": ["B12"], "road_name": ["九州路"], "house_number": ["12"], "households": [40]},
            geometry=[shapely.Point(point)], crs=4326))
    svc = IncidentService(incident_store, settings.replace(allow_anonymous_reports=True))
    row = svc.report(PUBLIC, {"service_code": "sanitation", "address_string": "九州路１２號"}).incident
    assert row["grid_code"] == sample.GRID_A2 and row["geometry"].equals(shapely.Point(point))
    assert row["address"] == "九州路１２號"
    with pytest.raises(ValidationError) as err:
        svc.report(PUBLIC, {"service_code": "sanitation", "address_string": "火星路99号"})
    assert err.value.code == "address_not_found"
    with pytest.raises(ValidationError) as err:
        svc.report(PUBLIC, {"service_code": "sanitation"})
    assert err.value.code == "missing_lat" and incident_store.count(schema.INCIDENTS) == 1


def test_assignment_goes_to_an_active_worker_of_the_dispatching_area(service: IncidentService,
                                                                     command: Principal) -> None:
    iid = service.report(command, fields(sample.INSIDE[sample.GRID_A1])).incident["incident_id"]
    service.act(command, iid, ActionRequest(Action.OPEN_CASE))
    for wrong in ("W9", "W3"):  # unknown; serving grid B1 while the case sits at grid A1
        with pytest.raises(ValidationError, match=wrong):
            service.act(command, iid, ActionRequest(Action.ASSIGN, assigned_to=wrong))
    assert service.get(iid)["version"] == 2
    service.act(command, iid, ActionRequest(Action.ESCALATE))  # now the community dispatches: W2 is inside it
    assert service.act(command, iid, ActionRequest(Action.ASSIGN, assigned_to="W2"))["assigned_to"] == "W2"


def test_listing_shapes_are_the_same_from_records_and_rows(service: IncidentService, command: Principal) -> None:
    from gridmap.incidents import open311
    from gridmap.incidents.query import IncidentFilter

    for code, point in (("fire", sample.INSIDE[sample.GRID_A1]), ("emergency", sample.IN_COMM_C)):
        iid = service.report(command, fields(point, code=code, description=sample.HOSTILE)).incident["incident_id"]
    service.act(command, iid, ActionRequest(Action.SUPERVISE, note="加快"))
    records = service.matching(IncidentFilter(limit=10))
    fast = open311.request_dicts(records, service.policy.catalogue, "en")
    slow = [open311.request_dict(service.get(r["incident_id"]), service.policy.catalogue, "en") for r in records]
    assert len(fast) == 2 and fast == slow
    assert fast[0]["extended_attributes"]["supervised"] is True and fast[0]["service_name"] == "Emergencies"


def test_split_listing_equals_the_plain_one(service: IncidentService, command: Principal) -> None:
    from gridmap.incidents.query import IncidentFilter, records_matching

    for i, code in enumerate(["fire", "sanitation", "fire", "dispute", "fire"]):
        grid = [sample.GRID_A1, sample.GRID_B1][i % 2]
        clocked(service, T0 + timedelta(hours=i)).report(command, fields(sample.INSIDE[grid], code=code))
    filters = [IncidentFilter(statuses=("reported", "case_opened", "closed")),
               IncidentFilter(categories=("fire", "消防", "sanitation"), statuses=("reported", "assigned"), limit=2),
               IncidentFilter(categories=("fire", "dispute"), area_code=sample.COMM_A, offset=1, limit=1)]
    for f in filters:
        plain = records_matching(service.store, f)
        split = records_matching(service.store, f, split=True)
        assert [r["incident_id"] for r in split] == [r["incident_id"] for r in plain] and split == plain
    assert len(records_matching(service.store, filters[0], split=True)) == 5
