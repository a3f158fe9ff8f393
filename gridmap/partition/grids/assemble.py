"""Grids from atom labels: geometry, households, flags, codes and names, in the storage CRS.

Parts of the community too small for a grid of their own (below ``band.min``) join the grid
they share most boundary with (flag ``joined_part``, e.g. a corner cut off by an estate's own
grids), or else the nearest grid (flag ``disconnected_part``: a river or railway separates its
pieces). All grids are re-noded together
(``blocks.coverage_from_polygons``) so that they tile the community with identical shared
vertices. Base grids are numbered first, west to east, north to south (``codes.reading_order``),
then dedicated grids in the same order; names follow C-4 (``{社区}第N网格``).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.codes import grid_code, grid_name, reading_order
from gridmap.model import GridKind
from gridmap.partition.blocks.faces import coverage_from_polygons
from gridmap.partition.blocks.households import BUILDING_ID, HOUSEHOLDS, POPULATION
from gridmap.partition.blocks.road_blocks import BLOCK_ID, block_edges_from_blocks
from gridmap.partition.grids.flags import flag_drafts
from gridmap.partition.grids.pipeline import Assembled, Draft, GridMeta, Group, Pipeline
from gridmap.partition.grids.whole_buildings import keep_buildings_whole
from gridmap.partition.problem import Band
from gridmap.schema import GEOMETRY, GRIDS_SPEC

GRID_CODE = "grid_code"
#: Shortest row (m) when numbering grids west to east, north to south.
MIN_ROW_M = 30.0
_COLUMNS = GRIDS_SPEC.column_names


def polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Only the polygons of a geometry (an overlay may add stray lines or points)."""
    parts = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and g.area > 0]
    return shapely.union_all(np.asarray(parts, dtype=object)) if parts else shapely.Polygon()


def _union(geoms: list[BaseGeometry]) -> BaseGeometry:
    return shapely.union_all(np.asarray(geoms, dtype=object)) if geoms else shapely.Polygon()


def drafts_from_pipeline(p: Pipeline) -> list[Draft]:
    """Base drafts from labels, small parts joined to neighbours, then dedicated drafts."""
    atom_geoms = list(p.atoms.geometry)
    drafts: list[Draft] = []
    grid_of_label: dict[int, int] = {}
    for gi in p.solved:
        for lab in np.unique(p.labels[p.groups[gi].atoms]).tolist():
            grid_of_label[int(lab)] = len(drafts)
            members = np.flatnonzero(p.labels == lab).tolist()
            geom = _union([atom_geoms[i] for i in members])
            drafts.append(Draft(GridKind.BASE, atoms=members, group=gi, label=int(lab), geometry=geom))
    for k, grid in enumerate(p.dedicated.grids):
        drafts.append(Draft(GridKind.DEDICATED, dedicated=k, geometry=grid.geometry))
    small = [gi for gi in range(len(p.groups)) if gi not in p.solved]
    for gi in sorted(small, key=lambda g: (-p.groups[g].households, g)):
        _join_small_part(drafts, p.groups[gi], gi, atom_geoms)
    return drafts


def _join_small_part(drafts: list[Draft], group: Group, gi: int, atom_geoms: list[BaseGeometry]) -> None:
    """Give a part below the band to the base grid sharing most boundary, else the nearest one."""
    geom = _union([atom_geoms[i] for i in group.atoms])
    base = [i for i, d in enumerate(drafts) if d.kind is GridKind.BASE]
    candidates = base if group.households > 0 else list(range(len(drafts)))
    shared = [float(shapely.intersection(drafts[i].geometry.boundary, geom.boundary).length) for i in candidates]
    label = f"a separate part of {group.households} households and {geom.area:,.0f} m²"
    if shared and max(shared) > 1e-6:
        target = candidates[int(np.argmax(shared))]
        drafts[target].flag("joined_part", f"includes {label}, cut off from its neighbours and joined here")
    else:
        target = base[int(np.argmin([drafts[i].geometry.distance(geom) for i in base]))]
        drafts[target].flag(
            "disconnected_part",
            f"includes {label}, cut off from the rest (river, railway or a multipart boundary)",
        )
    drafts[target].atoms.extend(group.atoms.tolist())
    drafts[target].geometry = _union([drafts[target].geometry, geom])


