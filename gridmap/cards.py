"""The printable grid card (公示牌): grid map, worker photo, name, phone, duties, supervision phone, QR code.

Why: every grid must post a sign with the grid map (roads and buildings marked), the responsible
people's photo, name, phone and duties, and a supervision phone (R-22..R-27, G-15..G-19). The QR code
opens the resident page of the same grid, so the paper sign and the portal never disagree.

Drawn with matplotlib (no map tiles: nothing is fetched) in the grid's metric working CRS so the map
is not stretched; text uses Noto Sans CJK SC (Debian fonts-noto-cjk). One figure -> PNG or PDF.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import qrcode
from matplotlib import patches
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from shapely.geometry.base import BaseGeometry

from gridmap import schema
from gridmap.analysis.lookup import LookupIndex, LookupResult, WorkerCard
from gridmap.config import Settings
from gridmap.crs import working_crs_for
from gridmap.errors import ValidationError
from gridmap.model import RoadClass, WorkerRole
from gridmap.photos import photo_file_in

#: A4 portrait, inches.
CARD_SIZE_IN = (8.27, 11.69)
PNG_DPI = 150
CJK_FAMILY = "Noto Sans CJK SC"
ACCENT = "#b71c1c"  # the red of public signs
ROLE_LABELS = {
    WorkerRole.GRID_LEADER.value: "网格长",
    WorkerRole.FULL_TIME.value: "专职网格员",
    WorkerRole.PART_TIME.value: "兼职网格员",
}
ROAD_WIDTH = {RoadClass.ARTERIAL.value: 3.0, RoadClass.LOCAL.value: 1.8, RoadClass.LANE.value: 1.0}
#: People on one card (leader first); the rest are in the resident page behind the QR code.
MAX_PEOPLE = 3
#: Figure fractions (0 = bottom): top of the first person's row, row height at most, top of the footer.
PEOPLE_TOP, PERSON_ROW, FOOTER_TOP = 0.40, 0.115, 0.145


@dataclass(frozen=True)
class CardData:
    """Everything drawn on one card; geometries in lon/lat (EPSG:4326)."""

    result: LookupResult
    boundary: BaseGeometry
    roads: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    resident_url: str
    supervision_phone: str | None
    photo_dir: Path | None = None


def resident_url_for(settings: Settings, grid_code: str) -> str:
    """The resident page of one grid: what the QR code on the card opens."""
    return f"{settings.public_base_url.rstrip('/')}/resident?grid={grid_code}"


def qr_matrix_from_text(text: str) -> npt.NDArray[np.bool_]:
    """The QR modules (True = dark) with the standard 4-module quiet zone, error correction M."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    return np.array(qr.get_matrix(), dtype=bool)


def _font(size: float, *, bold: bool = False) -> FontProperties:
    return FontProperties(family=[CJK_FAMILY, "DejaVu Sans"], size=size, weight="bold" if bold else "normal")


def _wrap(text: str, width: int) -> str:
    """Wrap CJK text by characters (textwrap alone does not break runs without spaces)."""
    return "\n".join(textwrap.wrap(text, width=width, break_long_words=True)) if text else ""


def card_figure(data: CardData) -> Figure:
    """The card as a matplotlib Figure (A4 portrait)."""
    fig = Figure(figsize=CARD_SIZE_IN)  # no pyplot: no global figure registry, safe in server threads
    fig.patch.set_facecolor("white")
    _draw_header(fig, data.result)
    _draw_map(fig.add_axes((0.05, 0.42, 0.90, 0.42)), data)
    people = [p for p in (data.result.leader, *data.result.workers) if p is not None][:MAX_PEOPLE]
    # Rows share the band between the map and the service-centre footer; two people get roomy rows.
    step = min(PERSON_ROW, (PEOPLE_TOP - FOOTER_TOP) / max(1, len(people)))
    for k, person in enumerate(people):
        _draw_person(fig, person, top=PEOPLE_TOP - k * step, photo_dir=data.photo_dir)
    if not people:
        fig.text(0.05, 0.39, "网格员信息待公布(请联系服务中心)", va="top", fontproperties=_font(13), color="#616161")
    _draw_qr(fig.add_axes((0.70, 0.175, 0.25, 0.21)), data.resident_url)
    _draw_footer(fig, data)
    return fig


