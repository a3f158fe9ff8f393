"""The workers registry: import with Chinese roles, P-54 adjacency, unique devices, scope, all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridmap import schema
from gridmap.auth.principal import PUBLIC, Principal
from gridmap.errors import AuthenticationError, NotFoundError, PermissionDeniedError, ValidationError
from gridmap.model import Role
from gridmap.services.generations import active_grids
from gridmap.services.workers import (
    check_stored_registry,
    import_workers,
    neighbours_from_grids,
    worker_record,
    workers_in_scope,
)
from tests.tracking import world

HEADER = "worker_id,姓名,岗位,电话,grid_code,extra_grid_codes,partner_worker_id,device_id\n"


def write_csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "workers.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8-sig")
    return path


@pytest.fixture
def grids_only(store):
    world.populate_store(store, with_workers=False)
    return store


def test_neighbours_share_an_edge_and_a_corner_is_not_enough(grids_only) -> None:
    found = neighbours_from_grids(active_grids(grids_only))
    assert found[world.A] == {world.B, world.C}
    assert world.D not in found[world.A]  # A and D touch at one corner only
    assert found[world.D] == {world.B, world.C}


def test_import_translates_chinese_roles_and_checks_partners(grids_only, settings, tmp_path) -> None:
    path = write_csv(tmp_path, [
        f"w1,张三,专职网格员,13900000001,{world.A},,w2,phone-1",
        f"w2,李四,网格长,13900000002,{world.B},,w1,phone-2",
        f"w3,王五,兼职,13900000003,{world.C},{world.D},,phone-3",
    ])
    report = import_workers(grids_only, settings, path, actor="test")
    assert (report.read, report.added, report.replaced) == (3, 3, 0)
    stored = grids_only.read(schema.WORKERS).set_index("worker_id")
    assert stored.loc["w2", "role"] == "grid_leader" and stored.loc["w1", "role"] == "full_time"
    assert stored.loc["w3", "role"] == "part_time" and stored.loc["w3", "extra_grid_codes"] == [world.D]
    assert check_stored_registry(grids_only) == []
    # re-import updates a worker in place (moved to grid C, partner dropped on both sides)
    again = write_csv(tmp_path, [f"w1,张三,专职网格员,13900000001,{world.C},,,phone-9",
                                 f"w2,李四,网格长,13900000002,{world.B},,,phone-2"])
    report = import_workers(grids_only, settings, again)
    assert (report.added, report.replaced) == (0, 2)
    assert grids_only.read(schema.WORKERS, where={"worker_id": "w1"}).iloc[0]["device_id"] == "phone-9"
    assert grids_only.count(schema.WORKERS) == 3


@pytest.mark.parametrize(
    ("rows", "rule"),
    [
        ([f"w1,张三,专职网格员,1,{world.A},,w2,p1", f"w2,李四,专职网格员,2,{world.D},,w1,p2"], "partner_not_adjacent"),
        ([f"w1,张三,专职网格员,1,{world.A},,w1,p1"], "partner_self"),
        ([f"w1,张三,专职网格员,1,{world.A},,w9,p1"], "partner_unknown"),
        ([f"w1,张三,专职网格员,1,{world.A},,w2,p1", f"w2,李四,专职网格员,2,{world.B},,w3,p2",
          f"w3,王五,专职网格员,3,{world.C},,w2,p3"], "partner_not_mutual"),
        (["w1,张三,专职网格员,1,410611001001099,,,p1"], "grid_not_active"),
        ([f"w1,张三,专职网格员,1,{world.A},410611001001098,,p1"], "extra_grid_not_active"),
        ([f"w1,张三,专职网格员,1,{world.A},,,same", f"w2,李四,专职网格员,2,{world.B},,,same"], "duplicate_device"),
    ],
)
def test_registry_rules_refuse_the_whole_file(grids_only, settings, tmp_path, rows, rule) -> None:
    with pytest.raises(ValidationError) as caught:
        import_workers(grids_only, settings, write_csv(tmp_path, rows))
    assert caught.value.code == "invalid_workers"
    assert rule in {d["rule"] for d in caught.value.details}
    assert str(tmp_path / "workers.csv") in caught.value.message
    assert grids_only.count(schema.WORKERS) == 0


def test_an_unknown_role_title_is_refused_by_the_io_rules(grids_only, settings, tmp_path) -> None:
    with pytest.raises(ValidationError, match="role"):
        import_workers(grids_only, settings, write_csv(tmp_path, [f"w1,张三,队长,1,{world.A},,,p1"]))


def test_scope_and_the_same_404_for_missing_and_elsewhere(world_store) -> None:
    community = Principal("c1", Role.COMMAND, "410611001001")
    assert workers_in_scope(world_store, community)["worker_id"].tolist() == ["w-a", "w-b"]
    assert workers_in_scope(world_store, Principal("root", Role.ADMIN, ""), area="410611001002")[
        "worker_id"].tolist() == ["w-c", "w-x"]
    record = worker_record(world_store, community, "w-a")
    assert record["partner_name"] == "李四" and record["own_grids"] == [world.A]
    with pytest.raises(NotFoundError) as elsewhere:
        worker_record(world_store, community, "w-c")
    with pytest.raises(NotFoundError) as missing:
        worker_record(world_store, community, "nobody")
    assert elsewhere.value.message.replace("w-c", "X") == missing.value.message.replace("nobody", "X")
    with pytest.raises(AuthenticationError):
        workers_in_scope(world_store, PUBLIC)
    with pytest.raises(PermissionDeniedError):
        workers_in_scope(world_store, Principal("w", Role.WORKER, "410611001001"))
