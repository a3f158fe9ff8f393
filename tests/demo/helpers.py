"""Helpers shared by the demo tests."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from gridmap.demo.generate import DemoDistrict


def strip_grids(district: DemoDistrict, *, per_community: int = 3) -> gpd.GeoDataFrame:
    """Test grids: each community cut into ``per_community`` west-to-east strips (metres, then lon/lat)."""
    communities = district.areas[district.areas["level"] == "community"].to_crs(district.working_crs)
    rows = []
    for _, c in communities.iterrows():
        minx, miny, maxx, maxy = c.geometry.bounds
        cuts = np.linspace(minx, maxx, per_community + 1)
        for k in range(per_community):
            piece = c.geometry.intersection(shapely.box(cuts[k], miny - 1, cuts[k + 1], maxy + 1))
            if not piece.is_empty:
                rows.append({"code": f"{c['code']}{k + 1:03d}", "community_code": c["code"], "geometry": piece})
    return gpd.GeoDataFrame(rows, crs=district.working_crs).to_crs(district.areas.crs)
