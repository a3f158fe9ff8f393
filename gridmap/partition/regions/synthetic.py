"""A deterministic synthetic community: a perturbed street lattice of road blocks.

Why in the package: the benchmark, the executor tests and the notebooks all need the same
realistic-looking instance (blocks of 20-120 households between arterial, collector and local
streets) without shipping data files, and it must come out identical for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from gridmap.partition.problem import Band, PartitionProblem

#: Cut weight per metre of grid edge on each class of street (low = good place for a grid edge).
ARTERIAL_WEIGHT = 0.25
COLLECTOR_WEIGHT = 0.5
LOCAL_WEIGHT = 1.0


@dataclass(frozen=True)
class LatticeCommunity:
    """Blocks (shapely polygons in a local metric frame, metres) and their partition problem."""

    problem: PartitionProblem
    blocks: npt.NDArray[np.object_]


def lattice_community(
    nx: int,
    ny: int,
    *,
    rng: np.random.Generator,
    band: Band,
    spacing_m: tuple[float, float] = (110.0, 90.0),
    jitter_m: float = 15.0,
    households_range: tuple[int, int] = (20, 120),
    arterial_every: int = 6,
    collector_every: int = 3,
    n_grids: int | None = None,
) -> LatticeCommunity:
    """An ``nx`` x ``ny`` lattice of quadrilateral blocks with random households per block.

    Every ``arterial_every``-th street is an arterial and every ``collector_every``-th a collector;
    the rest are local streets. Block ``b = i * ny + j`` is column ``i`` (west to east), row ``j``
    (south to north).
    """
    gx, gy = np.meshgrid(np.arange(nx + 1), np.arange(ny + 1), indexing="ij")
    vx = gx * spacing_m[0] + rng.uniform(-jitter_m, jitter_m, gx.shape)
    vy = gy * spacing_m[1] + rng.uniform(-jitter_m, jitter_m, gy.shape)
    col, row = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    ii, jj = col.ravel(), row.ravel()
    ring_i = np.stack([ii, ii + 1, ii + 1, ii, ii], axis=1)
    ring_j = np.stack([jj, jj, jj + 1, jj + 1, jj], axis=1)
    coords = np.stack([vx[ring_i, ring_j], vy[ring_i, ring_j]], axis=2)
    blocks = np.asarray(shapely.polygons(coords), dtype=object)
    centroids = shapely.centroid(blocks)
    xy = np.stack([shapely.get_x(centroids), shapely.get_y(centroids)], axis=1)
    households = rng.integers(households_range[0], households_range[1] + 1, size=nx * ny).astype(np.int64)

    block = ii * ny + jj
    east = ii < nx - 1  # neighbour across the street x = i + 1
    north = jj < ny - 1  # neighbour across the street y = j + 1
    e_a, e_b = block[east], block[east] + ny
    e_len = np.hypot(vx[ii[east] + 1, jj[east] + 1] - vx[ii[east] + 1, jj[east]],
                     vy[ii[east] + 1, jj[east] + 1] - vy[ii[east] + 1, jj[east]])  # fmt: skip
    e_w = _street_weight(ii[east] + 1, arterial_every, collector_every)
    n_a, n_b = block[north], block[north] + 1
    n_len = np.hypot(vx[ii[north] + 1, jj[north] + 1] - vx[ii[north], jj[north] + 1],
                     vy[ii[north] + 1, jj[north] + 1] - vy[ii[north], jj[north] + 1])  # fmt: skip
    n_w = _street_weight(jj[north] + 1, arterial_every, collector_every)
    problem = PartitionProblem(
        households=households,
        xy_m=xy,
        area_m2=np.asarray(shapely.area(blocks), dtype=np.float64),
        edges=np.stack([np.concatenate([e_a, n_a]), np.concatenate([e_b, n_b])], axis=1).astype(np.int64),
        edge_length_m=np.concatenate([e_len, n_len]).astype(np.float64),
        edge_cut_weight=np.concatenate([e_w, n_w]),
        band=band,
        n_grids=n_grids,
        atom_ids=tuple(f"b{b}" for b in block.tolist()),
    )
    return LatticeCommunity(problem, blocks)


def _street_weight(line: npt.NDArray[np.int64], arterial_every: int, collector_every: int) -> npt.NDArray[np.float64]:
    weight = np.full(len(line), LOCAL_WEIGHT)
    weight[line % collector_every == 0] = COLLECTOR_WEIGHT
    weight[line % arterial_every == 0] = ARTERIAL_WEIGHT
    return weight
