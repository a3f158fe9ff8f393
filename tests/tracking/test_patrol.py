"""Patrol analytics: time in own grid (R-15), patrol-a-day (R-16), street/building coverage (G-31)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.auth.principal import Principal
from gridmap.errors import PermissionDeniedError, ValidationError
from gridmap.model import Role
from gridmap.tracking.devices import DeviceRegistry, GridLocator
from gridmap.tracking.ingest import Ticket
from gridmap.tracking.patrol import coverage_of, grid_features, time_in_grids, track_from_points
from gridmap.tracking.pings import Fix
from gridmap.tracking.report import days_of, patrol_report, report_csv
from gridmap.tracking.writer import commit_batch
from tests.tracking import world

MIN = timedelta(minutes=1)
T0 = np.datetime64("2024-05-06T01:00:00", "ms")


def minutes(*values: float) -> np.ndarray:
    return np.array([T0 + np.timedelta64(int(v * 60_000), "ms") for v in values])


def metres_east(lat: float, dlon: float) -> float:
    return math.radians(dlon) * 6_371_000 * math.cos(math.radians(lat))


def metres_north(dlat: float) -> float:
    return math.radians(dlat) * 6_371_000


def test_time_in_grids_skips_gaps_longer_than_the_stale_limit() -> None:
    spent = time_in_grids(minutes(0, 5, 10, 40, 45), ["A", "A", "B", "B", "A"], own_grids=frozenset({"A"}),
                          max_gap=timedelta(minutes=10))
    assert spent.tracked_s == 15 * 60 and spent.own_s == 10 * 60  # 10->40 is a gap, 40->45 was in B
    assert spent.by_grid_s == {"A": 600.0, "B": 300.0} and spent.own_share == pytest.approx(2 / 3)
    assert time_in_grids(minutes(0), ["A"], own_grids=frozenset({"A"}), max_gap=MIN).own_share is None
    with pytest.raises(ValueError, match="sorted"):
        time_in_grids(minutes(5, 0), ["A", "A"], own_grids=frozenset(), max_gap=MIN)


def test_track_is_split_at_gaps_and_keeps_lone_points() -> None:
    track = track_from_points([0, 10, 20, 500], [0, 0, 0, 0], minutes(0, 1, 2, 30), max_gap=timedelta(minutes=5))
    parts = list(track.geoms)
    assert [p.geom_type for p in parts] == ["LineString", "Point"] and parts[0].length == 20


def test_coverage_of_roads_and_buildings_within_the_distance() -> None:
    grid = shapely.box(0, 0, 500, 500)
    roads = np.array([shapely.LineString([(0, 250), (500, 250)]), shapely.LineString([(250, 0), (250, 500)]),
                      shapely.LineString([(600, 0), (600, 500)])], dtype=object)  # the last is outside
    buildings = np.array([shapely.Point(100, 260).buffer(5), shapely.Point(400, 240).buffer(5),
                          shapely.Point(100, 450).buffer(5)], dtype=object)
    features = grid_features("A", grid, roads, buildings, np.array([], dtype=object))
    assert features.road_length_m == pytest.approx(1000.0) and len(features.buildings) == 3
    track = shapely.LineString([(0, 250), (500, 250)])
    cover = coverage_of(track, [features], distance_m=30)
    assert cover.road_m == pytest.approx(500 + 60)  # the east-west road and 2 x 30 m of the crossing one
    assert (cover.buildings, cover.buildings_total) == (2, 3)
    assert cover.point_share is None  # no key points in this grid
    nothing = coverage_of(None, [features], distance_m=30)
    assert nothing.street_share == 0.0 and nothing.building_share == 0.0


def walk(store, settings, device: str, start: datetime, points: list[tuple[float, float]]) -> None:
    """Store one fix a minute from ``start`` in one batch (the ingest writer's transaction)."""
    registry, locator = DeviceRegistry(store), GridLocator(store)
    tickets = [Ticket(Fix(device, lon, lat, start + i * MIN), registry.lookup(device))
               for i, (lon, lat) in enumerate(points)]
    commit_batch(store, settings, tickets, locate=locator.codes, now=start + len(points) * MIN,
                 alert_after=timedelta(minutes=30))


@pytest.fixture
def walked(world_store, settings):
    """w-a walks 40 fixes along grid A's east-west road, then 20 in grid B; on the next day 10 min in A."""
    day1 = datetime(2024, 5, 6, 1, 0, tzinfo=UTC)  # 09:00 local
    road_y = world.ROAD_EW.coords[0][1]
    along = [(114.300 + 0.005 * i / 39, road_y) for i in range(40)]
    in_b = [world.inside(world.B, 0.2 + 0.6 * i / 19, 0.5) for i in range(20)]
    walk(world_store, settings, "dev-a", day1, along + in_b)
    walk(world_store, settings, "dev-a", day1 + timedelta(days=1), along[:11])
    return world_store


def test_day_report_per_worker_and_grid(walked, settings) -> None:
    report = patrol_report(walked, settings, period="day", when="2024-05-06")
    row = report.by_worker.set_index("worker_id").loc["w-a"]
    assert row["fixes"] == 60 and row["tracked_h"] == round(59 / 60, 2) and row["own_h"] == round(40 / 60, 2)
    assert row["own_share"] == round(40 / 59, 4) and bool(row["r15_met"]) and bool(row["patrolled"])
    lat = world.ROAD_EW.coords[0][1]
    ew, ns = metres_east(lat, 0.005), metres_north(0.005)
    assert row["street_share"] == pytest.approx((ew + 2 * settings.patrol_distance_m) / (ew + ns), rel=0.02)
    assert row["building_share"] == pytest.approx(4 / 6)  # the four buildings by the road, not the two far ones
    idle = report.by_worker.set_index("worker_id").loc["w-b"]
    assert idle["fixes"] == 0 and pd.isna(idle["own_share"]) and not idle["patrolled"]
    grids = report.by_grid.set_index("grid_code")
    assert grids.loc[world.A, "present_h"] == round(40 / 60, 2) and bool(grids.loc[world.A, "patrolled"])
    assert grids.loc[world.B, "present_h"] == round(19 / 60, 2) and not grids.loc[world.B, "patrolled"]
    csv = report_csv(report)
    assert csv.splitlines()[0].startswith("day,worker_id,name") and "2024-05-06,w-a,张三" in csv


def test_month_report_counts_patrol_days_and_unions_tracks(walked, settings) -> None:
    report = patrol_report(walked, settings, period="month", when="2024-05")
    assert report.label == "2024-05" and len(report.days) == 31
    row = report.by_worker.set_index("worker_id").loc["w-a"]
    assert (row["days_tracked"], row["days_patrolled"], row["patrol_share"]) == (2, 1, 0.5)  # day 2: 10 min only
    assert row["own_h"] == round(50 / 60, 2) and row["tracked_h"] == round(69 / 60, 2)
    day = patrol_report(walked, settings, period="day", when="2024-05-06").by_worker.set_index("worker_id")
    assert row["street_share"] == pytest.approx(day.loc["w-a", "street_share"], abs=1e-3)  # day 2 adds nothing new
    grid = report.by_grid.set_index("grid_code").loc[world.A]
    assert (grid["days_visited"], grid["days_patrolled"]) == (2, 1)


def test_scope_roles_and_bad_periods(walked, settings) -> None:
    other = Principal("c2", Role.COMMAND, "410611001002")
    report = patrol_report(walked, settings, period="day", when="2024-05-06", principal=other)
    assert report.by_worker["worker_id"].tolist() == ["w-c", "w-x"]
    assert world.A not in set(report.by_grid["grid_code"])
    with pytest.raises(PermissionDeniedError):
        patrol_report(walked, settings, period="day", when="2024-05-06", principal=Principal("p", Role.PLANNER, ""))
    with pytest.raises(ValidationError, match="YYYY-MM"):
        days_of("month", "May")
    with pytest.raises(ValidationError, match="period"):
        days_of("week", "2024-05-06")
