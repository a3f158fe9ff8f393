"""``gridmap rebalance``: dry run, JSON report, before/after map, --commit stages a generation."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from gridmap import schema
from gridmap.cli.main import cli
from gridmap.codes import grid_code
from gridmap.model import GenerationStatus
from gridmap.store import open_store
from tests.planner import sample as sm


def _prepared(tmp_path, settings, *, hostile: bool = False) -> str:
    url = f"gpkg://{tmp_path / 'p.gpkg'}"
    store = open_store(url, settings)
    sm.seed_community(store)
    sm.activate_layout(store)
    if hostile:
        with store.transaction() as tx:
            tx.update(schema.GRIDS, {"code": grid_code(sm.COMMUNITY, 5)}, {"name": "<script>alert(1)</script>"})
    sm.add_buildings(store, [(2, 0)], households=60)
    store.close()
    return url


def test_dry_run_json_and_map(tmp_path, settings):
    url = _prepared(tmp_path, settings, hostile=True)
    map_path = tmp_path / "before_after.html"
    out = CliRunner().invoke(cli, ["rebalance", "--community", sm.COMMUNITY, "--store", url, "--json",
                                   "--map", str(map_path)])  # fmt: skip
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["committed"] is False and report["generation_id"] is None
    assert report["certificate"]["ok"] is True
    assert report["blocks_moved"] >= 1 and report["households_moved"] == sum(
        a["households"] for a in report["actions"] if a["action"] == "move")
    html = map_path.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # vendored assets only, nothing online
    assert "moved blocks" in html and grid_code(sm.COMMUNITY, 5)[-3:] in html
    store = open_store(url, settings)
    assert store.count(schema.GENERATIONS) == 1  # dry run
    store.close()


def test_commit_stages_and_text_summary(tmp_path, settings):
    url = _prepared(tmp_path, settings)
    out = CliRunner().invoke(cli, ["rebalance", "--community", sm.COMMUNITY, "--store", url, "--commit",
                                   "--actor", "planner1"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "staged as generation 2" in out.output and "certificate: ok" in out.output
    store = open_store(url, settings)
    gens = store.read(schema.GENERATIONS).set_index("generation_id")
    assert gens.at[2, "status"] == GenerationStatus.STAGED.value and gens.at[2, "created_by"] == "planner1"
    assert "rebalance of generation 1" in gens.at[2, "note"]
    store.close()


def test_unknown_community_and_bad_band_exit_2(tmp_path, settings):
    url = _prepared(tmp_path, settings)
    missing = CliRunner().invoke(cli, ["rebalance", "--community", "410611001009", "--store", url])
    assert missing.exit_code == 2 and "410611001009" in missing.output
    bad = CliRunner().invoke(cli, ["rebalance", "--community", sm.COMMUNITY, "--store", url, "--min", "600",
                                   "--max", "500"])  # fmt: skip
    assert bad.exit_code == 2 and "--min (600) is greater than --max (500)" in bad.output


def test_the_band_is_the_communitys_own_unless_given(settings):
    from gridmap.cli.main import CliContext
    from gridmap.cli.planner import _band

    obj = CliContext(settings=settings)
    urban, rural = settings.household_band, settings.rural_household_band
    assert (_band(obj, "410611001001", None, None, None).min, _band(obj, "410611001001", None, None, None).max) == (
        urban.min_households, urban.max_households)
    village = _band(obj, "410611001201", None, None, None)  # community part 201: a village (村)
    assert (village.min, village.max) == (rural.min_households, rural.max_households)
    assert _band(obj, "410611001201", None, None, 250).max == 250  # --max overrides the village band only
    assert _band(obj, "410611001201", None, None, 250).min == rural.min_households
    assert _band(obj, "410611001201", "urban", None, None).min == 300
