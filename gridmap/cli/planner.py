"""``gridmap rebalance`` and ``gridmap filing``: the planner's commands.

``gridmap rebalance --community CODE [--store URL] [--commit] [--map before_after.html] [--json]``
proposes the smallest change that brings a community's active grids back into the household band
after households changed (``services.planner.rebalance_from_store``). Without --commit it is a dry run;
with --commit the proposal becomes a *staged* generation (approve and activate it with
``gridmap generations``). Exit status: 0 when every grid ends in band with a valid certificate, 1 when
the plan was made but a check still fails, 2 for bad input.

``gridmap filing --generation ID [--out DIR]`` (or ``--community CODE`` for its active generation)
writes the filing package (报备) of a generation: a GeoPackage (grids, community, certificate) and a
PDF summary (``services.filing``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gridmap.config import BAND_PRESETS

if TYPE_CHECKING:
    from gridmap.cli.main import CliContext
    from gridmap.services.planner import RebalanceOutcome

_OUT = click.Path(dir_okay=False, path_type=Path)


def _verdict(report: dict[str, Any]) -> str:
    stuck = report["out_of_band_after"]
    if stuck:
        return (f"; {len(stuck)} grid(s) stay outside {report['band']['min']}..{report['band']['max']} households"
                f" (no move, split or merge brings them in): {', '.join(stuck)}")
    return "" if report["changed"] else "; nothing to change: every grid is in band"


def _summary(outcome: RebalanceOutcome) -> str:
    r = outcome.plan.report

    def num(v: Any) -> str:
        return "-" if v is None else str(v)

    lines = [
        f"community {r['community_code']}: {r['blocks']} blocks; {r['blocks_moved']} blocks and"
        f" {r['households_moved']} households move; {len(r['codes_kept'])} codes kept,"
        f" new: {', '.join(r['codes_new']) or 'none'}; retired: {', '.join(r['codes_retired']) or 'none'}",
        f"certificate: {'ok' if outcome.plan.certificate.ok else 'FAILED'}" + _verdict(r),
    ]
    lines += [f"  {g['code']}  {g['status']:<7} households now {num(g['households_now']):>5}"
              f" -> {num(g['households_after']):>5}" for g in r["grids"]]  # fmt: skip
    if outcome.generation_id is not None:
        lines.append(f"staged as generation {outcome.generation_id} (gridmap generations approve/activate)")
    return "\n".join(lines)


def _band(obj: CliContext, code: str, preset: str | None, band_min: int | None, band_max: int | None) -> Any:
    """The community's configured band (urban 社区 or rural 村, P-5) unless --band/--min/--max say otherwise."""
    from gridmap.cli.partition import band_from_options
    from gridmap.services.partitioning import band_for_community

    if preset is None and band_min is None and band_max is None:
        return band_for_community(code, obj.settings)
    if preset is None:
        preset = obj.settings.band_for_community(code).name
    return band_from_options(obj.settings, preset, band_min, band_max)


def register(group: click.Group) -> None:
    """Add ``rebalance`` and ``filing`` to the gridmap group."""
    _register_rebalance(group)
    _register_filing(group)


def _register_rebalance(group: click.Group) -> None:
    @group.command("rebalance")
    @click.option("--community", "community_code", required=True, metavar="CODE", help="12-digit community code.")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings).")
    @click.option("--commit", is_flag=True, help="Stage the plan as a new generation (default: dry run).")
    @click.option("--map", "map_path", type=_OUT, help="Before/after HTML map.")
    @click.option("--json", "as_json", is_flag=True, help="Print the JSON report (with the certificate).")
    @click.option("--band", "preset", type=click.Choice(sorted(BAND_PRESETS)), help="Household band preset.")
    @click.option("--min", "band_min", type=click.IntRange(min=0), help="Minimum households per grid.")
    @click.option("--max", "band_max", type=click.IntRange(min=1), help="Maximum households per grid.")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed for splits (region strategy).")
    @click.option("--actor", default="cli", show_default=True, help="Name recorded as the generation's author.")
    @click.pass_obj
    def rebalance_command(obj: CliContext, community_code: str, store_url: str | None, commit: bool,
                          map_path: Path | None, as_json: bool, **opts: Any) -> None:  # fmt: skip
        """Bring a community's grids back into the household band, moving as little as possible."""
        from gridmap.services.planner import rebalance_from_store
        from gridmap.store import open_store

        band = _band(obj, community_code, opts["preset"], opts["band_min"], opts["band_max"])
        store = open_store(obj.store_url(store_url), obj.settings)
        try:
            outcome = rebalance_from_store(store, obj.settings, community_code, band=band, commit=commit,
                                           actor=opts["actor"], seed=opts["seed"])  # fmt: skip
        finally:
            store.close()
        if map_path is not None:
            from gridmap.portal.maps.assets import html_from_map, web_root
            from gridmap.services.planner import map_from_plan

            title = f"{community_code} rebalance: before / after"
            html = html_from_map(map_from_plan(outcome.plan, title=title), static_url=(web_root() / "static").as_uri())
            map_path.write_text(html, encoding="utf-8")
        if as_json:
            click.echo(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2, default=str))
        else:
            click.echo(_summary(outcome))
        sys.exit(0 if outcome.plan.certificate.ok else 1)


def _register_filing(group: click.Group) -> None:
    @group.command("filing")
    @click.option("--generation", "generation_id", type=int, metavar="ID", help="The generation to file.")
    @click.option("--community", "community_code", metavar="CODE", help="Or: the community's active generation.")
    @click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                  show_default=True, help="Folder for <community>_g<id>.gpkg and .pdf.")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings).")
    @click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
    @click.pass_obj
    def filing_command(obj: CliContext, generation_id: int | None, community_code: str | None, out_dir: Path,
                       store_url: str | None, as_json: bool) -> None:  # fmt: skip
        """Write the filing package (报备) of a generation: GeoPackage + PDF summary."""
        from gridmap.errors import NotFoundError, ValidationError
        from gridmap.services.filing import file_generation
        from gridmap.services.generations import active_generation_ids
        from gridmap.store import open_store

        if (generation_id is None) == (community_code is None):
            raise ValidationError("give --generation ID or --community CODE (its active generation), not both")
        store = open_store(obj.store_url(store_url), obj.settings)
        try:
            if generation_id is None:
                from gridmap import schema

                gens = store.read(schema.GENERATIONS, where={"community_code": community_code},
                                  columns=["generation_id"])  # fmt: skip
                active = sorted(set(active_generation_ids(store)) & {int(g) for g in gens["generation_id"]})
                if not active:
                    raise NotFoundError(f"community {community_code} has no active generation to file")
                generation_id = active[0]
            package = file_generation(store, obj.settings, generation_id, out_dir)
        finally:
            store.close()
        if as_json:
            click.echo(json.dumps(package.to_dict(), ensure_ascii=False, indent=2))
        else:
            verdict = {True: "ok", False: "FAILED", None: "not attached"}[package.certificate_ok]
            click.echo(f"generation {package.generation_id} ({package.community_code}): {package.grids} grids,"
                       f" {package.households} households, certificate {verdict}\n  {package.gpkg}\n  {package.pdf}")
