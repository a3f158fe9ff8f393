"""``gridmap users add/list/disable/enable``: portal accounts from the command line.

Examples::

    echo 's3cret-pass' | gridmap users add li --role command --area 410611001001 --password-stdin
    gridmap users list --json
    gridmap users disable li

Passwords are read from standard input only (never an option: it would land in the shell history
and the process list). API tokens are ``gridmap tokens create/list/revoke`` (gridmap.cli.incidents).
Every change is audited with the actor ``cli:<OS user>``.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from gridmap.errors import ValidationError

if TYPE_CHECKING:
    from gridmap.cli.main import CliContext
    from gridmap.store import Store

ROLE_CHOICES = ("admin", "planner", "command", "analyst", "worker")
STORE_OPTION = click.option("--store", "store_url", metavar="URL", help="Store URL (default: settings.store_url).")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def cli_actor() -> str:
    """Who changes things from the command line, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in the environment or the passwd database
        return "cli"


@contextmanager
def opened_store(obj: CliContext, store_url: str | None) -> Iterator[Store]:
    from gridmap.store import open_store

    store = open_store(obj.store_url(store_url), obj.settings)
    try:
        yield store
    finally:
        store.close()


def password_from_stdin() -> str:
    """The first line of standard input, without its line break (a password may contain spaces)."""
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise ValidationError("--password-stdin: standard input was empty; pipe the password in")
    return password


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str | bool) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def print_rows(frame: pd.DataFrame, columns: tuple[str, ...], *, as_json: bool) -> None:
    """Rows as a JSON list or an aligned text table."""
    rows = [{c: _plain(r.get(c)) for c in columns} for r in frame.to_dict("records")]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    texts = [[("" if r[c] is None else str(r[c])) for c in columns] for r in rows]
    widths = [max([len(c), *(len(t[i]) for t in texts)]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for t in texts:
        click.echo("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)).rstrip())


def _users_group(group: click.Group) -> None:
    @group.group("users")
    def users() -> None:
        """Portal accounts: each bound to a role and an area (code prefix)."""

    @users.command("add")
    @click.argument("name")
    @click.option("--role", required=True, type=click.Choice(ROLE_CHOICES), help="What the account may do.")
    @click.option("--area", "area_code", default="", help="Area code (6/9/12/15 digits); empty only for admins.")
    @click.option("--display-name", default=None, help="Name shown in the portal (default: NAME).")
    @click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
    @STORE_OPTION
    @click.pass_obj
    def add(obj: CliContext, name: str, role: str, area_code: str, display_name: str | None, password_stdin: bool,
            store_url: str | None) -> None:
        """Add account NAME (the password comes from standard input)."""
        from gridmap.services.accounts import add_account

        password = password_from_stdin()
        with opened_store(obj, store_url) as store:
            add_account(store, name, role=role, area_code=area_code.strip(), password=password,
                        display_name=display_name, actor=cli_actor())
        click.echo(f"added {name.strip().lower()} ({role}, area {area_code.strip() or 'all'})")

    @users.command("list")
    @STORE_OPTION
    @JSON_OPTION
    @click.pass_obj
    def list_(obj: CliContext, store_url: str | None, as_json: bool) -> None:
        """List accounts (never their password hashes)."""
        from gridmap.services.accounts import list_accounts

        with opened_store(obj, store_url) as store:
            frame = list_accounts(store).sort_values("username")
        print_rows(frame, ("username", "display_name", "role", "area_code", "active", "created_at"), as_json=as_json)

    @users.command("disable")
    @click.argument("name")
    @STORE_OPTION
    @click.pass_obj
    def disable(obj: CliContext, name: str, store_url: str | None) -> None:
        """Disable account NAME: it can no longer sign in and its sessions end."""
        _set_active(obj, name, store_url, active=False)

    @users.command("enable")
    @click.argument("name")
    @STORE_OPTION
    @click.pass_obj
    def enable(obj: CliContext, name: str, store_url: str | None) -> None:
        """Enable account NAME again."""
        _set_active(obj, name, store_url, active=True)


def _set_active(obj: CliContext, name: str, store_url: str | None, *, active: bool) -> None:
    from gridmap.services.accounts import set_account_active

    with opened_store(obj, store_url) as store:
        set_account_active(store, name, active=active, actor=cli_actor())
    click.echo(f"{'enabled' if active else 'disabled'} {name.strip().lower()}")


def register(group: click.Group) -> None:
    """Add ``users`` to the gridmap group."""
    _users_group(group)
