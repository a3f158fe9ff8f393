"""`gridmap generations list/approve/activate` on a store with a partitioned community."""

from __future__ import annotations

import json

from click.testing import CliRunner
from test_partitioning import COMMUNITY, _seed_store

from gridmap import schema
from gridmap.cli.main import cli
from gridmap.partition.problem import Band
from gridmap.services.partitioning import partition_store
from gridmap.store import open_store


def test_generations_cli_round_trip(tmp_path, settings):
    url = f"gpkg://{tmp_path}/g.gpkg"
    store = open_store(url, settings)
    _seed_store(store)
    for seed in (1, 2):
        partition_store(store, settings, [COMMUNITY], band=Band(300, 500, 400), seed=seed, commit=True)
    runner = CliRunner()

    listed = runner.invoke(cli, ["generations", "list", "--store", url, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["generation_id"], r["status"], r["certificate_ok"]) for r in rows] == [
        (1, "staged", True), (2, "staged", True)]
    assert all(r["grids"] >= 1 for r in rows)

    approved = runner.invoke(cli, ["generations", "approve", "1", "--store", url])
    assert approved.exit_code == 0 and "approved" in approved.output
    again = runner.invoke(cli, ["generations", "approve", "1", "--store", url])
    assert again.exit_code != 0 and "only a staged one can be approved" in again.output

    both = runner.invoke(cli, ["generations", "activate", "1", "--all-staged", "--store", url])
    assert both.exit_code != 0 and "not both" in both.output
    done = runner.invoke(cli, ["generations", "activate", "--all-staged", "--store", url])
    assert done.exit_code == 0, done.output
    assert "generation 2 active" in done.output  # the newest pending generation of the community
    statuses = dict(zip(*[store.read(schema.GENERATIONS)[c] for c in ("generation_id", "status")], strict=True))
    assert statuses == {1: "approved", 2: "active"}
    missing = runner.invoke(cli, ["generations", "activate", "99", "--store", url])
    assert missing.exit_code != 0 and "generation 99 does not exist" in missing.output


def test_validate_store_mode(tmp_path, settings):
    url = f"gpkg://{tmp_path}/v.gpkg"
    store = open_store(url, settings)
    _seed_store(store)
    runner = CliRunner()
    none_yet = runner.invoke(cli, ["validate", "--community", COMMUNITY, "--store", url])
    assert none_yet.exit_code == 2 and "no active generation" in none_yet.output
    run = partition_store(store, settings, [COMMUNITY], band=Band(300, 500, 400), seed=1, commit=True)
    gen_id = run.outcomes[0].generation_id
    staged = runner.invoke(cli, ["validate", "--community", COMMUNITY, "--generation", str(gen_id), "--store", url])
    assert staged.exit_code == 0, staged.output
    assert f"generation {gen_id}: OK" in staged.output
    runner.invoke(cli, ["generations", "activate", str(gen_id), "--store", url])
    ok = runner.invoke(cli, ["validate", "--all", "--store", url, "--json"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output)
    assert report["ok"] is True and [c["community_code"] for c in report["communities"]] == [COMMUNITY]
    # a strict band the grids do not meet fails with exit 1 and names the grids
    strict = runner.invoke(cli, ["validate", "--all", "--store", url, "--min", "450", "--max", "470", "--json"])
    assert strict.exit_code == 1
    failed = [c for c in json.loads(strict.output)["communities"][0]["certificate"]["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["households_in_band"]
    # damage the coverage: delete one grid of the active generation -> a gap is reported
    first = store.read(schema.GRIDS, where={"generation_id": gen_id}).iloc[0]["code"]
    with store.transaction() as tx:
        tx.delete(schema.GRIDS, {"generation_id": gen_id, "code": first})
    gap = runner.invoke(cli, ["validate", "--community", COMMUNITY, "--store", url, "--json"])
    assert gap.exit_code == 1
    names = {c["name"] for c in json.loads(gap.output)["communities"][0]["certificate"]["checks"] if not c["ok"]}
    assert "covers_parent" in names and "buildings_assigned" in names
    mixed = runner.invoke(cli, ["validate", "--all", "--community", COMMUNITY, "--store", url])
    assert mixed.exit_code == 2 and "not both" in mixed.output


def test_partition_store_mode_cli(tmp_path, settings):
    url = f"gpkg://{tmp_path}/p.gpkg"
    store = open_store(url, settings)
    total = _seed_store(store)
    runner = CliRunner()
    dry = runner.invoke(cli, ["partition", "--all", "--store", url, "--json"])
    assert dry.exit_code == 0, dry.output
    body = json.loads(dry.output)
    assert body["committed"] is False and body["ok"] is True
    assert body["communities"][0]["households"] == total
    assert store.count(schema.GRIDS) == 0  # a dry run writes nothing
    committed = runner.invoke(cli, ["partition", "--community", COMMUNITY, "--store", url, "--commit", "--seed", "3"])
    assert committed.exit_code == 0, committed.output
    assert "generation 1" in committed.output and "staged" in committed.output
    assert store.count(schema.GENERATIONS) == 1 and store.count(schema.GRIDS) >= 1
    # an explicit band applies to every community; an impossible one fails with exit 1 and lists the grids
    tight = runner.invoke(cli, ["partition", "--all", "--store", url, "--min", "100", "--max", "110"])
    assert tight.exit_code == 1 and "above the band maximum 110" in tight.output
    stray = runner.invoke(cli, ["partition", "--all", "--store", url, "--out", str(tmp_path / "x.gpkg")])
    assert stray.exit_code == 2 and "drop --out" in stray.output
    neither = runner.invoke(cli, ["partition", "--store", url])
    assert neither.exit_code == 2 and "file mode needs --boundary" in neither.output


def test_a_village_is_partitioned_and_validated_with_its_own_band(tmp_path, settings):
    """村 (community part 200-399) uses the rural band 100-300 in partition and validate (P-5)."""
    village = "410611101201"
    url = f"gpkg://{tmp_path}/village.gpkg"
    store = open_store(url, settings)
    total = _seed_store(store, households_per_building=8, community=village)  # 24 blocks x 4 x 8 = 768
    runner = CliRunner()
    done = runner.invoke(cli, ["partition", "--all", "--store", url, "--commit", "--json"])
    assert done.exit_code == 0, done.output
    runner.invoke(cli, ["generations", "activate", "--all-staged", "--store", url])
    grids = store.read(schema.GRIDS)
    assert int(grids["households"].sum()) == total
    assert grids["households"].between(100, 300).all() and len(grids) >= 3  # 768 cannot be one urban grid
    own = runner.invoke(cli, ["validate", "--all", "--store", url, "--json"])
    assert own.exit_code == 0, own.output
    urban = runner.invoke(cli, ["validate", "--all", "--store", url, "--min", "300", "--max", "500"])
    assert urban.exit_code == 1  # the same grids judged by the urban band fail