def _draw_header(fig: Figure, result: LookupResult) -> None:
    fig.patches.append(
        patches.Rectangle((0, 0.905), 1, 0.095, transform=fig.transFigure, color=ACCENT, zorder=0)
    )
    fig.text(0.5, 0.955, "网格公示牌", ha="center", va="center", color="white", fontproperties=_font(30, bold=True))
    fig.text(0.5, 0.918, f"{result.grid.name}    编码 {result.grid.code}", ha="center", va="center",
             color="white", fontproperties=_font(14))
    parts = [a.name for a in (result.district, result.street, result.community) if a is not None]
    households = f"    约 {result.grid.households} 户" if result.grid.households else ""
    fig.text(0.5, 0.88, " · ".join(parts) + households, ha="center", va="center", fontproperties=_font(12))


def _draw_map(ax: Axes, data: CardData) -> None:
    """Grid boundary, roads and buildings in the working CRS (metres), with a scale bar."""
    crs = working_crs_for(tuple(data.boundary.bounds))
    grid = gpd.GeoSeries([data.boundary], crs=4326).to_crs(crs)
    minx, miny, maxx, maxy = grid.total_bounds
    pad = 0.12 * max(maxx - minx, maxy - miny, 50.0)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad, maxy + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if not data.buildings.empty:
        data.buildings.to_crs(crs).plot(ax=ax, color="#d7ccc8", edgecolor="#8d6e63", linewidth=0.3, zorder=1)
    if not data.roads.empty:
        roads = data.roads.to_crs(crs)
        widths = [ROAD_WIDTH.get(str(c), 0.6) for c in roads["road_class"]]
        roads.plot(ax=ax, color="#9e9e9e", linewidth=widths, zorder=2)
        _label_roads(ax, roads)
    grid.plot(ax=ax, facecolor=(0.72, 0.11, 0.11, 0.08), edgecolor=ACCENT, linewidth=2.5, zorder=3)
    _scale_bar(ax, minx - pad, miny - pad, maxx - minx + 2 * pad)
    ax.annotate("N", xy=(0.965, 0.96), xytext=(0.965, 0.86), xycoords="axes fraction", ha="center",
                arrowprops={"arrowstyle": "-|>", "color": "black"}, fontproperties=_font(11, bold=True))


def _label_roads(ax: Axes, roads: gpd.GeoDataFrame) -> None:
    """One label per named road, at the middle of its longest piece inside the map frame."""
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    named = roads.loc[roads["name"].notna()] if "name" in roads else roads.iloc[0:0]
    for name, group in named.groupby("name"):
        pieces = [g for g in group.geometry.clip_by_rect(xmin, ymin, xmax, ymax) if not g.is_empty]
        if not pieces:
            continue
        mid = max(pieces, key=lambda g: g.length).interpolate(0.5, normalized=True)
        ax.text(mid.x, mid.y, str(name), ha="center", va="center", fontproperties=_font(8), color="#424242",
                zorder=4, bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1})


def _scale_bar(ax: Axes, x0: float, y0: float, width_m: float) -> None:
    nice = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
    length = max((n for n in nice if n <= width_m / 4), default=10)
    x, y = x0 + width_m * 0.04, y0 + width_m * 0.03
    ax.plot([x, x + length], [y, y], color="black", linewidth=3, zorder=5)
    ax.text(x + length / 2, y + width_m * 0.012, f"{length} 米" if length < 1000 else f"{length // 1000} 千米",
            ha="center", va="bottom", fontproperties=_font(9), zorder=5)


def _photo(person: WorkerCard, photo_dir: Path | None) -> npt.NDArray[Any] | None:
    """The photo as an image array, or None when it is missing, remote or unreadable."""
    if not person.photo or "://" in person.photo:
        return None
    path = Path(person.photo)
    if not path.is_absolute():  # a roster's relative name: only an image inside the photo folder
        found = None if photo_dir is None else photo_file_in(photo_dir, person.photo)
        if found is None:
            return None
        path = found
    if not path.is_file():
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, UnidentifiedImageError):
        return None


def _draw_placeholder(ax: Axes) -> None:
    """A neutral silhouette, so a missing photo is obvious but the card still prints."""
    ax.add_patch(patches.Rectangle((0, 0), 1, 1, color="#eceff1"))
    ax.add_patch(patches.Circle((0.5, 0.64), 0.17, color="#b0bec5"))
    ax.add_patch(patches.Ellipse((0.5, 0.12), 0.75, 0.5, color="#b0bec5"))
    ax.text(0.5, 0.93, "照片", ha="center", va="center", fontproperties=_font(8), color="#607d8b")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


