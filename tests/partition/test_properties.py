"""Property tests: on random road networks, the strategy's grids always pass the certificate.

Each example draws random straight roads across a rectangle, polygonizes them with the boundary
into blocks, scatters buildings with households, solves with the region strategy, dissolves the
blocks per label into grids and runs ``check_partition``. Whatever the instance, the result must
tile the community exactly, keep every building in exactly one grid and be contiguous; the
band check must agree with what the strategy itself reports.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, box

from gridmap.errors import InfeasiblePartitionError
from gridmap.partition.certificate.checks import check_partition
from gridmap.partition.certificate.report import (
    BUILDINGS_ASSIGNED,
    CONTIGUOUS,
    COVERAGE_VALID,
    COVERS_PARENT,
    GEOMETRY_VALID,
    HOUSEHOLDS_IN_BAND,
    HOUSEHOLDS_MATCH_BUILDINGS,
    NO_OVERLAPS,
    WITHIN_ONE_COMMUNITY,
)
from gridmap.partition.problem import Band, PartitionProblem
from gridmap.partition.regions.strategy import region_result_from_problem

CRS = "EPSG:4547"
X0, Y0, W, H = 500_000.0, 3_800_000.0, 1000.0, 800.0
PARENT = box(X0, Y0, X0 + W, Y0 + H)


def side_point(side: int, t: float) -> tuple[float, float]:
    """A point at fraction t along side 0 (south), 1 (east), 2 (north) or 3 (west)."""
    return [(X0 + t * W, Y0), (X0 + W, Y0 + t * H), (X0 + t * W, Y0 + H), (X0, Y0 + t * H)][side]


def blocks_from_lines(lines: list[tuple[int, float, int, float]]) -> np.ndarray:
    roads = [LineString([side_point(a, s), side_point(b, t)]) for a, s, b, t in lines if a != b]
    noded = shapely.union_all([PARENT.boundary, *roads])
    blocks = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))), dtype=object)
    return blocks[shapely.area(blocks) > 1.0]


def adjacency(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tree = shapely.STRtree(blocks)
    a, b = tree.query(blocks, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(blocks[a]), shapely.boundary(blocks[b])))
    positive = shared > 1e-6
    return np.stack([a[positive], b[positive]], axis=1).astype(np.int64), shared[positive]


def buildings_in(blocks: np.ndarray, n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Building points strictly inside blocks (a metre away from every road), 0..60 households each."""
    points = shapely.points(X0 + rng.uniform(0, W, n), Y0 + rng.uniform(0, H, n))
    inner = shapely.union_all([shapely.buffer(b, -1.0) for b in blocks])
    points = points[shapely.contains(inner, points)]
    return gpd.GeoDataFrame(
        {"building_id": [f"b{i}" for i in range(len(points))], "households": rng.integers(0, 61, len(points))},
        geometry=points,
        crs=CRS,
    )


def problem_from(blocks: np.ndarray, buildings: gpd.GeoDataFrame, band: Band, n_grids: int | None):
    tree = shapely.STRtree(blocks)
    b_idx, blk = tree.query(np.asarray(buildings.geometry.values, dtype=object), predicate="within")
    households = np.bincount(blk, weights=buildings["households"].to_numpy()[b_idx], minlength=len(blocks))
    edges, shared = adjacency(blocks)
    centroids = shapely.centroid(blocks)
    return PartitionProblem(
        households=households.astype(np.int64),
        xy_m=np.stack([shapely.get_x(centroids), shapely.get_y(centroids)], axis=1),
        area_m2=np.asarray(shapely.area(blocks), dtype=np.float64),
        edges=edges,
        edge_length_m=shared,
        edge_cut_weight=np.ones(len(edges)),
        band=band,
        n_grids=n_grids,
    )


