"""HTML pages. For now the home page: the whole hierarchy on one full-height map.

Pages stay thin: read through ``gridmap.services.hierarchy_view``, build the map with the pure builders in
``gridmap.portal.maps.hierarchy``, render a template that extends ``base.html``.
"""

from __future__ import annotations

from flask import Blueprint, render_template, url_for

from gridmap.portal.auth import current_principal, public_layer_rows
from gridmap.portal.home.area_map import area_map
from gridmap.portal.i18n.translator import current_language
from gridmap.portal.maps.assets import fragments_from_map
from gridmap.portal.state import csp_nonce, portal_state

bp = Blueprint("pages", __name__)


def static_root() -> str:
    """The URL prefix of /static for this request (honours a SCRIPT_NAME mount point)."""
    return url_for("static", filename="").rstrip("/")


@bp.get("/")
def home() -> str:
    """The hierarchy map (districts, streets, communities, active grids) with counts in the header.

    Scope-aware: the public sees the public layers everywhere, a signed-in account its own area.
    """
    state = portal_state()
    principal = current_principal()  # the public sees every public layer, an account its own area
    m, counts = area_map(state.store, state.settings, current_language(), lambda f: public_layer_rows(f, principal))
    fragments = fragments_from_map(m, static_url=static_root(), nonce=csp_nonce())
    return render_template(
        "home/index.html",
        map=fragments,
        counts=counts,
        empty=counts.districts + counts.streets + counts.communities + counts.grids == 0,
    )
