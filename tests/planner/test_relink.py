"""Re-linking on activation, on both stores: incidents by location, workers by overlap, one transaction."""

from __future__ import annotations

import pandas as pd
import pytest

from gridmap import schema
from gridmap.codes import grid_code
from gridmap.model import GenerationStatus
from gridmap.services.generations import activate_with_report, relink_hook, stage_generation
from tests.planner import sample as sm

OTHER_COMMUNITY_GRID = "410611001002001"
#: The new generation: old grids 1 and 2 merged under code 002, old grid 6 renumbered 007.
NEW_LAYOUT: dict[int, list[tuple[int, int]]] = {
    2: [(c, r) for c in range(4) for r in (2, 3)],
    3: sm.LAYOUT_2X2[3],
    4: sm.LAYOUT_2X2[4],
    5: sm.LAYOUT_2X2[5],
    7: sm.LAYOUT_2X2[6],
}


def _code(seq: int) -> str:
    return grid_code(sm.COMMUNITY, seq)


def _old_grid_of(col: int, row: int) -> int:
    return next(seq for seq, cells in sm.LAYOUT_2X2.items() if (col, row) in cells)


def _seed(store) -> pd.DataFrame:
    """Community, the 2x2 layout active, one open and one closed incident per block, four workers."""
    sm.seed_community(store)
    sm.activate_layout(store)
    points, statuses, codes = [], [], []
    for c in range(sm.COLS):
        for r in range(sm.ROWS):
            centre = sm.block_centre(c, r)
            for status in ("in_progress", "closed"):
                points.append(centre.buffer(0.0004).boundary.interpolate(0.1 if status == "closed" else 0.6,
                                                                         normalized=True))  # fmt: skip
                statuses.append(status)
                codes.append(_code(_old_grid_of(c, r)))
    # filed under grid 4 but located in grid 5, and one reported before any grid existed (no code)
    points += [sm.block_centre(2, 1), sm.block_centre(4, 3)]
    statuses += ["assigned", "reported"]
    codes += [_code(4), None]
    incidents = sm.incidents_frame(points, statuses=statuses, grid_codes=codes)
    workers = sm.workers_frame({
        "W1": (_code(1), [_code(2), _code(6)]),
        "W2": (_code(3), []),
        "W3": (OTHER_COMMUNITY_GRID, [_code(1)]),
        "W4": (_code(6), []),
    })  # fmt: skip
    elsewhere = sm.incidents_frame([sm.block_centre(sm.COLS + 5, 0)], statuses=["reported"], grid_codes=[None])
    elsewhere["incident_id"], elsewhere["community_code"] = "E-ELSEWHERE", None  # another place, no community
    with store.transaction() as tx:
        tx.insert(schema.INCIDENTS, incidents)
        tx.insert(schema.INCIDENTS, elsewhere)
        tx.insert(schema.WORKERS, workers)
    return incidents


def _stage_new(store) -> int:
    with store.transaction() as tx:
        return stage_generation(tx, sm.COMMUNITY, sm.grids_from_layout(NEW_LAYOUT), created_by="planner1")


