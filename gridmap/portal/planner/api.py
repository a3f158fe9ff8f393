"""The planner's JSON API (``/api/v1/planner``): edit grids on the map, rebalance, approve, activate, file.

Who: role ``planner`` (admins pass) whose area covers the community. A community code outside the
caller's area is refused from the code alone (403) before the store is read; a generation or draft
found by id answers the same 404 whether it is missing or elsewhere (no existence oracle). Unsafe
requests from a browser session carry the CSRF header (``gridmap.portal.csrf``). Errors go through
``gridmap.portal.errors``: 400 bad input, 409 stale version (the edits are kept as a draft named in
``error.details.draft_id``), 422 edits that break a rule.

Routes:

* ``GET  /communities/<code>/state[?generation=ID]``: base generation, token, community, grids, blocks,
  band and the caller's kept drafts (GeoJSON in lon/lat);
* ``POST /communities/<code>/preview`` ``{generation_id, edits}``: grids after the edits + certificate;
* ``POST /communities/<code>/save`` ``{generation_id, token, edits, note?}``: 201 with the generation;
* ``GET  /communities/<code>/drafts``, ``GET /drafts/<id>``: the caller's kept drafts;
* ``GET  /communities/<code>/generations``; ``POST /communities/<code>/rebalance`` ``{commit}``;
* ``POST /generations/<id>/approve`` and ``/activate`` ``{version?}``; ``GET /generations/<id>/filing.pdf``
  and ``filing.gpkg``.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from flask import Blueprint, Response, current_app, request, send_file
from shapely.geometry import mapping

from gridmap import schema
from gridmap.auth.principal import Principal, require_area, require_role
from gridmap.codes import validate_code
from gridmap.errors import NotFoundError, PartitionError, ValidationError
from gridmap.model import AreaLevel, GenerationStatus, Role
from gridmap.portal.auth import current_principal, require_visible
from gridmap.portal.lookup.api import SERVICE_KEY as LOOKUP_SERVICE_KEY
from gridmap.portal.state import portal_state
from gridmap.services.generations import activate_with_report, approve_generation, get_generation
from gridmap.services.lookup import LookupService
from gridmap.services.planner import HOUSEHOLDS_IN_BAND, rebalance_from_store
from gridmap.services.planner_edits import (
    band_of,
    community_blocks,
    drafts_of,
    editor_base,
    get_draft,
    preview_edits,
    save_edits,
)

bp = Blueprint("planner_api", __name__, url_prefix="/api/v1/planner")


def planner_for(code: str) -> Principal:
    """The caller, if a planner whose area covers community ``code`` (400 for a malformed code)."""
    validate_code(code, AreaLevel.COMMUNITY)
    principal = current_principal()
    require_role(principal, Role.PLANNER)
    require_area(principal, code, what=f"community {code}")
    return principal


def _generation_for(generation_id: int) -> tuple[dict[str, Any], Principal]:
    """A generation the caller may act on: missing and out-of-area ones give the same 404."""
    principal = current_principal()
    require_role(principal, Role.PLANNER)
    gen: dict[str, Any] | None
    try:
        gen = get_generation(portal_state().store, generation_id)
    except NotFoundError:
        gen = None  # answered below exactly like a generation of another area
    require_visible(principal, None if gen is None else str(gen["community_code"]), what=f"generation {generation_id}")
    assert gen is not None
    return gen, principal


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object")
    return body


def _int(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{key} must be an integer, got {value!r}")
    return value


def feature_collection(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    """GeoJSON (lon/lat) with plain JSON properties; the browser inserts them as text only."""
    frame = frame.to_crs(4326) if frame.crs is not None and frame.crs.to_epsg() != 4326 else frame
    features = []
    for _, row in frame.iterrows():
        props = {c: _plain(row[c]) for c in columns if c in row.index}
        if "flags" in props:
            props["flags"] = [f.get("code") for f in (row["flags"] if isinstance(row["flags"], list) else [])]
        features.append({"type": "Feature", "properties": props, "geometry": mapping(row.geometry)})
    return {"type": "FeatureCollection", "features": features}


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


GRID_PROPS = ["code", "name", "kind", "households", "area_m2", "flags"]


@bp.get("/communities/<code>/state")
def state(code: str) -> dict[str, Any]:
    principal = planner_for(code)
    st = portal_state()
    raw = request.args.get("generation")
    try:
        generation_id = int(raw) if raw else None
    except ValueError:
        raise ValidationError(f"generation must be a number, got {raw!r}") from None
    base = editor_base(st.store, code, generation_id=generation_id)
    band = band_of(st.settings, code)
    # the base with no edits: households recounted from today's buildings, and its certificate
    current = preview_edits(st.store, st.settings, code, generation_id=base.generation_id, edits=[], band=band)
    community = st.store.read(schema.AREAS, where={"code": code})
    assert isinstance(community, gpd.GeoDataFrame)
    blocks = community_blocks(st.store, st.settings, code)
    return {
        **_preview_body(current),
        "band": {"min": band.min, "max": band.max, "target": band.target},
        "community": feature_collection(community, ["code", "name"]),
        "blocks": feature_collection(blocks, ["block_id"]),
        "drafts": drafts_of(st.store, code, owner=principal.name),
    }


def _preview_body(preview: Any) -> dict[str, Any]:
    return {
        "ok": True,
        "base": preview.base.to_dict(),
        "grids": feature_collection(preview.grids.sort_values("code"), GRID_PROPS),
        "certificate": preview.certificate.to_dict(),
        "problems": preview.problems,
        "savable": preview.savable,
        "changes": preview.changes,
        "out_of_band": preview.out_of_band,
        "base_out_of_band": preview.base_out_of_band,
    }


@bp.post("/communities/<code>/preview")
def preview(code: str) -> dict[str, Any]:
    planner_for(code)
    body = _body()
    st = portal_state()
    result = preview_edits(st.store, st.settings, code, generation_id=_int(body, "generation_id"),
                           edits=body.get("edits"), band=band_of(st.settings, code))  # fmt: skip
    return _preview_body(result)


@bp.post("/communities/<code>/save")
def save(code: str) -> tuple[dict[str, Any], int]:
    principal = planner_for(code)
    body = _body()
    token, note = body.get("token"), body.get("note")
    if not isinstance(token, str) or (note is not None and not isinstance(note, str)):
        raise ValidationError("token must be the text from /state; note, when given, text")
    st = portal_state()
    saved = save_edits(st.store, st.settings, code, generation_id=_int(body, "generation_id"), token=token,
                       edits=body.get("edits"), band=band_of(st.settings, code), actor=principal.name,
                       note=note[:500] if note else None)  # fmt: skip
    return {"ok": True, "generation_id": saved.generation_id, "version": saved.version, "updated": saved.updated,
            "token": saved.token}, 201  # fmt: skip


@bp.get("/communities/<code>/drafts")
def drafts(code: str) -> dict[str, Any]:
    principal = planner_for(code)
    return {"ok": True, "drafts": drafts_of(portal_state().store, code, owner=principal.name)}


@bp.get("/drafts/<draft_id>")
def draft(draft_id: str) -> dict[str, Any]:
    principal = current_principal()
    require_role(principal, Role.PLANNER)
    found = get_draft(portal_state().store, draft_id, owner=principal.name)
    require_visible(principal, found["community_code"], what=f"draft {draft_id}")
    return {"ok": True, "draft": found}


@bp.get("/communities/<code>/generations")
def generations(code: str) -> dict[str, Any]:
    planner_for(code)
    store = portal_state().store
    gens = store.read(schema.GENERATIONS, where={"community_code": code}).sort_values("generation_id")
    rows = []
    for _, g in gens.iterrows():
        cert = g["certificate"] if isinstance(g["certificate"], dict) else None
        rows.append({
            "generation_id": int(g["generation_id"]), "status": str(g["status"]), "version": int(g["version"]),
            "created_by": _plain(g["created_by"]), "approved_by": _plain(g["approved_by"]),
            "note": _plain(g["note"]), "certificate_ok": None if cert is None else bool(cert.get("ok")),
            "grids": store.count(schema.GRIDS, where={"generation_id": int(g["generation_id"])}),
        })  # fmt: skip
    return {"ok": True, "generations": rows}


@bp.post("/communities/<code>/rebalance")
def rebalance(code: str) -> dict[str, Any]:
    principal = planner_for(code)
    body = request.get_json(silent=True) or {}
    commit = body.get("commit", False) if isinstance(body, dict) else False
    if not isinstance(commit, bool):
        raise ValidationError("commit must be true or false")
    st = portal_state()
    outcome = rebalance_from_store(st.store, st.settings, code, band=band_of(st.settings, code), commit=commit,
                                   actor=principal.name)  # fmt: skip
    return {"ok": True, **outcome.to_dict()}


def _expected_version(gen: dict[str, Any]) -> int:
    body = request.get_json(silent=True) or {}
    version = body.get("version") if isinstance(body, dict) else None
    if version is None:
        return int(gen["version"])
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationError(f"version must be an integer, got {version!r}")
    return version


@bp.post("/generations/<int:generation_id>/approve")
def approve(generation_id: int) -> dict[str, Any]:
    gen, principal = _generation_for(generation_id)
    cert = gen["certificate"] if isinstance(gen["certificate"], dict) else None
    failing = [c["name"] for c in (cert or {}).get("checks", []) if not c.get("ok") and not c.get("skipped")
               and c.get("name") != HOUSEHOLDS_IN_BAND]  # fmt: skip
    if cert is None or failing:
        raise PartitionError(f"generation {generation_id} cannot be approved: "
                             + ("it has no coverage certificate" if cert is None else
                                f"its certificate fails {', '.join(failing)}"),
                             details={"failing": failing})  # fmt: skip
    version = _expected_version(gen)
    approve_generation(portal_state().store, generation_id, actor=principal.name, expected_version=version)
    return {"ok": True, "generation_id": generation_id, "status": GenerationStatus.APPROVED.value,
            "version": version + 1}  # fmt: skip


@bp.post("/generations/<int:generation_id>/activate")
def activate(generation_id: int) -> dict[str, Any]:
    gen, principal = _generation_for(generation_id)
    result = activate_with_report(portal_state().store, generation_id, actor=principal.name, require_approval=True,
                                  expected_version=_expected_version(gen))  # fmt: skip
    service = current_app.extensions.get(LOOKUP_SERVICE_KEY)
    if isinstance(service, LookupService):
        service.invalidate()  # residents see the new grids at once
    relink = result.relink
    return {"ok": True, "generation_id": generation_id, "retired": result.retired,
            "relink": None if relink is None else relink.to_dict(limit=1000)}  # fmt: skip


@bp.get("/generations/<int:generation_id>/filing.<fmt>")
def filing(generation_id: int, fmt: str) -> Response:
    if fmt not in ("pdf", "gpkg"):
        raise ValidationError(f"filing.{fmt}: choose filing.pdf or filing.gpkg")
    _generation_for(generation_id)
    from gridmap.services.filing import file_generation

    st = portal_state()
    with tempfile.TemporaryDirectory(prefix="gridmap-filing-") as tmp:
        package = file_generation(st.store, st.settings, generation_id, tmp)
        path = Path(package.pdf if fmt == "pdf" else package.gpkg)
        data = path.read_bytes()
    mimetype = "application/pdf" if fmt == "pdf" else "application/geopackage+sqlite3"
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=path.name)


def planner_part() -> Any:
    """The OpenAPI description of ``/api/v1/planner`` (appended to ``openapi.API_PARTS``)."""
    from gridmap.portal.apidoc import ApiPart

    ref = {"$ref": "#/components/schemas/Error"}
    error = {"description": "Error", "content": {"application/json": {"schema": ref}}}
    ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    errors = {str(s): error for s in (400, 401, 403, 404)}
    code = {"name": "code", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{12}$"},
            "description": "12-digit community code"}
    gen = {"name": "generation_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    body = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    edits = ("edits: a list of {op: move_block, point: [lon, lat], to: CODE} | {op: split, grid: CODE, line: "
             "[[lon, lat], ...]} | {op: merge, grids: [KEEP, GONE]}")

    def op(summary: str, op_id: str, *, params: list[dict[str, Any]], post: bool = False, extra: tuple[int, ...] = (),
           description: str = "") -> dict[str, Any]:  # fmt: skip
        item: dict[str, Any] = {"summary": summary, "operationId": op_id, "parameters": params,
                                "responses": {"200": ok, **errors, **{str(s): error for s in extra}}}
        if description:
            item["description"] = description
        if post:
            item["requestBody"] = body
        return item

    return ApiPart(paths={
        "/api/v1/planner/communities/{code}/state": {"get": op(
            "The generation to edit (newest pending, else active; ?generation=ID), its grids recounted, the"
            " certificate, road blocks and the caller's drafts", "plannerState", params=[code])},
        "/api/v1/planner/communities/{code}/preview": {"post": op(
            "Replay edits on a generation and certify the result", "plannerPreview", params=[code], post=True,
            description="Body {generation_id, " + edits + "}")},
        "/api/v1/planner/communities/{code}/save": {"post": op(
            "Save edits as a staged generation (201); 409 when stale (edits kept as a draft), 422 when invalid",
            "plannerSave", params=[code], post=True, extra=(409, 422),
            description="Body {generation_id, token, edits, note?}; token comes from /state")},
        "/api/v1/planner/communities/{code}/drafts": {"get": op("The caller's kept drafts", "plannerDrafts",
                                                                params=[code])},
        "/api/v1/planner/drafts/{draft_id}": {"get": op("One of the caller's drafts", "plannerDraft", params=[
            {"name": "draft_id", "in": "path", "required": True, "schema": {"type": "string"}}])},
        "/api/v1/planner/communities/{code}/generations": {"get": op("Generations of a community",
                                                                     "plannerGenerations", params=[code])},
        "/api/v1/planner/communities/{code}/rebalance": {"post": op(
            "Minimal-change rebalance into the household band; {commit: true} stages it", "plannerRebalance",
            params=[code], post=True, extra=(422,))},
        "/api/v1/planner/generations/{generation_id}/approve": {"post": op(
            "Approve a staged generation whose certificate holds ({version?})", "plannerApprove", params=[gen],
            post=True, extra=(409, 422))},
        "/api/v1/planner/generations/{generation_id}/activate": {"post": op(
            "Activate an approved generation; workers and open incidents are re-linked in the same transaction",
            "plannerActivate", params=[gen], post=True, extra=(409,))},
        "/api/v1/planner/generations/{generation_id}/filing.{fmt}": {"get": op(
            "Filing package (报备): PDF summary or GeoPackage", "plannerFiling", params=[gen, {
                "name": "fmt", "in": "path", "required": True, "schema": {"enum": ["pdf", "gpkg"]}}])},
    })