def grids_from_labels(blocks: np.ndarray, labels: np.ndarray, households: np.ndarray) -> gpd.GeoDataFrame:
    k = int(labels.max()) + 1
    geoms = [shapely.coverage_union_all(blocks[labels == r]) for r in range(k)]
    sums = np.bincount(labels, weights=households, minlength=k).astype(int)
    return gpd.GeoDataFrame({"code": [f"g{r}" for r in range(k)], "households": sums}, geometry=geoms, crs=CRS)


def exact_k_possible(problem: PartitionProblem, n_grids: int) -> bool:
    """Independent count: each heavy atom is a grid, each island of the rest needs 1..atoms grids."""
    heavy = problem.households > problem.band.max
    graph = nx.Graph()
    graph.add_nodes_from(np.flatnonzero(~heavy).tolist())
    graph.add_edges_from((int(a), int(b)) for a, b in problem.edges if not heavy[a] and not heavy[b])
    islands = nx.number_connected_components(graph)
    return islands + heavy.sum() <= n_grids <= problem.n


road = st.tuples(st.integers(0, 3), st.floats(0.05, 0.95), st.integers(0, 3), st.floats(0.05, 0.95))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(road, min_size=2, max_size=12),
    n_buildings=st.integers(20, 250),
    band_min=st.integers(60, 400),
    band_width=st.integers(60, 300),
    exact=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_road_networks_give_certified_partitions(lines, n_buildings, band_min, band_width, exact, seed):
    rng = np.random.default_rng(seed)
    blocks = blocks_from_lines(lines)
    buildings = buildings_in(blocks, n_buildings, rng)
    band = Band(band_min, band_min + band_width, band_min + band_width // 2)
    total = int(buildings["households"].sum())
    n_grids = max(1, min(len(blocks), round(total / band.target))) if exact else None
    problem = problem_from(blocks, buildings, band, n_grids)
    assert problem.total_households == total  # every building landed in exactly one block

    if n_grids is not None and not exact_k_possible(problem, n_grids):
        with pytest.raises(InfeasiblePartitionError):
            region_result_from_problem(problem, rng=np.random.default_rng(seed))
        return
    result = region_result_from_problem(problem, rng=np.random.default_rng(seed))
    labels = result.labels
    assert labels.shape == (len(blocks),) and labels.min() == 0
    if n_grids is not None:
        assert labels.max() + 1 == n_grids
    grids = grids_from_labels(blocks, labels, problem.households)
    cert = check_partition(grids, PARENT, buildings=buildings, band=band)

    for name in (GEOMETRY_VALID, COVERAGE_VALID, NO_OVERLAPS, COVERS_PARENT, CONTIGUOUS, WITHIN_ONE_COMMUNITY,
                 BUILDINGS_ASSIGNED, HOUSEHOLDS_MATCH_BUILDINGS):  # fmt: skip
        assert cert.check(name).ok, (name, cert.check(name).message, cert.check(name).issues[:3])
    assert cert.check(COVERS_PARENT).metrics["gap_area_m2"] < 1.0
    assert cert.check(NO_OVERLAPS).metrics["overlap_area_m2"] < 1.0
    # The certificate and the strategy agree on which grids are out of band, with the same counts.
    band_check = cert.check(HOUSEHOLDS_IN_BAND)
    out_cert = {(int(i["grid"][1:]), int(i["households"])) for i in band_check.issues}
    assert out_cert == set(result.diagnostics.out_of_band)
    assert band_check.ok == (not result.diagnostics.out_of_band)
    # Anything out of band must have been explained by the strategy, as proved or as heuristic; a
    # proof is never claimed for an island the exact model could not settle.
    d = result.diagnostics
    if d.out_of_band:
        assert d.messages()
    notes = {label: d.region_notes[label] for label, _ in d.out_of_band}
    assert all(n.startswith(("proved infeasible: ", "heuristic: ")) for n in notes.values()), notes
    assert all(d.region_notes[r] == "" for r in range(d.n_regions) if r not in notes)
    for c in d.components:
        if c.status == "proved_infeasible" and c.exact_status:
            assert 0 < c.lower_bound <= c.violation
        if c.status == "in_band":
            assert c.violation == 0
