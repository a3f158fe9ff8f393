"""Lookups as of a date: retired generations stay queryable (service, API and CLI), on both stores."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from gridmap import schema
from gridmap.cli.main import cli
from gridmap.codes import grid_code
from gridmap.errors import NotFoundError, ValidationError
from gridmap.portal.app import close_app, create_app
from gridmap.services.generations import activate_generation, generation_ids_as_of, grids_as_of, parse_as_of
from gridmap.services.lookup import LookupService
from gridmap.store import open_store
from tests.planner import sample as sm
from tests.planner.test_relink import NEW_LAYOUT, _stage_new

#: A point in block (5, 0): grid 006 in the first generation, 007 in the second.
POINT = sm.block_centre(5, 0)


def _two_generations(store) -> tuple[pd.Timestamp, pd.Timestamp]:
    sm.seed_community(store)
    sm.activate_layout(store)
    activate_generation(store, _stage_new(store))
    gens = store.read(schema.GENERATIONS).set_index("generation_id")
    first, second = gens.at[1, "activated_at"], gens.at[2, "activated_at"]
    assert first < second and gens.at[1, "retired_at"] == second
    return first, second


def test_grids_and_lookups_as_of_a_past_instant(store, settings):
    first, second = _two_generations(store)
    assert generation_ids_as_of(store, first) == [1] and generation_ids_as_of(store, second) == [2]
    assert generation_ids_as_of(store, first - pd.Timedelta(seconds=1)) == []
    then = grids_as_of(store, first, community_code=sm.COMMUNITY)
    assert sorted(then["code"]) == [grid_code(sm.COMMUNITY, s) for s in range(1, 7)]
    assert sorted(grids_as_of(store, second)["code"]) == [grid_code(sm.COMMUNITY, s) for s in sorted(NEW_LAYOUT)]

    service = LookupService(store, settings)
    assert service.lookup_point(POINT.x, POINT.y).grid.code == grid_code(sm.COMMUNITY, 7)
    old = service.lookup_point(POINT.x, POINT.y, as_of=first.isoformat())
    assert old.grid.code == grid_code(sm.COMMUNITY, 6) and old.community.code == sm.COMMUNITY
    china = first.tz_convert("Asia/Shanghai").isoformat()  # the same instant written in China time
    assert service.lookup_point(POINT.x, POINT.y, as_of=china).grid.code == grid_code(sm.COMMUNITY, 6)
    assert service.lookup_points([[POINT.x, POINT.y]], as_of=first.isoformat()) == [grid_code(sm.COMMUNITY, 6)]
    with pytest.raises(NotFoundError):  # before the first activation nothing was in force
        service.lookup_point(POINT.x, POINT.y, as_of=(first - pd.Timedelta(days=1)).isoformat())
    with pytest.raises(ValidationError, match="not a date or time"):
        service.lookup_point(POINT.x, POINT.y, as_of="last tuesday")


def test_api_and_cli_answer_as_of(store, settings, tmp_path):
    first, _ = _two_generations(store)
    app = create_app(settings.replace(rate_limit_public_read_per_s=0, rate_limit_public_write_per_min=0),
                     store=store)  # fmt: skip
    try:
        client = app.test_client()
        now = client.get("/api/v1/lookup", query_string={"lon": POINT.x, "lat": POINT.y}).get_json()
        then = client.get("/api/v1/lookup", query_string={"lon": POINT.x, "lat": POINT.y,
                                                          "as_of": first.isoformat()}).get_json()  # fmt: skip
        assert now["grid"]["code"] == grid_code(sm.COMMUNITY, 7)
        assert then["grid"]["code"] == grid_code(sm.COMMUNITY, 6) and then["as_of"] == first.isoformat()
        batch = client.post("/api/v1/lookup/batch", json={"points": [[POINT.x, POINT.y]], "as_of": first.isoformat()})
        assert batch.get_json()["codes"] == [grid_code(sm.COMMUNITY, 6)]
        bad = client.get("/api/v1/lookup", query_string={"lon": POINT.x, "lat": POINT.y, "as_of": "2024-13-45"})
        assert bad.status_code == 400 and "as_of" in bad.get_json()["error"]["message"]
    finally:
        close_app(app)
    if not store.url.startswith("gpkg"):
        return
    out = CliRunner().invoke(cli, ["lookup", str(POINT.x), str(POINT.y), "--store", store.url,
                                   "--as-of", first.isoformat()])  # fmt: skip
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert body["grid"]["code"] == grid_code(sm.COMMUNITY, 6) and body["as_of"] == first.isoformat()


def test_parse_as_of_accepts_dates_and_offsets():
    assert parse_as_of("2024-05-01") == pd.Timestamp("2024-05-01T00:00:00Z")
    assert parse_as_of("2024-05-01T08:00:00+08:00") == pd.Timestamp("2024-05-01T00:00:00Z")
    with pytest.raises(ValidationError):
        parse_as_of("")


def test_cli_as_of_is_not_combined_with_address(tmp_path, settings):
    url = f"gpkg://{tmp_path / 'a.gpkg'}"
    open_store(url, settings).close()
    out = CliRunner().invoke(cli, ["lookup", "--address", "淇河路12号", "--as-of", "2024-05-01", "--store", url])
    assert out.exit_code == 2 and "do not combine it with --address" in out.output
