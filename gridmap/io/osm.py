"""OpenStreetMap ``.osm.pbf`` extracts (via pyrosm): roads with a gridmap class, buildings with levels.

The result is a :class:`~gridmap.io.readers.SourceData` whose columns carry OSM tag names
(``highway``, ``building``, ``building:levels``, ``addr:street``...), so the importer maps them
with the same column rules as any other file. pyrosm reads the local file only; nothing here
downloads (``pyrosm.get_data`` is never called).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from gridmap.errors import ValidationError
from gridmap.io.readers import SourceData
from gridmap.model import RoadClass

#: OSM ``highway=*`` -> gridmap road class. Values not listed (elevator, platform, proposed,
#: construction, bus_stop...) are not roads a grid edge can follow and are dropped with a warning.
HIGHWAY_CLASSES: dict[str, RoadClass] = {
    **dict.fromkeys(
        ("motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link"),
        RoadClass.ARTERIAL,
    ),
    **dict.fromkeys(("tertiary", "tertiary_link", "residential", "unclassified", "road"), RoadClass.LOCAL),
    **dict.fromkeys(("living_street", "track"), RoadClass.LANE),
    "service": RoadClass.SERVICE,
    **dict.fromkeys(
        ("footway", "path", "pedestrian", "steps", "cycleway", "bridleway", "corridor", "trail"), RoadClass.FOOTPATH
    ),
}

#: ``service=*`` values that make a service road a lane (胡同/里弄-like alleys) rather than a driveway.
LANE_SERVICE_VALUES = frozenset({"alley"})


def road_class_from_highway(highway: str | None, *, service: str | None = None) -> RoadClass | None:
    """The gridmap class of an OSM way, or None when it is not a road (``highway=elevator``...)."""
    if highway is None or (isinstance(highway, float) and np.isnan(highway)):
        return None
    cls = HIGHWAY_CLASSES.get(str(highway).strip().lower())
    if cls is RoadClass.SERVICE and service is not None and str(service).lower() in LANE_SERVICE_VALUES:
        return RoadClass.LANE
    return cls


def _read_errors() -> tuple[type[BaseException], ...]:
    """What a broken .pbf raises: pyrosm's own errors, protobuf decode errors (truncated file), I/O."""
    from google.protobuf.message import Error as ProtobufError
    from pyrosm.exceptions import PBFException

    return (OSError, ValueError, RuntimeError, KeyError, PBFException, ProtobufError)


def _read(path: Path, what: str) -> pd.DataFrame | None:
    """Roads (``highway=*`` ways, every network type) or buildings of a local extract."""
    from pyrosm import OSM  # heavy import: only when a .pbf is actually read

    if not path.exists():
        raise ValidationError(f"{path}: file does not exist", code="file_not_found")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        try:
            osm = OSM(str(path))
            if what == "roads":
                return osm.get_network(network_type="all")
            return osm.get_buildings()
        except _read_errors() as exc:
            raise ValidationError(
                f"{path}: cannot read {what} from the OSM extract (is it complete?): {exc}", code="unreadable_file"
            ) from None


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype(object).where(frame[name].notna(), None)
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _osm_ids(frame: pd.DataFrame) -> pd.Series:
    kind = _column(frame, "osm_type").fillna("way")
    return "osm:" + kind.astype(str) + "/" + frame["id"].astype("int64").astype(str)


def roads_from_pbf(path: str | Path) -> SourceData:
    """Road centre lines of an extract with columns road_id, name, highway, service, road_class."""
    p = Path(path)
    raw = _read(p, "roads")
    if raw is None or len(raw) == 0:
        raise ValidationError(f"{p}: the OSM extract holds no highway=* ways", code="empty_file")
    classes = [
        road_class_from_highway(h, service=s)
        for h, s in zip(_column(raw, "highway"), _column(raw, "service"), strict=True)
    ]
    keep = np.array([c is not None for c in classes])
    notes: list[str] = []
    if not keep.all():
        dropped = pd.Series(_column(raw, "highway")[~keep]).value_counts()
        listed = ", ".join(f"{k} ({v})" for k, v in dropped.items())
        notes.append(f"{p}: skipped {int((~keep).sum())} ways that are not roads: highway={listed}")
    raw = raw[keep].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "road_id": _osm_ids(raw),
            "name": _column(raw, "name"),
            "highway": _column(raw, "highway"),
            "road_class": [str(c) for c in np.asarray(classes, dtype=object)[keep]],
        }
    )
    geoms = np.asarray(raw.geometry.to_numpy(), dtype=object)
    return SourceData(p, "osm", frame, geoms, "EPSG:4326", "roads", {}, notes)


def _building_type(frame: pd.DataFrame) -> pd.Series:
    """``building=*``, refined for the generic ``building=yes`` by office/shop/amenity tags.

    Without this, every untagged shop or office in a centre would count as flats. An amenity
    gives ``amenity:<value>`` (``amenity:pub``), which the household estimate treats as non-residential.
    """
    building = _column(frame, "building").map(lambda v: None if v is None else str(v).strip().lower())
    generic = building.isna() | building.isin(["yes", "true", "1"])
    office = _column(frame, "office").notna()
    shop = _column(frame, "shop").notna()
    amenity = _column(frame, "amenity")
    out = building.copy()
    out[generic & office] = "office"
    out[generic & ~office & shop] = "retail"
    take_amenity = generic & ~office & ~shop & amenity.notna()
    out[take_amenity] = "amenity:" + amenity[take_amenity].astype(str)
    return out


def buildings_from_pbf(path: str | Path) -> SourceData:
    """Building footprints with building_id, name, building (type), building:levels, addr:* columns."""
    p = Path(path)
    raw = _read(p, "buildings")
    if raw is None or len(raw) == 0:
        raise ValidationError(f"{p}: the OSM extract holds no building=* features", code="empty_file")
    raw = raw.reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "building_id": _osm_ids(raw),
            "name": _column(raw, "name"),
            "building": _building_type(raw),
            "building:levels": _column(raw, "building:levels"),
            "addr:street": _column(raw, "addr:street"),
            "addr:housenumber": _column(raw, "addr:housenumber"),
        }
    )
    geoms = np.asarray(raw.geometry.to_numpy(), dtype=object)
    return SourceData(p, "osm", frame, geoms, "EPSG:4326", "buildings", {}, [])
