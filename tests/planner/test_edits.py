"""Editing grids (move a block, split along a line, merge) with validation and optimistic concurrency."""

from __future__ import annotations

import pytest

from gridmap import schema
from gridmap.codes import grid_code
from gridmap.errors import ConflictError, PartitionError, ValidationError
from gridmap.model import GenerationStatus
from gridmap.partition.edits import edits_from_json
from gridmap.services.generations import activate_generation
from gridmap.services.planner_edits import (
    drafts_of,
    editor_base,
    get_draft,
    planning_token,
    preview_edits,
    save_edits,
)
from tests.planner import sample as sm


def _code(seq: int) -> str:
    return grid_code(sm.COMMUNITY, seq)


def _households(grids) -> dict[str, int]:
    return dict(zip(grids["code"], grids["households"].astype(int), strict=True))


def _merge(keep: int, gone: int) -> list[dict]:
    return [{"op": "merge", "grids": [_code(keep), _code(gone)]}]


def _lonlat(point) -> list[float]:
    return [point.x, point.y]


@pytest.fixture
def community(store):
    sm.seed_community(store)
    sm.activate_layout(store)
    return store


def test_merging_two_grids_that_lost_households_is_valid_and_savable(community, settings):
    store = community
    sm.demolish(store, [(0, 2), (0, 3), (2, 2), (2, 3)])  # grids 1 and 2 drop to 180 households each
    preview = preview_edits(store, settings, sm.COMMUNITY, generation_id=1, edits=_merge(1, 2), band=sm.BAND)
    assert preview.base_out_of_band == 2 and preview.out_of_band == 0
    assert preview.savable and preview.certificate.ok, preview.problems
    hh = _households(preview.grids)
    assert _code(2) not in hh and hh[_code(1)] == 360 and sum(hh.values()) == 6 * 360 - 360
    assert preview.changes == [{"op": "merge", "keep": _code(1), "retired": _code(2)}]
    saved = save_edits(store, settings, sm.COMMUNITY, generation_id=1, token=editor_base(store, sm.COMMUNITY).token,
                       edits=_merge(1, 2), band=sm.BAND, actor="planner1")  # fmt: skip
    assert (saved.generation_id, saved.version, saved.updated) == (2, 1, False)
    gens = store.read(schema.GENERATIONS).set_index("generation_id")
    assert gens.at[2, "status"] == GenerationStatus.STAGED.value and gens.at[2, "created_by"] == "planner1"
    assert gens.at[2, "certificate"]["ok"] is True
    assert sorted(store.read(schema.GRIDS, where={"generation_id": 2})["code"]) == [_code(s) for s in (1, 3, 4, 5, 6)]


def test_a_move_that_pushes_a_grid_out_of_band_is_shown_but_not_saved(community, settings):
    store = community
    move = [{"op": "move_block", "point": _lonlat(sm.block_centre(1, 2)), "to": _code(2)}]
    preview = preview_edits(store, settings, sm.COMMUNITY, generation_id=1, edits=move, band=sm.BAND)
    hh = _households(preview.grids)
    assert (hh[_code(1)], hh[_code(2)]) == (270, 450)
    assert not preview.savable and preview.out_of_band == 1
    assert any("outside the household band" in p for p in preview.problems)
    band_check = next(c for c in preview.certificate.checks if c.name == "households_in_band")
    assert [i["grid"] for i in band_check.issues] == [_code(1)]  # the violation the map shows
    with pytest.raises(PartitionError, match="cannot be saved") as err:
        save_edits(store, settings, sm.COMMUNITY, generation_id=1, token=planning_token(store, sm.COMMUNITY),
                   edits=move, band=sm.BAND, actor="planner1")  # fmt: skip
    assert err.value.http_status == 422
    assert store.count(schema.GENERATIONS) == 1


def test_a_move_that_fixes_an_overfull_grid_is_savable(community, settings):
    store = community
    sm.add_buildings(store, [(0, 2)], households=50)  # grid 1: 360 -> 510
    move = [{"op": "move_block", "point": _lonlat(sm.block_centre(1, 2)), "to": _code(2)}]
    preview = preview_edits(store, settings, sm.COMMUNITY, generation_id=1, edits=move, band=sm.BAND)
    assert _households(preview.grids)[_code(1)] == 420 and preview.savable, preview.problems


def test_split_along_a_road_gets_the_next_code_and_a_line_through_buildings_is_refused(community, settings):
    store = community
    x = sm.W + sm.DX  # the road between columns 0 and 1, across grid 1
    line = [[x, sm.S + 2 * sm.DY - 0.0005], [x, sm.S + 4 * sm.DY + 0.0005]]
    preview = preview_edits(store, settings, sm.COMMUNITY, generation_id=1,
                            edits=[{"op": "split", "grid": _code(1), "line": line}], band=sm.BAND)  # fmt: skip
    hh = _households(preview.grids)
    assert (hh[_code(1)], hh[_code(7)]) == (180, 180)  # 007: after every code used so far
    assert preview.changes == [{"op": "split", "grid": _code(1), "new": _code(7)}]
    assert preview.cut_buildings == []
    y = sm.block_centre(0, 2).y  # through the row of buildings of block (0, 2)
    through = [[sm.W - 0.0005, y], [sm.W + 2 * sm.DX + 0.0005, y]]
    cut = preview_edits(store, settings, sm.COMMUNITY, generation_id=1,
                        edits=[{"op": "split", "grid": _code(1), "line": through}], band=sm.BAND)  # fmt: skip
    assert sorted(cut.cut_buildings) == ["b020", "b021", "b022", "b120", "b121", "b122"]
    assert not cut.savable and any("cuts through building" in p for p in cut.problems)


