"""The partition report: the quality measures of partition-notes.md and everything set aside.

Measures (base grids unless said otherwise): share of grids in the band; largest deviation from
the target (households and relative); Polsby-Popper compactness 4πA/P² (1 = a disc, a square is
0.785); length of the lines between grids that follow roads, by road class (P-15); blocks split;
runtime. Then the lists a planner must see: grids out of band with the reason, islands by outcome
(in band, proved infeasible, heuristic), estates and blocks that fit no grids of their own and what
was chosen for them, disconnected parts, buildings outside the community, duplicates, overlaps,
estates kept or split, dedicated units.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from gridmap.model import GridKind
from gridmap.partition.blocks.households import HOUSEHOLDS
from gridmap.partition.blocks.road_blocks import COMPONENT
from gridmap.partition.grids.assemble import GRID_CODE, Assembled, Pipeline
from gridmap.partition.problem import Band


def polsby_popper(area_m2: float, perimeter_m: float) -> float:
    """Compactness 4πA/P² in 0..1 (1 for a disc); 0 for an empty shape."""
    return 4.0 * math.pi * area_m2 / perimeter_m**2 if perimeter_m > 0 else 0.0


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"min": None, "mean": None, "median": None}
    arr = np.asarray(values, dtype=float)
    return {
        "min": round(float(arr.min()), 4),
        "mean": round(float(arr.mean()), 4),
        "median": round(float(np.median(arr)), 4),
    }


def _edge_report(a: Assembled) -> dict[str, Any]:
    """Internal grid edge length (m) by the road class it follows, and the share on roads."""
    edges = a.grid_edges_metric
    total = float(edges["length_m"].sum()) if len(edges) else 0.0
    by_class: dict[str, dict[str, float]] = {}
    for cls, length in edges.groupby(edges["road_class"].fillna("none"))["length_m"].sum().items():
        share = round(float(length) / total, 4) if total else 0.0
        by_class[str(cls)] = {"length_m": round(float(length), 1), "share": share}
    on_road = total - by_class.get("none", {"length_m": 0.0})["length_m"]
    return {
        "internal_length_m": round(total, 1),
        "on_road_share": round(on_road / total, 4) if total else None,
        "by_class": by_class,
    }


def _grid_summary(a: Assembled, band: Band) -> list[dict[str, Any]]:
    grids = a.grids_metric
    counts = a.buildings.groupby(GRID_CODE).size().to_dict()
    out = []
    for _, g in grids.iterrows():
        pp = polsby_popper(float(g.geometry.area), float(g.geometry.length))
        out.append(
            {
                "code": g["code"],
                "name": g["name"],
                "kind": g["kind"],
                "subtype": g["subtype"],
                "households": int(g["households"]),
                "population": None if pd.isna(g["population"]) else int(g["population"]),
                "buildings": int(counts.get(g["code"], 0)),
                "area_m2": float(g["area_m2"]),
                "polsby_popper": round(pp, 4),
                "in_band": bool(band.contains(int(g["households"]))) if g["kind"] == GridKind.BASE.value else None,
                "flags": [f["code"] for f in g["flags"]],
            }
        )
    return out


def report_from_partition(
    a: Assembled, p: Pipeline, band: Band, *, runtime_s: float, seed: int, n_grids: int | None
) -> dict[str, Any]:
    """JSON-ready report of one community's partition."""
    summary = _grid_summary(a, band)
    base = [g for g in summary if g["kind"] == GridKind.BASE.value]
    dev = [abs(g["households"] - band.target) for g in base]
    flags_by_code = {row["code"]: row["flags"] for _, row in a.grids_metric.iterrows()}
    out_of_band = [
        {"code": g["code"], "name": g["name"], "households": g["households"],
         "reason": next(f["message"] for f in flags_by_code[g["code"]] if f["code"] in ("under_min", "over_max"))}
        for g in base if not g["in_band"]
    ]
    comp = p.blocks.groupby(COMPONENT).agg(blocks=(COMPONENT, "size"), households=(HOUSEHOLDS, "sum"),
                                           area_m2=("area_m2", "sum")) if len(p.blocks) else None
    return {
        "band": {"min": band.min, "max": band.max, "target": band.target},
        "grids": {"total": len(summary), "base": len(base), "dedicated": len(summary) - len(base)},
        "households": int(a.buildings[HOUSEHOLDS].sum()),
        "buildings": len(a.buildings),
        "share_in_band": round(sum(g["in_band"] for g in base) / len(base), 4) if base else None,
        "max_deviation_from_target": {
            "households": int(max(dev)) if dev else None,
            "relative": round(max(dev) / band.target, 4) if dev and band.target else None,
        },
        "polsby_popper": _stats([g["polsby_popper"] for g in base]),
        "edges": _edge_report(a),
        "blocks": {"count": len(p.blocks), "split": len(p.splits), "splits": p.splits},
        "atoms": len(p.atoms),
        "components": [] if comp is None else [
            {"component": int(k), "blocks": int(r["blocks"]), "households": int(r["households"]),
             "area_m2": round(float(r["area_m2"]), 1)} for k, r in comp.iterrows()
        ],
        "out_of_band": out_of_band,
        "islands": _island_report(p),
        "flexible_units": [_flexible_entry(dec, a.code_of_label) for dec in p.flexible],
        "disconnected_parts": [g["code"] for g in summary if "disconnected_part" in g["flags"]],
        "building_checks": p.assignment.to_dict(),
        "estates": p.estates.report,
        "dedicated": p.dedicated.report,
        "grid_summary": summary,
        "seed": seed,
        "n_grids_requested": n_grids,
        "runtime_s": round(runtime_s, 3),
        "strategy_s": round(p.strategy_s, 3),
    }


def _flexible_entry(decision: dict[str, Any], code_of_label: dict[int, str]) -> dict[str, Any]:
    """A flexible unit's decision with the codes of the grids holding it instead of region labels."""
    out = {k: v for k, v in decision.items() if k != "labels"}
    out["grids"] = sorted(code_of_label[label] for label in decision["labels"] if label in code_of_label)
    return out


def _island_report(p: Pipeline) -> dict[str, Any]:
    """Islands the strategy solved (connected parts without atoms over the band) by outcome: every
    island left out of band is either proved infeasible or only the heuristic's best."""
    islands = p.islands
    count = {status: sum(i["status"] == status for i in islands) for status in
             ("in_band", "proved_infeasible", "heuristic", "merged")}  # fmt: skip
    return {"total": len(islands), **count, "list": islands}