def assemble_grids(
    p: Pipeline, area: BaseGeometry, meta: GridMeta, band: Band, *, roads: gpd.GeoDataFrame
) -> Assembled:
    """Grids (storage CRS, GRIDS_SPEC columns) and their companions from the engine's pipeline."""
    drafts = drafts_from_pipeline(p)
    grid_of_building = _grid_of_buildings(p, drafts)
    whole, moved = keep_buildings_whole(
        [d.geometry for d in drafts], np.asarray(p.buildings.geometry.values, dtype=object), grid_of_building, area
    )
    renoded = coverage_from_polygons(whole, area)
    for d, geom in zip(drafts, renoded, strict=True):
        d.geometry = polygonal(geom)
    hh = np.bincount(grid_of_building, weights=p.buildings[HOUSEHOLDS].to_numpy(dtype=float), minlength=len(drafts))
    households = np.rint(hh).astype(np.int64)
    flag_drafts(drafts, p, households, band)
    order = _numbering(drafts)
    codes = {d: grid_code(meta.community_code, seq + 1) for seq, d in enumerate(order)}
    names = {d: _name_of(drafts[d], p, meta.community_name, seq + 1) for seq, d in enumerate(order)}
    metric = _grids_frame(drafts, order, codes, names, households, p, meta)
    edges_metric = _grid_edges(metric, roads)
    store_crs = pyproj.CRS.from_epsg(meta.storage_epsg)
    code_of_draft = np.asarray([codes[i] for i in range(len(drafts))], dtype=object)
    buildings = p.buildings.copy()
    buildings[GRID_CODE] = code_of_draft[grid_of_building]
    return Assembled(
        grids=_storage_grids(metric, store_crs),
        grids_metric=metric,
        blocks=_blocks_frame(p, drafts, code_of_draft).to_crs(store_crs),
        atoms=_atoms_frame(p, drafts, code_of_draft).to_crs(store_crs),
        buildings=buildings.to_crs(store_crs),
        grid_edges=gpd.GeoDataFrame(edges_metric.drop(columns=[GEOMETRY]), geometry=list(edges_metric[GEOMETRY]),
                                    crs=p.crs).to_crs(store_crs),
        grid_edges_metric=edges_metric,
        code_of_label={d.label: codes[i] for i, d in enumerate(drafts) if d.label is not None},
        buildings_moved_whole=moved,
    )


def _grid_of_buildings(p: Pipeline, drafts: list[Draft]) -> npt.NDArray[np.int64]:
    """Draft index per counted building: through its atom, or its dedicated site."""
    draft_of_atom = np.full(len(p.atoms), -1, dtype=np.int64)
    for i, d in enumerate(drafts):
        draft_of_atom[d.atoms] = i
    draft_of_dedicated = {d.dedicated: i for i, d in enumerate(drafts) if d.dedicated is not None}
    out = np.full(len(p.buildings), -1, dtype=np.int64)
    base_rows = np.flatnonzero(p.dedicated_buildings < 0)
    out[base_rows] = draft_of_atom[p.building_atom]
    for row in np.flatnonzero(p.dedicated_buildings >= 0):
        out[row] = draft_of_dedicated[int(p.dedicated_buildings[row])]
    return out


def _numbering(drafts: list[Draft]) -> list[int]:
    """Draft indices in numbering order: base grids then dedicated, each west->east, north->south."""
    out: list[int] = []
    for kind in (GridKind.BASE, GridKind.DEDICATED):
        idx = [i for i, d in enumerate(drafts) if d.kind is kind]
        if not idx:
            continue
        pts = shapely.point_on_surface(np.asarray([drafts[i].geometry for i in idx], dtype=object))
        ys = shapely.get_y(pts)
        # reading_order's default row height (extent / sqrt(n)) would split grids lying in one row
        # on millimetre differences of their points; a row is at least MIN_ROW_M tall
        row_height = max(float(np.ptp(ys)) / max(1.0, np.sqrt(len(idx))), MIN_ROW_M)
        order = reading_order(shapely.get_x(pts), ys, row_height=row_height)
        out.extend(idx[j] for j in order.tolist())
    return out


def _name_of(d: Draft, p: Pipeline, community_name: str, sequence: int) -> str:
    if d.dedicated is None:
        return grid_name(community_name, sequence)
    units = p.dedicated.grids[d.dedicated].unit_names
    return f"{community_name}{units[0]}{'等' if len(units) > 1 else ''}专属网格"


