"""Spatial weights (who is whose neighbour) for the cells of a hotspot test.

Why these choices:

* grids and communities are irregular polygons that tile their parent, so neighbours are the
  polygons that share an edge or a corner (queen contiguity), as ArcGIS and GeoDa default to for
  polygons. A polygon that touches nothing (an enclave cut off by a gap, an island) is given its
  nearest cell as neighbour, so no cell is left out of the test;
* H3 hexagons: the 6 nearest centres (k-nearest neighbours), i.e. the ring of hexagons around a cell;
* squares: every square whose centre is within 1.5 sides (a distance band), i.e. the 8 squares
  around a cell, the lattice equivalent of queen contiguity.

Weights are binary (1 = neighbour); the statistics choose their own transformation. Row order
is the cells' frame order (ids 0..n-1).
"""

from __future__ import annotations

import warnings

import numpy as np
from libpysal import weights as lw

from gridmap.analysis.cells import Cells
from gridmap.errors import ValidationError

#: Smallest number of cells a local statistic makes sense on.
MIN_CELLS = 3
H3_NEIGHBOURS = 6
#: Squares: neighbours within this many sides (centre to centre); 1.5 takes the diagonal ones (1.414).
SQUARE_BAND_SIDES = 1.5


def weights_from_cells(cells: Cells) -> lw.W:
    """Binary neighbour weights for ``cells`` (see the module docstring for the rule per cell kind)."""
    n = len(cells)
    if n < MIN_CELLS:
        raise ValidationError(
            f"cells {cells.spec}: {n} cell(s) in the study area; a hotspot test needs at least {MIN_CELLS}",
            code="too_few_cells",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libpysal warns about islands and disconnected parts; handled below
        if cells.spec.polygonal:
            w = lw.Queen.from_dataframe(cells.frame.reset_index(drop=True), use_index=False, silence_warnings=True)
        elif cells.spec.kind == "h3":
            w = lw.KNN.from_array(cells.centroids_m(), k=min(H3_NEIGHBOURS, n - 1), silence_warnings=True)
        else:
            size = float(cells.spec.size_m or 0.0)
            w = lw.DistanceBand.from_array(
                cells.centroids_m(), threshold=SQUARE_BAND_SIDES * size, binary=True, silence_warnings=True
            )
        if w.islands:
            knn1 = lw.KNN.from_array(cells.centroids_m(), k=1, silence_warnings=True)
            w = lw.attach_islands(w, knn1, silence_warnings=True)
        w.transform = "b"
    return _positional(w, n)


def _positional(w: lw.W, n: int) -> lw.W:
    """The same weights with ids 0..n-1 in order, so sparse rows line up with the cells frame."""
    neighbours = {int(i): [int(j) for j in w.neighbors[i]] for i in w.neighbors}
    values = {int(i): [float(v) for v in w.weights[i]] for i in w.weights}
    ordered = list(range(n))
    missing = set(ordered) - set(neighbours)
    for i in missing:
        neighbours[i], values[i] = [], []
    return lw.W(neighbours, values, id_order=ordered, silence_warnings=True)


def neighbour_counts(w: lw.W) -> np.ndarray:
    """Neighbours per cell, in cell order."""
    return np.asarray(w.sparse.getnnz(axis=1), dtype=np.int64)
