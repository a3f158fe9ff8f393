"""Distance from each building to the nearest facility, along roads or in a straight line (G-28).

Why along roads: a service centre 300 m away across a river or a walled estate may be a 1.5 km
walk; the 15-minute living circle and the shelter radius are walking distances. The road graph is
built from the road centre lines, noded at every crossing and cut into pieces of at most
``SEGMENT_M`` metres, so a building joins the network at a point at most SEGMENT_M / 2 from the
nearest spot on its road. A building's distance is: straight line to its nearest network node +
shortest path (networkx, Dijkstra from all facilities at once) + straight line from the
facility's node to the facility. Buildings or facilities whose road piece is not connected to
anything get infinity, not a made-up number. All distances are metres in the working CRS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from scipy.spatial import cKDTree

from gridmap.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
AccessMethod = Literal["network", "line"]
ACCESS_METHODS: tuple[str, ...] = ("network", "line")
#: Longest road piece between graph nodes, metres (the snapping error is at most half of it).
SEGMENT_M = 50.0
#: Node coordinates are rounded to this (metres) so that touching road ends become one node.
NODE_PRECISION_M = 0.01
_SOURCE = -1


@dataclass(frozen=True)
class RoadGraph:
    """An undirected graph with node ids 0..n-1 at ``xy`` (metres) and edge weights in metres."""

    graph: nx.Graph
    xy: FloatArray

    def nearest_nodes(self, xy: FloatArray) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """(nearest node, straight distance to it in metres) for each (x, y) row."""
        distance, index = cKDTree(self.xy).query(xy)
        return np.asarray(index, dtype=np.int64), np.asarray(distance, dtype=float)


def road_graph_from_lines(roads_m: gpd.GeoSeries, *, segment_m: float = SEGMENT_M) -> RoadGraph:
    """The walkable graph of road lines already in a metric CRS (see the module docstring)."""
    lines = roads_m[~(roads_m.isna() | roads_m.is_empty)].to_numpy()
    if len(lines) == 0:
        raise ValidationError("roads: no road line to walk along; use the straight-line method or import roads")
    noded = shapely.node(shapely.union_all(lines))
    pieces = shapely.get_parts(shapely.segmentize(noded, segment_m))
    coords: list[FloatArray] = []
    edges: list[tuple[int, int]] = []
    for piece in pieces:
        xy = np.asarray(shapely.get_coordinates(piece))
        start = sum(len(c) for c in coords)
        coords.append(xy)
        edges.extend((start + i, start + i + 1) for i in range(len(xy) - 1))
    allxy = np.vstack(coords)
    keys = np.round(allxy / NODE_PRECISION_M).astype(np.int64)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    graph = nx.Graph()
    graph.add_nodes_from(range(len(unique)))
    node_xy = unique.astype(float) * NODE_PRECISION_M
    for a, b in edges:
        u, v = int(inverse[a]), int(inverse[b])
        if u != v:
            length = float(np.hypot(*(node_xy[u] - node_xy[v])))
            if not graph.has_edge(u, v) or graph[u][v]["length"] > length:
                graph.add_edge(u, v, length=length)
    return RoadGraph(graph, node_xy)


def network_distances(
    graph: RoadGraph, origins_xy: FloatArray, facilities_xy: FloatArray, *, cutoff_m: float | None = None
) -> FloatArray:
    """Metres from each origin to the nearest facility along the graph (inf when unreachable or beyond cutoff)."""
    if len(facilities_xy) == 0:
        return np.full(len(origins_xy), np.inf)
    f_nodes, f_access = graph.nearest_nodes(facilities_xy)
    g = graph.graph.copy()
    for node, access in zip(f_nodes.tolist(), f_access.tolist(), strict=True):
        if not g.has_edge(_SOURCE, node) or g[_SOURCE][node]["length"] > access:
            g.add_edge(_SOURCE, node, length=access)
    reached = nx.single_source_dijkstra_path_length(g, _SOURCE, cutoff=cutoff_m, weight="length")
    o_nodes, o_access = graph.nearest_nodes(origins_xy)
    along = np.array([reached.get(int(n), np.inf) for n in o_nodes], dtype=float)
    total = along + o_access
    if cutoff_m is not None:
        total[total > cutoff_m] = np.inf
    return total


def line_distances(origins_xy: FloatArray, facilities_xy: FloatArray) -> FloatArray:
    """Straight-line metres from each origin to the nearest facility."""
    if len(facilities_xy) == 0:
        return np.full(len(origins_xy), np.inf)
    distance, _ = cKDTree(facilities_xy).query(origins_xy)
    return np.asarray(distance, dtype=float)


def _xy(geoms: gpd.GeoSeries, crs: pyproj.CRS) -> FloatArray:
    pts = geoms.to_crs(crs).representative_point()
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def distances_to_facilities(
    origins: gpd.GeoSeries,
    facilities: gpd.GeoSeries,
    *,
    crs: pyproj.CRS,
    method: str = "network",
    roads: gpd.GeoSeries | None = None,
    cutoff_m: float | None = None,
) -> FloatArray:
    """Metres from each origin (its representative point) to the nearest facility, by ``method``."""
    if method not in ACCESS_METHODS:
        raise ValidationError(f"unknown distance method {method!r}; use network (along roads) or line (straight)")
    facilities = facilities[~(facilities.isna() | facilities.is_empty)]
    if len(facilities) == 0:
        raise ValidationError("no facility (service centre or worker base) with a location to measure from")
    origins_xy, facilities_xy = _xy(origins, crs), _xy(facilities, crs)
    if method == "line":
        return line_distances(origins_xy, facilities_xy)
    if roads is None or len(roads) == 0:
        raise ValidationError("distance along roads needs the roads layer; import roads or use --method line")
    graph = road_graph_from_lines(roads.to_crs(crs))
    return network_distances(graph, origins_xy, facilities_xy, cutoff_m=cutoff_m)
