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
