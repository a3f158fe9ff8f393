"""The home dashboard of a signed-in account (``/dashboard``) and the navigation every page shows.

One dashboard, cut per role: the account's area on a map (its own outlines and grids, the open
incidents in it for the roles that handle them) and the key numbers of that area: households,
grids, grid workers, open incidents and overdue incidents, read from the store and localised.
The command centre's map also receives new incidents live (``static/js/live.js`` on
``/api/v1/events``). Shortcuts and the navigation list only pages that are registered in this app and
that the role may open, so pages of other blueprints appear as they land.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
from flask import Blueprint, Flask, current_app, render_template, request, url_for

from gridmap import schema
from gridmap.auth.principal import Principal
from gridmap.model import Role
from gridmap.portal.auth import current_principal, login_required, principal_or_public, rows_in_scope
from gridmap.portal.home.area_map import area_map
from gridmap.portal.i18n.translator import Translator, current_language
from gridmap.portal.maps.assets import fragments_from_map
from gridmap.portal.maps.markers import CircleMarkers, CircleStyle, PointMarker
from gridmap.portal.state import csp_nonce, portal_state
from gridmap.services.analysis import incident_scope_codes
from gridmap.services.hierarchy_view import hierarchy_attributes, hierarchy_counts
from gridmap.services.incidents import CLOSED_STATUSES, UNHANDLED_STATUSES, Status
from gridmap.store import Store

bp = Blueprint("dashboard", __name__)

#: Open incidents drawn on a dashboard map at most (the newest); the numbers count all of them.
MAX_MAP_INCIDENTS = 1000
#: Leaflet's marker pane (z-index 600): above the grid and boundary panes, so incidents stay clickable.
INCIDENT_PANE = "markerPane"
#: Roles that see incidents on their dashboard map.
INCIDENT_ROLES = frozenset({Role.ADMIN, Role.COMMAND, Role.WORKER, Role.ANALYST})
#: Statuses of incidents not yet closed (the closed loop of gridmap.incidents.workflow).
_OPEN_STATUSES = tuple(sorted(s.value for s in Status if s not in CLOSED_STATUSES))


@dataclass(frozen=True)
class NavItem:
    """A navigation entry: shown when ``endpoint`` exists in the app and the caller's role is allowed."""

    endpoint: str
    label_key: str
    #: None: everyone (the public too); empty: any signed-in role; else these roles (admins always).
    roles: frozenset[Role] | None = None
    #: Only for accounts bound to the whole installation (area ""), e.g. the audit log of every area.
    whole_installation: bool = False


ANY_SIGNED_IN: frozenset[Role] = frozenset()
#: The navigation, in order. Other blueprints add their page here (a missing endpoint is skipped).
NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("pages.home", "nav.home"),
    NavItem("resident.resident_page", "resident.nav"),
    NavItem("dashboard.dashboard", "nav.dashboard", ANY_SIGNED_IN),
    NavItem("incidents.list_page", "nav.incidents",
            frozenset({Role.COMMAND, Role.WORKER, Role.ANALYST, Role.PLANNER})),
    NavItem("incidents.new_page", "nav.report", None),
    NavItem("incidents.assessment_page", "nav.assessment", frozenset({Role.COMMAND, Role.ANALYST})),
    NavItem("analysis.hotspots_page", "nav.analysis", frozenset({Role.COMMAND, Role.ANALYST, Role.PLANNER})),
    NavItem("planner.index", "nav.planner", frozenset({Role.PLANNER})),
    NavItem("command.live_page", "nav.command", frozenset({Role.COMMAND, Role.ANALYST})),
    NavItem("command.workers_page", "nav.workers", frozenset({Role.COMMAND, Role.ANALYST, Role.PLANNER})),
    NavItem("command.patrol_page", "nav.patrol", frozenset({Role.COMMAND, Role.ANALYST})),
    NavItem("field.field_page", "nav.field", frozenset({Role.WORKER})),
    NavItem("field.diaries_page", "nav.diaries", frozenset({Role.COMMAND})),
    NavItem("admin.users", "nav.users", frozenset({Role.ADMIN})),
    NavItem("admin.audit", "nav.audit", frozenset({Role.ADMIN}), whole_installation=True),
)


def allowed(item: NavItem, principal: Principal) -> bool:
    if item.roles is None:
        return True
    if principal.is_public or (item.whole_installation and principal.area_code):
        return False
    return not item.roles or principal.role is Role.ADMIN or principal.role in item.roles


def nav_items(app: Flask, principal: Principal) -> list[NavItem]:
    """The entries this caller sees in this app."""
    return [i for i in NAV_ITEMS if i.endpoint in app.view_functions and allowed(i, principal)]


def _nav_globals() -> dict[str, Any]:
    items = nav_items(current_app, principal_or_public())
    return {"nav": [{"url": url_for(i.endpoint), "label_key": i.label_key, "current": request.endpoint == i.endpoint,
                     "endpoint": i.endpoint} for i in items]}


@bp.record_once
def _install(setup: Any) -> None:
    setup.app.context_processor(_nav_globals)


# -- numbers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaNumbers:
    """Key numbers of an account's area. None: nothing known (e.g. no household counts)."""

    households: int | None
    grids: int
    workers: int
    open_incidents: int
    overdue: int


