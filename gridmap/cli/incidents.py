"""``gridmap tokens create|list|revoke`` (API keys for Open311 clients) and ``gridmap escalate`` (cron).

Thin: parse, open the store, call gridmap.auth / gridmap.services.incidents, print. A key is printed
once at creation; only its hash is stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # for the annotation only: gridmap.cli.main imports this module
    from gridmap.cli.main import CliContext


def _now_from_text(text: str | None) -> datetime:
    """``--now`` as an aware UTC datetime (ISO 8601; no offset means +08:00, China time)."""
    if not text:
        return datetime.now(UTC)
    from gridmap.services.incidents import datetime_from_text

    return datetime_from_text(text, name="--now")


def register(group: click.Group) -> None:
    """Add ``tokens``, ``escalate`` and ``incidents import`` to the gridmap group."""
    _register_tokens(group)
    _register_escalate(group)
    _register_import(group)


def _register_import(group: click.Group) -> None:
    @group.group("incidents")
    def incidents() -> None:
        """Incidents (事件) of the closed loop."""

    @incidents.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--crs", default=None, help="CRS of the file's coordinates when it does not say (e.g. gcj02).")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.pass_obj
    def import_command(obj: CliContext, file: str, crs: str | None, store_url: str | None) -> None:
        """Import a CSV/GeoJSON of incidents (hotline exports) into the loop: located to grids, version 1,
        a first event each; all or nothing. (``gridmap import incidents`` copies rows as a plain layer.)"""
        from gridmap.auth.principal import Principal
        from gridmap.model import Role
        from gridmap.services.incident_import import import_incidents
        from gridmap.services.incidents import IncidentService
        from gridmap.store import open_store

        store = open_store(obj.store_url(store_url), obj.settings)
        try:
            service = IncidentService(store, obj.settings)
            cli_admin = Principal(name="cli", role=Role.ADMIN, area_code="", via="cli")
            result = import_incidents(store, obj.settings, service, cli_admin, file, crs=crs, now=service.now())
        finally:
            store.close()
        click.echo(f"imported {result.written} incident(s) from {file} ({result.read} read)")


def _register_tokens(group: click.Group) -> None:
    @group.group("tokens")
    def tokens() -> None:
        """API keys (接口密钥) for machine clients: Open311 reporters, trackers, integrations."""

    @tokens.command("create")
    @click.option("--role", required=True, help="worker, command, analyst, planner or admin.")
    @click.option("--area", "area_code", required=True, metavar="CODE",
                  help="Area code the key is bound to (district, street, community or grid); '' for admin only.")
    @click.option("--label", default=None, help="What the key is for (shown in listings).")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.pass_obj
    def create(obj: CliContext, role: str, area_code: str, label: str | None, store_url: str | None) -> None:
        """Create a key and print it ONCE (only its hash is kept)."""
        from gridmap.services.accounts import create_token
        from gridmap.store import open_store

        store = open_store(obj.store_url(store_url), obj.settings)
        try:
            issued = create_token(store, role=role, area_code=area_code, label=label, actor="cli")
        finally:
            store.close()
        click.echo(issued.api_key)
        click.echo(f"token {issued.token_id}: role {role}, area {area_code or '(all)'}; store the key now, it is "
                   "not shown again", err=True)

    @tokens.command("list")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.pass_obj
    def list_tokens(obj: CliContext, store_url: str | None) -> None:
        """Token ids, roles, areas, labels and state (never the keys)."""
        from gridmap import schema
        from gridmap.store import open_store

        store = open_store(obj.store_url(store_url), obj.settings)
        try:
            frame = store.read(schema.API_TOKENS, columns=["token_id", "role", "area_code", "label", "created_at",
                                                           "revoked_at"])
        finally:
            store.close()
        for row in frame.to_dict("records"):
            state = "revoked" if row["revoked_at"] is not None and str(row["revoked_at"]) != "NaT" else "active"
            click.echo(f"{row['token_id']}\t{row['role']}\t{row['area_code'] or '(all)'}\t{state}\t"
                       f"{row['label'] or ''}")

    @tokens.command("revoke")
    @click.argument("token_id")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.pass_obj
    def revoke(obj: CliContext, token_id: str, store_url: str | None) -> None:
        """Revoke a key by its token id (it stops working at once)."""
        from gridmap.services.accounts import revoke_token
        from gridmap.store import open_store

        store = open_store(obj.store_url(store_url), obj.settings)
        try:
            revoke_token(store, token_id, actor="cli")
        finally:
            store.close()
        click.echo(f"token {token_id} revoked")


def _register_escalate(group: click.Group) -> None:
    @group.command("escalate")
    @click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
    @click.option("--now", "now_text", metavar="ISO", help="Pretend it is this time (ISO 8601), for replays/tests.")
    @click.option("--json", "as_json", is_flag=True, help="Print the sweep report as JSON.")
    @click.pass_obj
    def escalate(obj: CliContext, store_url: str | None, now_text: str | None, as_json: bool) -> None:
        """Escalate every overdue case one level and issue red/yellow cards (run from cron)."""
        from gridmap.services.incidents import IncidentService
        from gridmap.store import open_store

        now = _now_from_text(now_text)
        store = open_store(obj.store_url(store_url), obj.settings)
        try:
            report = IncidentService(store, obj.settings).escalate_overdue(now=now)
        finally:
            store.close()
        if as_json:
            click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
            return
        click.echo(f"{report.at.isoformat()}: {report.checked} open case(s) checked, {len(report.escalated)} "
                   f"escalated, {len(report.carded)} carded at the top, {len(report.skipped)} skipped")
        for item in report.skipped:
            click.echo(f"  skipped {item['incident_id']}: {item['reason']}", err=True)