def test_activation_relinks_open_incidents_by_location_and_workers_by_overlap(store):
    incidents = _seed(store)
    before_inc = store.read(schema.INCIDENTS).set_index("incident_id")
    before_wrk = store.read(schema.WORKERS).set_index("worker_id")
    gen = _stage_new(store)
    result = activate_with_report(store, gen, actor="planner1")
    report = result.relink
    assert result.retired == 1 and report.retired_generation_id == 1
    assert report.code_map == {_code(1): _code(2), _code(2): _code(2), _code(3): _code(3), _code(4): _code(4),
                               _code(5): _code(5), _code(6): _code(7)}  # fmt: skip

    after_inc = store.read(schema.INCIDENTS).set_index("incident_id")
    changed = [i for i in after_inc.index if after_inc.at[i, "grid_code"] != before_inc.at[i, "grid_code"]]
    assert sorted(link.incident_id for link in report.incidents) == sorted(changed)
    assert report.counts["incidents"] == len(changed) == 4 + 4 + 2  # 4 open in old grid 1, 4 in old 6, 2 fixed
    for link in report.incidents:
        assert after_inc.at[link.incident_id, "grid_code"] == link.new_grid_code
        assert before_inc.at[link.incident_id, "grid_code"] == link.old_grid_code or (
            link.old_grid_code is None and pd.isna(before_inc.at[link.incident_id, "grid_code"]))
    closed = incidents.loc[incidents["status"] == "closed", "incident_id"]
    assert (after_inc.loc[closed, "grid_code"] == before_inc.loc[closed, "grid_code"]).all()  # history stays
    misfiled, unfiled = incidents["incident_id"].iloc[-2:]
    assert after_inc.at[misfiled, "grid_code"] == _code(5) and after_inc.at[unfiled, "grid_code"] == _code(3)
    assert (after_inc["version"].isna()).all()  # handling state untouched

    after_wrk = store.read(schema.WORKERS).set_index("worker_id")
    assert after_wrk.at["W1", "grid_code"] == _code(2) and after_wrk.at["W1", "extra_grid_codes"] == [_code(7)]
    assert after_wrk.at["W2", "grid_code"] == _code(3)
    assert after_wrk.at["W3", "grid_code"] == OTHER_COMMUNITY_GRID
    assert after_wrk.at["W3", "extra_grid_codes"] == [_code(2)]
    assert after_wrk.at["W4", "grid_code"] == _code(7)
    changed_workers = {w for w in after_wrk.index
                       if after_wrk.at[w, "grid_code"] != before_wrk.at[w, "grid_code"]
                       or after_wrk.at[w, "extra_grid_codes"] != before_wrk.at[w, "extra_grid_codes"]}  # fmt: skip
    assert {w.worker_id for w in report.workers} == changed_workers == {"W1", "W3", "W4"}
    assert report.counts["workers"] == 3 and report.unresolved == []
    audit = store.read(schema.AUDIT_LOG, where={"action": "generation.relink", "target": f"{sm.COMMUNITY}#{gen}"})
    assert len(audit) == 1 and audit.iloc[0]["detail"]["counts"] == report.counts
    assert audit.iloc[0]["actor"] == "planner1"


def test_a_failing_hook_rolls_back_activation_and_relinking(store):
    _seed(store)
    before = store.read(schema.INCIDENTS)["grid_code"].tolist()
    gen = _stage_new(store)

    def broken(tx, ctx):  # runs after the re-link, inside the same transaction
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        activate_with_report(store, gen, hooks=(relink_hook, broken))
    assert store.read(schema.INCIDENTS)["grid_code"].tolist() == before
    statuses = dict(zip(*[store.read(schema.GENERATIONS)[c] for c in ("generation_id", "status")], strict=True))
    assert statuses == {1: GenerationStatus.ACTIVE.value, gen: GenerationStatus.STAGED.value}
    assert store.read(schema.WORKERS).set_index("worker_id").at["W1", "grid_code"] == _code(1)


def test_cli_activation_prints_counts_and_writes_the_full_report(tmp_path, settings):
    import json

    from click.testing import CliRunner

    from gridmap.cli.main import cli
    from gridmap.store import open_store

    url = f"gpkg://{tmp_path / 'r.gpkg'}"
    store = open_store(url, settings)
    _seed(store)
    gen = _stage_new(store)
    before = store.read(schema.INCIDENTS).set_index("incident_id")["grid_code"]
    store.close()
    report_path = tmp_path / "relink.json"
    out = CliRunner().invoke(cli, ["generations", "activate", str(gen), "--store", url,
                                   "--relink-report", str(report_path)])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert f"generation {gen} active (retired 1); re-linked 10 incidents and 3 workers" in out.output
    [report] = json.loads(report_path.read_text(encoding="utf-8"))
    store = open_store(url, settings)
    after = store.read(schema.INCIDENTS).set_index("incident_id")["grid_code"]
    changed = sorted(i for i in after.index if after[i] != before[i])
    assert sorted(i["incident_id"] for i in report["incidents"]) == changed and not report["incidents_truncated"]
    assert {w["worker_id"] for w in report["workers"]} == {"W1", "W3", "W4"}
    store.close()