def open_incidents(store: Store, principal: Principal, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Incidents not closed whose area lies in the caller's area (see ``services.analysis.incident_scope_codes``)."""
    wanted = None if columns is None else sorted({*columns, "status", "street_code", "community_code", "grid_code"})
    frame = store.read(schema.INCIDENTS, where={"status": list(_OPEN_STATUSES)}, columns=wanted)
    frame = frame.assign(_scope=incident_scope_codes(frame))
    return rows_in_scope(frame, principal, column="_scope").drop(columns="_scope")


def area_numbers(store: Store, principal: Principal, *, now: datetime | None = None) -> AreaNumbers:
    """Households, grids, workers, open and overdue incidents of the caller's area."""
    areas, grids = hierarchy_attributes(store)
    counts = hierarchy_counts(rows_in_scope(areas, principal), rows_in_scope(grids, principal))
    workers = store.read(schema.WORKERS, columns=["grid_code", "active"])
    workers = rows_in_scope(workers, principal, column="grid_code")
    active_workers = int((workers["active"].astype("boolean").fillna(True)).sum()) if len(workers) else 0
    incidents = open_incidents(store, principal, columns=["deadline_at"])
    moment = pd.Timestamp(now or datetime.now(UTC))
    unhandled = incidents["status"].isin([s.value for s in UNHANDLED_STATUSES])
    overdue = unhandled & incidents["deadline_at"].notna() & (incidents["deadline_at"] < moment)
    return AreaNumbers(
        households=counts.households,
        grids=counts.grids,
        workers=active_workers,
        open_incidents=len(incidents),
        overdue=int(overdue.sum()),
    )


# -- map -------------------------------------------------------------------------------------------


def incident_layer(
    incidents: gpd.GeoDataFrame, tr: Translator, category_names: Mapping[str, str]
) -> folium.FeatureGroup:
    """Open incidents as small circles (one :class:`CircleMarkers` element); popups are text nodes only
    (descriptions and categories are the public's words)."""
    layer = folium.FeatureGroup(name=tr("layer.incidents"), show=True)
    label = tr("incident.reported_at")
    points = []
    for row in incidents.itertuples(index=False):
        geom = getattr(row, "geometry", None)
        if geom is None or geom.is_empty:
            continue
        reported = tr.datetime(row.reported_at) if pd.notna(row.reported_at) else tr("value.unknown")
        points.append(PointMarker(lat=float(geom.y), lon=float(geom.x),
                                  title=category_names.get(str(row.category), str(row.category)),
                                  lines=(f"{label}: {reported}",), marker_id=str(row.incident_id)))
    CircleMarkers(points, style=CircleStyle(class_name="gm-incident", pane=INCIDENT_PANE)).add_to(layer)
    return layer


def _category_names(lang: str) -> dict[str, str]:
    from gridmap.services.incidents import policy_from_settings

    catalogue = policy_from_settings(portal_state().settings).catalogue
    return {c.service_code: c.name(lang) for c in catalogue}


def dashboard_map(store: Store, principal: Principal, lang: str) -> folium.Map:
    """The account's area (outlines, grids) and, for incident roles, its newest open incidents."""
    m, _ = area_map(store, portal_state().settings, lang, lambda f: rows_in_scope(f, principal))
    if principal.role in INCIDENT_ROLES:
        incidents = open_incidents(store, principal, columns=["incident_id", "category", "reported_at", "geometry"])
        incidents = incidents.sort_values("reported_at", ascending=False).head(MAX_MAP_INCIDENTS)
        incident_layer(incidents, Translator(lang), _category_names(lang)).add_to(m)
        _controls_last(m)
    return m


def _controls_last(m: folium.Map) -> None:
    """Move the layer control (and what refers to it) after every layer: its script names them all."""
    for key in [k for k, child in m._children.items() if isinstance(child, folium.LayerControl)
                or type(child).__name__ == "CompactOnSmallScreens"]:
        m._children.move_to_end(key)


ROLE_SHORTCUTS: Mapping[Role, tuple[str, ...]] = MappingProxyType({
    Role.ADMIN: ("admin.users", "admin.audit", "incidents.list_page"),
    Role.PLANNER: ("planner.index", "pages.home"),
    Role.COMMAND: ("incidents.list_page", "incidents.assessment_page", "command.live_page"),
    Role.ANALYST: ("incidents.assessment_page", "incidents.list_page"),
    Role.WORKER: ("incidents.new_page", "incidents.list_page", "resident.resident_page"),
})


@bp.get("/dashboard")
@login_required
def dashboard() -> str:
    """The signed-in home: the area map, its numbers and the role's shortcuts."""
    state = portal_state()
    principal = current_principal()
    lang = current_language()
    m = dashboard_map(state.store, principal, lang)
    fragments = fragments_from_map(m, static_url=url_for("static", filename="").rstrip("/"), nonce=csp_nonce())
    shortcuts = [i for i in NAV_ITEMS if i.endpoint in ROLE_SHORTCUTS.get(principal.role, ())
                 and i.endpoint in current_app.view_functions and allowed(i, principal)]
    return render_template(
        "home/dashboard.html",
        map=fragments,
        numbers=area_numbers(state.store, principal),
        area_name=_area_name(state.store, principal.area_code),
        shortcuts=[{"url": url_for(i.endpoint), "label_key": i.label_key} for i in shortcuts],
        live=principal.role in (Role.COMMAND, Role.ADMIN),
        map_name=m.get_name(),
    )


def _area_name(store: Store, code: str) -> str | None:
    if not code:
        return None
    table = schema.GRIDS if len(code) == 15 else schema.AREAS
    rows = store.read(table, where={"code": code}, columns=["code", "name"])
    return None if rows.empty else str(rows.iloc[0]["name"])
