"""The ``gridmap`` command group. Each command module registers itself in ``COMMAND_MODULES``.

Commands are thin: parse options, build Settings once, call a service, print. Domain errors are
printed as one line (or JSON with --json where offered) and the process exits non-zero; a
traceback never reaches the user.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import click

from gridmap.config import Settings, load_settings
from gridmap.errors import GridmapError

#: Modules under gridmap.cli that define ``register(group)``; add yours here.
COMMAND_MODULES: tuple[str, ...] = (
    "serve", "lookup", "card", "validate", "demo", "partition", "data", "generations", "incidents", "users",
    "tracking", "planner", "analysis", "field",
)


@dataclass
class CliContext:
    settings: Settings

    def store_url(self, url: str | None) -> str:
        return url or self.settings.store_url


class GridmapGroup(click.Group):
    """Turns GridmapError into a clean message and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GridmapError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            sys.exit(2 if exc.http_status < 500 else 3)


@click.group(cls=GridmapGroup)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings file.")
@click.version_option(package_name="gridmap")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None) -> None:
    """gridmap: grids (网格) for community governance: partition, portal, lookup, analysis."""
    ctx.obj = CliContext(settings=load_settings(config_file))


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"gridmap.cli.{name}").register(cli)


_register_all()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