def test_edits_that_break_a_rule_name_it(community, settings):
    store = community

    def preview(edits):
        return preview_edits(store, settings, sm.COMMUNITY, generation_id=1, edits=edits, band=sm.BAND)

    with pytest.raises(ValidationError, match="do not share a boundary"):
        preview(_merge(1, 6))
    with pytest.raises(ValidationError, match="not next to grid"):
        preview([{"op": "move_block", "point": _lonlat(sm.block_centre(0, 3)), "to": _code(3)}])
    with pytest.raises(ValidationError, match="cut it in two"):
        preview([{"op": "split", "grid": _code(1), "line": [[sm.W + 0.0001, sm.S + 3 * sm.DY],
                                                             [sm.W + 0.0002, sm.S + 3 * sm.DY]]}])  # fmt: skip
    with pytest.raises(ValidationError, match="op must be one of"):
        edits_from_json([{"op": "delete", "grids": [_code(1)]}])
    with pytest.raises(ValidationError, match="edit 2 point"):
        edits_from_json([{"op": "merge", "grids": [_code(1), _code(2)]}, {"op": "move_block", "point": [1],
                                                                          "to": _code(1)}])  # fmt: skip
    with pytest.raises(PartitionError, match="nothing to save"):
        save_edits(store, settings, sm.COMMUNITY, generation_id=1, token=planning_token(store, sm.COMMUNITY),
                   edits=[], band=sm.BAND, actor="p")  # fmt: skip


def test_second_save_on_a_stale_version_is_409_and_keeps_the_draft(community, settings):
    store = community
    sm.demolish(store, [(0, 2), (0, 3), (2, 2), (2, 3), (0, 0), (0, 1), (2, 0), (2, 1)])  # grids 1, 2, 4, 5: 180
    opened = editor_base(store, sm.COMMUNITY)  # both planners open the active generation
    assert (opened.generation_id, opened.token) == (1, "1.2/1.2")
    first = save_edits(store, settings, sm.COMMUNITY, generation_id=1, token=opened.token, edits=_merge(1, 2),
                       band=sm.BAND, actor="alice")  # fmt: skip
    assert first.generation_id == 2
    bob_edits = _merge(4, 5)
    with pytest.raises(ConflictError, match="kept as draft") as err:
        save_edits(store, settings, sm.COMMUNITY, generation_id=1, token=opened.token, edits=bob_edits,
                   band=sm.BAND, actor="bob")  # fmt: skip
    assert err.value.http_status == 409
    draft_id = err.value.details["draft_id"]
    assert store.count(schema.GENERATIONS) == 2  # bob's save wrote no generation...
    draft = get_draft(store, draft_id, owner="bob")  # ...but nothing is lost
    assert draft["edits"] == bob_edits and draft["status"] == "conflict" and draft["base_generation_id"] == 1
    assert [d["draft_id"] for d in drafts_of(store, sm.COMMUNITY, owner="bob")] == [draft_id]
    assert drafts_of(store, sm.COMMUNITY, owner="alice") == []
    with pytest.raises(Exception, match="not found"):
        get_draft(store, draft_id, owner="alice")
    # bob reopens the newest version (alice's staged generation) and re-applies his draft on top of it
    fresh = editor_base(store, sm.COMMUNITY)
    assert fresh.generation_id == 2 and fresh.created_by == "alice"
    again = save_edits(store, settings, sm.COMMUNITY, generation_id=2, token=fresh.token, edits=draft["edits"],
                       band=sm.BAND, actor="bob")  # fmt: skip
    assert (again.generation_id, again.updated) == (3, False)  # alice's draft generation is not overwritten
    codes = sorted(store.read(schema.GRIDS, where={"generation_id": 3})["code"])
    assert codes == [_code(s) for s in (1, 3, 4, 6)]


def test_saving_again_updates_the_planners_own_staged_generation(community, settings):
    store = community
    sm.demolish(store, [(0, 2), (0, 3), (2, 2), (2, 3), (0, 0), (0, 1), (2, 0), (2, 1)])
    first = save_edits(store, settings, sm.COMMUNITY, generation_id=1, token=planning_token(store, sm.COMMUNITY),
                       edits=_merge(1, 2), band=sm.BAND, actor="alice")  # fmt: skip
    second = save_edits(store, settings, sm.COMMUNITY, generation_id=first.generation_id, token=first.token,
                        edits=_merge(4, 5), band=sm.BAND, actor="alice")  # fmt: skip
    assert (second.generation_id, second.version, second.updated) == (2, 2, True)
    assert store.count(schema.GENERATIONS) == 2
    assert sorted(store.read(schema.GRIDS, where={"generation_id": 2})["code"]) == [_code(s) for s in (1, 3, 4, 6)]
    # activation (someone else's step) changes the token: a save from the old view is stale
    activate_generation(store, 2, actor="lead")
    with pytest.raises(ConflictError):
        save_edits(store, settings, sm.COMMUNITY, generation_id=2, token=second.token, edits=_merge(1, 3),
                   band=sm.BAND, actor="alice")  # fmt: skip
