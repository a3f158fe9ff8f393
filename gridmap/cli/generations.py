"""``gridmap generations``: list, approve and activate boundary generations (版本) of grids."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from gridmap.cli.main import CliContext


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        try:
            return value.isoformat()
        except ValueError:  # NaT
            return None
    if isinstance(value, float) and value != value:
        return None
    return value


@click.group("generations")
def generations() -> None:
    """Grid generations: staged -> approved -> active -> retired."""


store_option = click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings).")


@generations.command("list")
@store_option
@click.option("--community", "community_code", metavar="CODE", help="Only this community.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_command(obj: CliContext, store_url: str | None, community_code: str | None, as_json: bool) -> None:
    """List generations with their status and grid counts."""
    from gridmap import schema
    from gridmap.store import open_store

    store = open_store(obj.store_url(store_url), obj.settings)
    where = {"community_code": community_code} if community_code else None
    gens = store.read(schema.GENERATIONS, where=where)
    rows = []
    for _, g in gens.iterrows():
        n = store.count(schema.GRIDS, where={"generation_id": int(g["generation_id"])})
        rows.append(
            {
                "generation_id": int(g["generation_id"]),
                "community_code": g["community_code"],
                "status": g["status"],
                "version": int(g["version"]),
                "grids": n,
                "created_at": _jsonable(g["created_at"]),
                "activated_at": _jsonable(g["activated_at"]),
                "certificate_ok": (g["certificate"] or {}).get("ok") if isinstance(g["certificate"], dict) else None,
            }
        )
    store.close()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no generations (run: gridmap partition --all --commit)")
    verdict = {True: "ok", False: "FAILED", None: "-"}
    for r in rows:
        click.echo(
            f"{r['generation_id']:>5}  {r['community_code']}  {r['status']:<8}  v{r['version']}  "
            f"{r['grids']:>3} grids  certificate={verdict[r['certificate_ok']]}"
        )


@generations.command("approve")
@click.argument("generation_id", type=int)
@store_option
@click.option("--actor", default="cli", show_default=True, help="Name recorded in the audit log.")
@click.pass_obj
def approve_command(obj: CliContext, generation_id: int, store_url: str | None, actor: str) -> None:
    """Approve a staged generation."""
    from gridmap.services.generations import approve_generation
    from gridmap.store import open_store

    store = open_store(obj.store_url(store_url), obj.settings)
    approve_generation(store, generation_id, actor=actor)
    store.close()
    click.echo(f"generation {generation_id} approved")


@generations.command("activate")
@click.argument("generation_id", type=int, required=False)
@store_option
@click.option("--all-staged", is_flag=True, help="Activate the newest staged/approved generation of every community.")
@click.option("--require-approval", is_flag=True, help="Refuse generations that were not approved.")
@click.option("--actor", default="cli", show_default=True, help="Name recorded in the audit log.")
@click.option(
    "--relink-report",
    "relink_report",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write every re-linked worker and incident (JSON) to this file.",
)
@click.pass_obj
def activate_command(
    obj: CliContext,
    generation_id: int | None,
    store_url: str | None,
    all_staged: bool,
    require_approval: bool,
    actor: str,
    relink_report: str | None,
) -> None:
    """Activate a generation (its community's previous active one is retired); workers and open
    incidents are re-linked to the new grids in the same transaction."""
    from gridmap.errors import ValidationError
    from gridmap.services.generations import activate_with_report, newest_pending_generations
    from gridmap.store import open_store

    if (generation_id is None) == (not all_staged):
        raise ValidationError("give a GENERATION_ID or --all-staged (not both)")
    store = open_store(obj.store_url(store_url), obj.settings)
    ids = [generation_id] if generation_id is not None else newest_pending_generations(store)
    reports = []
    for gid in ids:
        result = activate_with_report(store, gid, actor=actor, require_approval=require_approval)
        retired = result.retired
        counts = result.relink.counts if result.relink is not None else None
        click.echo(f"generation {gid} active" + (f" (retired {retired})" if retired is not None else "")
                   + (f"; re-linked {counts['incidents']} incidents and {counts['workers']} workers"
                      if counts else ""))  # fmt: skip
        if result.relink is not None:
            reports.append(result.relink.to_dict())
    store.close()
    if relink_report is not None:
        with open(relink_report, "w", encoding="utf-8") as fh:
            json.dump(reports, fh, ensure_ascii=False, indent=1, default=str)


def register(group: click.Group) -> None:
    group.add_command(generations)