def _grids_frame(
    drafts: list[Draft],
    order: list[int],
    codes: dict[int, str],
    names: dict[int, str],
    households: npt.NDArray[np.int64],
    p: Pipeline,
    meta: GridMeta,
) -> gpd.GeoDataFrame:
    """The grids in numbering order in the working CRS, with GRIDS_SPEC columns."""
    rows = []
    for i in order:
        d = drafts[i]
        unit = p.dedicated.grids[d.dedicated] if d.dedicated is not None else None
        rows.append(
            {
                "code": codes[i],
                "name": names[i],
                "kind": d.kind.value,
                "subtype": unit.subtype if unit else None,
                "community_code": meta.community_code,
                "generation_id": 0,
                "households": int(households[i]),
                "population": _population(p, i, drafts),
                "area_m2": round(float(d.geometry.area), 1),
                "flags": list(d.flags),
                "valid_from": None,
                "valid_to": None,
                "synthetic": False,
            }
        )
    frame = pd.DataFrame(rows, columns=list(_COLUMNS))
    geoms = [shapely.MultiPolygon(list(shapely.get_parts(drafts[i].geometry))) for i in order]
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=p.crs)


def _population(p: Pipeline, draft: int, drafts: list[Draft]) -> int | None:
    """Persons in the grid's buildings plus its units' persons; None when no counts are known."""
    d = drafts[draft]
    units = p.dedicated.grids[d.dedicated].persons if d.dedicated is not None else 0
    if POPULATION not in p.atoms.columns:
        return units or None
    return int(p.atoms[POPULATION].to_numpy()[d.atoms].sum()) + units


def _storage_grids(metric: gpd.GeoDataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    out = metric.to_crs(crs)
    out["households"] = out["households"].astype("Int64")
    out["population"] = pd.array([None if pd.isna(v) else int(v) for v in out["population"]], dtype="Int64")
    out["generation_id"] = out["generation_id"].astype("Int64")
    return out


def _grid_edges(grids: gpd.GeoDataFrame, roads: gpd.GeoDataFrame) -> pd.DataFrame:
    """Lines between neighbouring grids with the road class they follow (metric CRS)."""
    frame = grids[["code", GEOMETRY]].copy()
    frame[BLOCK_ID] = np.arange(len(frame))
    edges = block_edges_from_blocks(frame, roads, with_geometry=True)
    codes = grids["code"].to_numpy()
    a = edges["block_a"].to_numpy(dtype=np.int64)
    b = edges["block_b"].to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {
            "grid_a": codes[a],
            "grid_b": codes[b],
            "length_m": edges["shared_length_m"].to_numpy(),
            "road_length_m": edges["road_length_m"].to_numpy(),
            "road_class": pd.Series(list(edges["road_class"]), dtype=object),
            GEOMETRY: list(edges[GEOMETRY]),
        }
    )


def _atoms_frame(p: Pipeline, drafts: list[Draft], code_of_draft: npt.NDArray[np.object_]) -> gpd.GeoDataFrame:
    draft_of_atom = np.full(len(p.atoms), -1, dtype=np.int64)
    for i, d in enumerate(drafts):
        draft_of_atom[d.atoms] = i
    atoms = p.atoms.copy()
    atoms[GRID_CODE] = code_of_draft[draft_of_atom] if len(atoms) else []
    return atoms


def _blocks_frame(p: Pipeline, drafts: list[Draft], code_of_draft: npt.NDArray[np.object_]) -> gpd.GeoDataFrame:
    """Road blocks with households and the grid holding them (None if split between grids)."""
    blocks = p.blocks.copy()
    atoms = _atoms_frame(p, drafts, code_of_draft)
    codes_of_block: dict[int, set[str]] = {}
    for ids, code in zip(atoms["block_ids"], atoms[GRID_CODE], strict=True):
        for b in ids:
            codes_of_block.setdefault(int(b), set()).add(str(code))
    blocks[GRID_CODE] = [next(iter(c)) if len(c) == 1 else None for c in
                         (codes_of_block.get(int(b), set()) for b in blocks[BLOCK_ID])]
    blocks["split"] = [len(codes_of_block.get(int(b), set())) > 1 for b in blocks[BLOCK_ID]]
    return blocks


__all__ = ["BUILDING_ID", "Assembled", "Draft", "GridMeta", "Group", "Pipeline", "assemble_grids", "polygonal"]
