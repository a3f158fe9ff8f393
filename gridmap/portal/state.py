"""The state one portal app keeps in ``app.extensions``, and how a request reaches it.

Why a module of its own: every blueprint needs the settings and the open store of the app that
serves the request. Reading them through ``current_app.extensions`` here, instead of importing
``app.py``, means no blueprint imports the factory that imports it (no import cycle), and several
apps can live side by side in one process (tests do) since nothing is global.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g

from gridmap.config import Settings
from gridmap.store import Store

#: ``app.extensions`` key of the :class:`PortalState`.
EXTENSION_KEY = "gridmap"
#: ``app.extensions`` key of callables that ``app.close_app`` runs (blueprints stop their threads there).
ON_CLOSE_KEY = "gridmap.on_close"


@dataclass(frozen=True)
class PortalState:
    """What every request of one app needs; kept in ``app.extensions["gridmap"]``."""

    settings: Settings
    store: Store
    #: True when create_app opened the store (and so may close it); False when it was passed in.
    owns_store: bool
    #: ``scheme://host`` of the basemap's tile servers: the only foreign origins in the CSP.
    tile_origins: tuple[str, ...] = ()


def portal_state() -> PortalState:
    """The state of the app handling the current request."""
    state = current_app.extensions[EXTENSION_KEY]
    assert isinstance(state, PortalState)
    return state


def csp_nonce() -> str:
    """This response's CSP nonce, for ``<script nonce=...>`` in templates."""
    return str(g.csp_nonce)