def _draw_person(fig: Figure, person: WorkerCard, *, top: float, photo_dir: Path | None) -> None:
    # 3:4 portrait photo: 0.075 of the width is 0.62 in, so 0.83 in = 0.0707 of the height
    ax = fig.add_axes((0.05, top - 0.0757, 0.075, 0.0707))
    image = _photo(person, photo_dir)
    if image is None:
        _draw_placeholder(ax)
    else:
        ax.imshow(image, aspect="auto")
    ax.set_xticks([])
    ax.set_yticks([])
    role = ROLE_LABELS.get(person.role, person.role)
    fig.text(0.14, top - 0.012, f"{role}  {person.name}", va="top", fontproperties=_font(14, bold=True))
    fig.text(0.14, top - 0.04, f"电话  {person.phone or '—'}", va="top", fontproperties=_font(12), color=ACCENT)
    fig.text(0.14, top - 0.062, _wrap(f"职责  {person.duties or '—'}", 30), va="top", fontproperties=_font(9.5),
             linespacing=1.4)


def _draw_qr(ax: Axes, url: str) -> None:
    ax.imshow(qr_matrix_from_text(url), cmap="binary", interpolation="nearest")
    ax.set_axis_off()
    ax.set_title("扫码查询我的网格", fontproperties=_font(11), pad=4)


def _draw_footer(fig: Figure, data: CardData) -> None:
    centre = data.result.service_centre
    lines: list[str] = []
    if centre is not None:
        lines.append(f"服务中心  {centre.name}")
        lines.append(f"地址  {centre.address or '—'}    电话  {centre.phone or '—'}")
        if centre.opening_hours:
            lines.append(f"办公时间  {centre.opening_hours}")
    fig.text(0.05, FOOTER_TOP - 0.01, "\n".join(lines), va="top", fontproperties=_font(11), linespacing=1.6)
    fig.patches.append(
        patches.Rectangle((0, 0), 1, 0.05, transform=fig.transFigure, color=ACCENT, zorder=0)
    )
    fig.text(0.5, 0.025, f"监督电话  {data.supervision_phone or '—'}", ha="center", va="center", color="white",
             fontproperties=_font(15, bold=True))
    fig.text(0.95, 0.058, data.resident_url, ha="right", va="bottom", fontproperties=_font(7), color="#616161")


def write_card(data: CardData, out: str | Path) -> Path:
    """Render the card to ``out`` (.png at 150 dpi or .pdf, vector); returns the path."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in {".png", ".pdf"}:
        raise ValidationError(f"grid card {path}: the file must end in .png or .pdf")
    fig = card_figure(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=PNG_DPI, format=suffix[1:])
    return path


def card_data_from_store(
    store: Any,
    settings: Settings,
    result: LookupResult,
    boundary: BaseGeometry,
    *,
    supervision_phone: str | None = None,
    photo_dir: Path | None = None,
) -> CardData:
    """Roads and buildings around the grid (bbox read) plus the resident answer, ready to draw.

    Supervision phone: the argument, else ``settings.extra["supervision_phone"]``, else the
    community service centre's phone.
    """
    minx, miny, maxx, maxy = boundary.bounds
    dx, dy = (maxx - minx) * 0.15 + 1e-4, (maxy - miny) * 0.15 + 1e-4
    bbox = (minx - dx, miny - dy, maxx + dx, maxy + dy)
    roads = store.read(schema.ROADS, bbox=bbox, columns=["name", "road_class", schema.GEOMETRY])
    buildings = store.read(schema.BUILDINGS, bbox=bbox, columns=["building_id", schema.GEOMETRY])
    phone = supervision_phone or settings.extra.get("supervision_phone") or _centre_phone(result)
    return CardData(result, boundary, roads, buildings, resident_url_for(settings, result.grid.code), phone,
                    photo_dir)


def supervision_phone_for(index: LookupIndex, result: LookupResult) -> str | None:
    """The street's grid management centre phone (监督电话 is the level above the grid's own staff)."""
    street = index.centre_of_area(result.street.code) if result.street is not None else None
    return street.phone if street is not None and street.phone else None


def _centre_phone(result: LookupResult) -> str | None:
    return result.service_centre.phone if result.service_centre is not None else None


def png_size_px() -> Sequence[int]:
    """Pixel size of a PNG card (width, height)."""
    return (int(CARD_SIZE_IN[0] * PNG_DPI), int(CARD_SIZE_IN[1] * PNG_DPI))  # matplotlib truncates
