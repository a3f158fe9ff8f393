"""Export a stored layer to a file people can open: GeoJSON, GeoPackage, Shapefile or CSV.

``layer`` is a schema layer (``areas``, ``roads``, ``buildings``, ``grids``, ``workers``...) or one
level of the areas layer by its import name (``districts``, ``streets``, ``communities``), so what
``gridmap import streets`` takes in, ``gridmap export streets`` gives back. The file has exactly
the layer's columns (no ``fid``), geometry in the storage CRS (lon/lat). Format details (JSON and
datetime columns, CSV geometry, shapefile field names cut to 10 characters) are in
:mod:`gridmap.io.writers`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gridmap import schema
from gridmap.errors import ValidationError
from gridmap.io.columns import IMPORT_LAYERS
from gridmap.io.writers import EXPORT_FORMATS, shapefile_cut_fields, shapefile_field_names, write_frame
from gridmap.store.base import Store

_LEVEL = schema.AREAS_SPEC.column("level").name


@dataclass
class ExportReport:
    layer: str
    target: str
    format: str
    path: str
    rows: int
    #: Column -> name in the file, only where they differ (shapefile truncation).
    renamed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    #: What the format could not hold (e.g. text cut to a shapefile's 254 bytes), for people to read.
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        text = f"Exported {self.rows} row(s) of {self.layer} to {self.path} ({self.format}) in {self.seconds:.2f} s."
        if self.renamed:
            text += " Shapefile field names: " + ", ".join(f"{k} -> {v}" for k, v in self.renamed.items()) + "."
        for warning in self.warnings:
            text += f" Warning: {warning}."
        return text


def _guard_store_file(store: Store, out: Path) -> None:
    if not store.url.startswith("gpkg://"):
        return
    from gridmap.store.gpkg import path_from_url

    if path_from_url(store.url).resolve() == out.resolve():
        raise ValidationError(f"{out}: is the store itself; export to another file", code="unwritable_file")


def export_layer(store: Store, layer: str, fmt: str, out: str | Path) -> ExportReport:
    """Write every row of ``layer`` (or one area level) to ``out`` in ``fmt`` (geojson|gpkg|shp|csv)."""
    started = time.perf_counter()
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    level = IMPORT_LAYERS[layer].level if layer in IMPORT_LAYERS else None
    target = IMPORT_LAYERS[layer].target if layer in IMPORT_LAYERS else layer
    spec = schema.layer_spec(target)
    path = Path(out)
    if not path.parent.exists():
        raise ValidationError(f"{path}: folder {path.parent} does not exist", code="unwritable_file")
    _guard_store_file(store, path)
    frame = store.read(target, where={_LEVEL: level.value} if level is not None else None)
    rows = write_frame(frame, spec, fmt, path)
    renamed = {k: v for k, v in shapefile_field_names(spec.column_names).items() if k != v} if fmt == "shp" else {}
    cut = shapefile_cut_fields(frame, spec) if fmt == "shp" else {}
    warnings = [f"{n} value(s) of {col} longer than 254 bytes were cut (a shapefile limit; gpkg or geojson keep them)"
                for col, n in cut.items()]
    return ExportReport(layer, target, fmt, str(path), rows, renamed, time.perf_counter() - started, warnings)
