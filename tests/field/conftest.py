"""Fixtures of the field tests: the tracked world (tests/tracking/world.py) plus inspection points.

Points (all 2-day interval unless said): p-a1 at the middle of grid A (worker w-a), p-a2 in A near its
north-east corner, p-b1 in grid B (w-b). Field photos go to a temporary folder on both stores.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from gridmap.auth.principal import Principal
from gridmap.config import Settings
from gridmap.model import Role
from gridmap.services.field import FieldService
from gridmap.store.base import Store
from tests.tracking import world

A, B = world.A, world.B
W_A = Principal(name="w-a", role=Role.WORKER, area_code=A)
W_B = Principal(name="w-b", role=Role.WORKER, area_code=B)
LEADER = Principal(name="lead", role=Role.COMMAND, area_code="410611001001")
OTHER_LEADER = Principal(name="lead2", role=Role.COMMAND, area_code="410611001002")
NOW = datetime(2026, 5, 12, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
POINTS_CSV = """point_id,name,lon,lat,interval_days,kind
p-a1,桃园东门消防栓,{ax},{ay},2,fire
p-a2,"桃园北侧<b>配电房</b>",{a2x},{a2y},,safety
p-b1,杏园市场,{bx},{by},1,
"""


def points_csv(path: Path) -> Path:
    ax, ay = world.inside(A)
    a2x, a2y = world.inside(A, 0.9, 0.9)
    bx, by = world.inside(B)
    path.write_text(POINTS_CSV.format(ax=ax, ay=ay, a2x=a2x, a2y=a2y, bx=bx, by=by), encoding="utf-8")
    return path


def jpeg(*, size: tuple[int, int] = (64, 48), gps: bool = True) -> bytes:
    """A small JPEG with EXIF (camera make and a GPS position) as a phone writes it."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    if gps:
        exif[0x8825] = {1: "N", 2: (35.0, 44.0, 1.5), 3: "E", 4: (114.0, 18.0, 2.5)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def field_settings(tmp_path: Path, settings: Settings) -> Settings:
    return settings.replace(field_photo_dir=str(tmp_path / "field_photos"))


@pytest.fixture
def field_store(store: Store, tmp_path: Path, field_settings: Settings) -> Store:
    world.populate_store(store)
    FieldService(store, field_settings, clock=lambda: NOW).import_points(points_csv(tmp_path / "points.csv"),
                                                                         actor="admin")
    return store


@pytest.fixture
def service(field_store: Store, field_settings: Settings) -> FieldService:
    return FieldService(field_store, field_settings, clock=lambda: NOW)


@pytest.fixture
def new_id() -> Callable[[], str]:
    return lambda: str(uuid.uuid4())
