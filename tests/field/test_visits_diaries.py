"""Home visits, logs, today's tasks, coverage and the field assessment on both stores (service level)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from gridmap import schema
from gridmap.config import Settings
from gridmap.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from gridmap.services.field import FieldService
from gridmap.services.field_diary import DiaryService
from gridmap.services.field_reports import field_assessment, today_tasks, visit_coverage_report
from gridmap.store.base import Store
from tests.field.conftest import LEADER, NOW, OTHER_LEADER, W_A, W_B, A, B, jpeg
from tests.tracking import world


def visit(new_id: Callable[[], str], building: str = "b0", **extra: object) -> dict[str, object]:
    return {"id": new_id(), "building_id": building, "purpose": "了解独居老人情况", "outcome": "身体良好", **extra}


def test_visit_is_bound_to_the_buildings_grid_and_replayed_once(service: FieldService,
                                                                new_id: Callable[[], str]) -> None:
    fields = visit(new_id, household="2-301", follow_up="下周送药", follow_up_on="2026-05-12")
    row, replayed = service.visit(W_A, fields)
    assert not replayed and row["grid_code"] == A and row["household"] == "2-301" and row["day"] == "2026-05-12"
    again, replayed = service.visit(W_A, fields)
    assert replayed and again["fid"] == row["fid"] and service.store.count(schema.HOME_VISITS) == 1
    with pytest.raises(NotFoundError, match="building b0 not found"):
        service.visit(W_B, visit(new_id))  # b0 is in grid A, not B
    with pytest.raises(NotFoundError, match="building nope not found"):
        service.visit(W_A, visit(new_id, "nope"))
    with pytest.raises(ValidationError, match="outcome is required"):
        service.visit(W_A, {**visit(new_id), "outcome": " "})


def test_visit_incident_goes_through_the_incident_service_once(service: FieldService,
                                                               new_id: Callable[[], str]) -> None:
    fields = visit(new_id, incident={"category": "safety_hazard", "description": "电动车楼道充电"})
    row, _ = service.visit(W_A, fields)
    incidents = service.store.read(schema.INCIDENTS)
    assert incidents["incident_id"].tolist() == [row["incident_id"]]
    assert incidents["source"].iloc[0] == f"home_visit:{fields['id']}" and incidents["grid_code"].iloc[0] == A
    assert service.store.count(schema.INCIDENT_EVENTS) == 1
    with pytest.raises(ValidationError, match="unknown service_code"):
        service.visit(W_A, visit(new_id, incident={"category": "nonsense", "description": "x"}))
    assert service.store.count(schema.HOME_VISITS) == 1


def test_two_copies_of_one_checkin_racing_store_one_row(service: FieldService, new_id: Callable[[], str]) -> None:
    lon, lat = world.inside(A)
    fields = {"id": new_id(), "point_id": "p-a1", "lon": lon, "lat": lat}
    results: list[tuple[dict[str, object], bool]] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            results.append(service.checkin(W_A, fields, [("a.jpg", jpeg())]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 4
    assert sorted(r[1] for r in results) == [False, True, True, True]
    assert {r[0]["fid"] for r in results} == {results[0][0]["fid"]}
    assert service.store.count(schema.CHECKINS) == 1


def test_log_rules_review_and_comments(field_store: Store, field_settings: Settings,
                                       service: FieldService, new_id: Callable[[], str]) -> None:
    diaries = DiaryService(field_store, field_settings, clock=lambda: NOW)
    row, _ = service.visit(W_A, visit(new_id))
    written = diaries.write(W_A, "w-a", "2026-05-12", {"text": "走访一户", "tags": "走访,老人",
                                                       "visit_ids": [row["visit_id"]]})
    assert written["tags"] == ["走访", "老人"] and written["version"] == 1 and written["grid_code"] == A
    assert diaries.write(W_A, "w-a", "2026-05-12", {"text": "改写"})["version"] == 2
    assert field_store.count(schema.DIARIES) == 1
    with pytest.raises(PermissionDeniedError) as other:
        diaries.write(W_A, "w-b", "2026-05-12", {"text": "x"})
    assert other.value.code == "not_your_diary"
    with pytest.raises(ValidationError) as day:
        diaries.write(W_A, "w-a", "2026-05-11", {"text": "补写"})
    assert day.value.code == "wrong_day" and "today is 2026-05-12, not 2026-05-11" in day.value.message
    with pytest.raises(ValidationError, match="are not your visits"):
        diaries.write(W_B, "w-b", "2026-05-12", {"text": "x", "visit_ids": [row["visit_id"]]})
    with pytest.raises(PermissionDeniedError):
        diaries.get(W_B, "w-a", "2026-05-12")
    with pytest.raises(NotFoundError):
        diaries.get(OTHER_LEADER, "w-a", "2026-05-12")  # same 404 as a missing log
    with pytest.raises(PermissionDeniedError, match="workers do not review"):
        diaries.comment(W_A, "w-a", "2026-05-12", "自评")
    commented = diaries.comment(LEADER, "w-a", "2026-05-12", "很好")
    assert [c["text"] for c in commented["comments"]] == ["很好"]
    assert diaries.review(LEADER, "w-a", "2026-05-12")["reviewed_by"] == "lead"
    with pytest.raises(ConflictError, match="reviewed by lead"):
        diaries.write(W_A, "w-a", "2026-05-12", {"text": "再改"})
    assert [d["comment_count"] for d in diaries.list(LEADER, month="2026-05")] == [1]
    assert diaries.list(OTHER_LEADER, month="2026-05") == []
    actions = field_store.read(schema.AUDIT_LOG)["action"].tolist()
    assert actions.count("field.diary.write") == 2 and "field.diary.review" in actions


def test_today_tasks_show_due_points_planned_visits_and_assigned_incidents(
        field_store: Store, field_settings: Settings, new_id: Callable[[], str]) -> None:
    yesterday = FieldService(field_store, field_settings, clock=lambda: NOW - timedelta(days=1))
    lon, lat = world.inside(A)
    yesterday.checkin(W_A, {"id": new_id(), "point_id": "p-a1", "lon": lon, "lat": lat}, [("a.jpg", jpeg())])
    yesterday.visit(W_A, visit(new_id, follow_up="复查", follow_up_on="2026-05-12"))
    service = FieldService(field_store, field_settings, clock=lambda: NOW)
    tasks = today_tasks(service, W_A)
    points = {p["point_id"]: p for p in tasks["points"]}
    assert set(points) == {"p-a1", "p-a2"}  # never p-b1 of grid B
    assert points["p-a1"]["due"] is False and points["p-a1"]["due_on"] == "2026-05-13"
    assert points["p-a2"]["due"] is True and points["p-a2"]["last_day"] is None
    assert [v["building_id"] for v in tasks["visits_planned"]] == ["b0"]
    assert tasks["incidents"] == [] and tasks["diary_written"] is False and tasks["day"] == "2026-05-12"
    service.visit(W_A, visit(new_id))  # today's visit to b0 settles the follow-up
    assert today_tasks(service, W_A)["visits_planned"] == []


def test_coverage_and_assessment_count_distinct_buildings_logs_and_points(
        field_store: Store, field_settings: Settings, service: FieldService, new_id: Callable[[], str]) -> None:
    for building in ("b0", "b0", "b1", "b4"):
        service.visit(W_A, visit(new_id, building))
    lon, lat = world.inside(A)
    service.checkin(W_A, {"id": new_id(), "point_id": "p-a1", "lon": lon, "lat": lat}, [("a.jpg", jpeg())])
    DiaryService(field_store, field_settings, clock=lambda: NOW).write(W_A, "w-a", "2026-05-12", {"text": "x"})
    coverage = visit_coverage_report(service, LEADER, month="2026-05").set_index("grid_code")
    assert coverage.loc[A, "buildings"] == 6 and coverage.loc[A, "visited"] == 3 and coverage.loc[A, "visits"] == 4
    assert coverage.loc[A, "visit_share"] == pytest.approx(0.5)
    assert visit_coverage_report(service, LEADER, month="2026-04").set_index("grid_code").loc[A, "visited"] == 0
    scores = field_assessment(service, LEADER, month="2026-05").set_index("worker_id")
    a = scores.loc["w-a"]
    assert (a["diary_days"], a["visits"], a["buildings_visited"], a["points"], a["points_checked"]) == (1, 4, 3, 2, 1)
    # 30 x 1/20 + 30 x 4/20 + 40 x 1/2 over 100 -> 27.5
    assert a["score"] == pytest.approx(27.5) and a["rank"] == 1
    assert scores.loc["w-b", "score"] == pytest.approx(0.0)
    heavy = FieldService(field_store, field_settings.replace(field_weight_inspection=0.0), clock=lambda: NOW)
    assert field_assessment(heavy, LEADER, month="2026-05").set_index("worker_id").loc["w-a", "score"] == \
        pytest.approx(12.5)
    with pytest.raises(PermissionDeniedError):
        field_assessment(service, W_A, month="2026-05")
    assert B not in set(field_assessment(service, OTHER_LEADER, month="2026-05")["grid_code"])
