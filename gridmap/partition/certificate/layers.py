"""The layers every certificate rule reads, projected once into the metric working CRS.

Why a module of its own: ``checks`` builds a :class:`Layers` and ``rules`` reads it; with the type
here, neither imports the other. Areas are in m², lengths in metres of ``crs``; the ``native_*``
fields are the same geometry in the grids' own CRS (for the exactness checks on a written file).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyproj

from gridmap.partition.certificate.report import GeoJsonWriter


@dataclass(frozen=True)
class Layers:
    """Everything the rules need, in the metric working CRS. Built once by :func:`layers_from_input`."""

    grids: npt.NDArray[np.object_]  # shapely polygons/multipolygons per grid
    grid_ids: list[str]
    kinds: list[str]
    flags: list[set[str]]
    grid_households: npt.NDArray[np.float64] | None  # from the grids' own column, if any
    communities: npt.NDArray[np.object_]  # community polygons
    community_codes: list[str]
    grid_community: npt.NDArray[np.int64]  # community index per grid (-1: matched to none)
    #: Community named by each grid's community_code: index, -1 when there is no code, -2 unknown code.
    code_community: npt.NDArray[np.int64]
    grid_community_codes: list[str]
    building_points: npt.NDArray[np.object_] | None
    building_footprints: npt.NDArray[np.object_] | None
    building_ids: list[str]
    building_households: npt.NDArray[np.float64] | None
    tolerance_m2: float
    geojson: GeoJsonWriter
    crs: pyproj.CRS
    #: The grids and communities in the grids' own CRS, and m² per squared CRS unit there.
    native_grids: npt.NDArray[np.object_] | None = None
    native_communities: npt.NDArray[np.object_] | None = None
    native_m2_per_unit2: float = 1.0
    native_crs: pyproj.CRS | None = None
