"""Planner pages: the communities of the planner's area with their generations, and the map editor.

Pages stay thin: they read generations and render; the editor page hands its script the API URLs
and texts as JSON (``tojson`` escapes them for a ``<script type="application/json">``), and the
script (``web/static/js/planner.js``) inserts every value from data with ``textContent`` only.
Role ``planner`` (admins pass) whose area covers the community; others are sent to the login page
(browsers) or get 401/403.

Map size: bounded by one community, whatever the size of the city, so the planner never switches
to vector tiles (``Settings.tiled_map_min_grids``). The index page has no map and reads no geometry.
The editor page embeds no geometry; its script loads ``planner_api.state``, which holds the one
community's boundary (read ``where code=``), its road blocks (cut from the roads clipped to that
boundary) and the grids of one generation, which ``editor_base`` checks belongs to that community
(an id of another community's generation is a 404). Previews and saves answer with the same one
generation's grids after the edits.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from flask import Blueprint, render_template, url_for

from gridmap import schema
from gridmap.auth.principal import Principal, require_area
from gridmap.codes import validate_code
from gridmap.errors import NotFoundError
from gridmap.model import AreaLevel, GenerationStatus, Role
from gridmap.portal.auth import current_principal, roles_required, rows_in_scope
from gridmap.portal.i18n.planner import planner_text, texts_for
from gridmap.portal.i18n.translator import current_language
from gridmap.portal.state import portal_state
from gridmap.services.planner_edits import band_of

bp = Blueprint("planner", __name__)


@bp.app_context_processor
def _texts() -> dict[str, Any]:
    lang = current_language()
    return {"pt": lambda key, **params: planner_text(key, lang, **params)}


def _generations_by_community(principal: Principal) -> dict[str, list[dict[str, Any]]]:
    store = portal_state().store
    gens = rows_in_scope(store.read(schema.GENERATIONS), principal, column="community_code")
    counts = store.read(schema.GRIDS, where={"generation_id": [int(g) for g in gens["generation_id"]] or [-1]},
                        columns=["generation_id"])["generation_id"].value_counts()  # fmt: skip
    out: dict[str, list[dict[str, Any]]] = {}
    for _, g in gens.sort_values("generation_id").iterrows():
        if g["status"] == GenerationStatus.RETIRED.value:
            continue
        gid = int(g["generation_id"])
        cert = g["certificate"] if isinstance(g["certificate"], dict) else None
        out.setdefault(str(g["community_code"]), []).append({
            "id": gid, "status": str(g["status"]), "version": int(g["version"]),
            "created_by": None if pd.isna(g["created_by"]) else str(g["created_by"]),
            "grids": int(counts.get(gid, 0)), "certificate_ok": None if cert is None else bool(cert.get("ok")),
            "note": None if pd.isna(g["note"]) else str(g["note"]),
        })  # fmt: skip
    return out


@bp.get("/planner")
@roles_required(Role.PLANNER)
def index() -> str:
    """Communities in the planner's area, each with its active and pending generations."""
    principal = current_principal()
    store = portal_state().store
    areas = rows_in_scope(store.read(schema.AREAS, where={"level": AreaLevel.COMMUNITY.value},
                                     columns=["code", "name"]), principal)  # fmt: skip
    gens = _generations_by_community(principal)
    communities = [{"code": str(r["code"]), "name": str(r["name"]), "generations": gens.get(str(r["code"]), [])}
                   for _, r in areas.sort_values("code").iterrows()]  # fmt: skip
    config = {"api": url_for("planner_api.state", code="CODE").replace("/communities/CODE/state", ""),
              "texts": texts_for(current_language(), ("done.", "editor.error", "btn."))}  # fmt: skip
    return render_template("planner/index.html", communities=communities, config=config)


@bp.get("/planner/<code>")
@roles_required(Role.PLANNER)
def editor(code: str) -> str:
    """The map editor of one community (its newest pending generation, else the active one)."""
    validate_code(code, AreaLevel.COMMUNITY)
    principal = current_principal()
    require_area(principal, code, what=f"community {code}")
    rows = portal_state().store.read(schema.AREAS, where={"code": code, "level": AreaLevel.COMMUNITY.value},
                                     columns=["code", "name"])  # fmt: skip
    if rows.empty:
        raise NotFoundError(f"community {code} not found")
    band = band_of(portal_state().settings, code)
    config = {
        "community": code,
        "stateUrl": url_for("planner_api.state", code=code),
        "previewUrl": url_for("planner_api.preview", code=code),
        "saveUrl": url_for("planner_api.save", code=code),
        "draftUrl": url_for("planner_api.draft", draft_id="DRAFT"),
        "band": {"min": band.min, "max": band.max},
        "texts": texts_for(current_language(), ("editor.", "legend.", "check.", "gen.")),
    }
    return render_template("planner/editor.html", community={"code": code, "name": str(rows.iloc[0]["name"])},
                           config=config)  # fmt: skip
