"""The geofence state machine: enter/exit per grid, outside-own-grid alert once per excursion."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridmap.tracking.geofence import FenceState, GeofenceEvent, TrackPoint, events_from_track, step

T0 = datetime(2024, 5, 6, 0, 0, tzinfo=UTC)
OWN = frozenset({"A"})
ALERT = timedelta(minutes=30)


def track(*spec: tuple[int, str | None]) -> list[TrackPoint]:
    return [TrackPoint(T0 + timedelta(minutes=m), g, 114.0 + m / 1000, 35.7) for m, g in spec]


def kinds(events) -> list[tuple[str, str]]:
    return [(e.event.value, e.grid_code) for e in events]


def test_moving_between_grids_exits_then_enters() -> None:
    state, events = events_from_track(track((0, "A"), (5, "A"), (10, "B"), (15, None), (20, "A")),
                                      own_grids=OWN, alert_after=ALERT)
    assert kinds(events) == [("enter", "A"), ("exit", "A"), ("enter", "B"), ("exit", "B"), ("enter", "A")]
    assert [e.own_grid for e in events] == [True, True, False, False, True]
    assert state is not None and state.outside_since is None and state.grid_code == "A"


def test_alert_once_when_outside_long_enough_then_reset_inside() -> None:
    points = track((0, "A"), (10, "B"), (25, "B"), (40, None), (45, "B"), (50, "A"), (60, "B"), (95, "B"))
    state, events = events_from_track(points, own_grids=OWN, alert_after=ALERT)
    alerts = [e for e in events if e.event is GeofenceEvent.ALERT]
    # first excursion starts at 10 and reaches 30 minutes at the fix of minute 40; second starts at 60, alert at 95
    assert [a.at for a in alerts] == [T0 + timedelta(minutes=40), T0 + timedelta(minutes=95)]
    assert [a.minutes_outside for a in alerts] == [30.0, 35.0]
    assert all(a.grid_code == "A" for a in alerts)
    assert state is not None and state.outside_since == T0 + timedelta(minutes=60)
    assert state.alerted_at == T0 + timedelta(minutes=95)


def test_alert_names_the_home_grid_of_a_worker_with_extra_grids() -> None:
    _, events = events_from_track(track((0, None), (31, None)), own_grids=frozenset({"A", "C"}),
                                  alert_after=ALERT, home_grid="C")
    assert kinds(events) == [("alert", "C")]


def test_extra_grids_count_as_own() -> None:
    state, events = events_from_track(track((0, "A"), (10, "C"), (50, "C")), own_grids=frozenset({"A", "C"}),
                                      alert_after=ALERT)
    assert not [e for e in events if e.event is GeofenceEvent.ALERT]
    assert state is not None and state.outside_since is None


def test_a_worker_without_a_grid_is_never_alerted() -> None:
    _, events = events_from_track(track((0, "B"), (120, None)), own_grids=frozenset(), alert_after=ALERT)
    assert kinds(events) == [("enter", "B"), ("exit", "B")]


def test_step_refuses_an_older_fix() -> None:
    state = FenceState(T0 + timedelta(minutes=5), "A")
    with pytest.raises(ValueError, match="older"):
        step(state, track((1, "A"))[0], own_grids=OWN, alert_after=ALERT)


def test_resuming_from_a_stored_state_gives_the_same_events_as_one_pass() -> None:
    points = track((0, "A"), (10, None), (20, "B"), (45, "B"), (50, "A"))
    whole_state, whole = events_from_track(points, own_grids=OWN, alert_after=ALERT)
    mid_state, first = events_from_track(points[:3], own_grids=OWN, alert_after=ALERT)
    end_state, rest = events_from_track(points[3:], own_grids=OWN, alert_after=ALERT, state=mid_state)
    assert first + rest == whole and end_state == whole_state


@given(st.lists(st.tuples(st.integers(0, 600), st.sampled_from(["A", "B", None])), min_size=1, max_size=40))
def test_enter_and_exit_alternate_per_grid_and_alerts_never_repeat_within_an_excursion(spec) -> None:
    points = track(*sorted(set(spec), key=lambda p: p[0]))
    points = [p for i, p in enumerate(points) if i == 0 or p.at != points[i - 1].at]
    _, events = events_from_track(points, own_grids=OWN, alert_after=ALERT)
    for grid in ("A", "B"):
        seq = [e.event for e in events if e.grid_code == grid and e.event is not GeofenceEvent.ALERT]
        assert all(a != b for a, b in itertools.pairwise(seq)), seq
        assert not seq or seq[0] is GeofenceEvent.ENTER
    alerts = [e for e in events if e.event is GeofenceEvent.ALERT]
    for alert in alerts:
        assert alert.minutes_outside is not None and alert.minutes_outside >= ALERT.total_seconds() / 60
    # between two alerts the worker must have been back in the own grid
    for a, b in itertools.pairwise(alerts):
        assert any(p.grid_code == "A" and a.at < p.at < b.at for p in points)
