"""Filing (报备, P-51): a generation's grids as a GeoPackage and a PDF summary for the township office.

Why both: the office keeps the GeoPackage (it opens in QGIS and any GIS, the boundaries are the
record) and files the PDF (a reviewer reads codes, names and households per grid, sees the map and
the coverage certificate, and signs). The package is built from the store only: the generation's
grids, its community's outline and the certificate stored with the generation (re-checked against
the current buildings when none was stored).

GeoPackage layers: ``grids`` (GRIDS_SPEC columns, lon/lat), ``community`` (the area row),
``certificate`` (one row per check: name, ok, message, metrics, issue count) and ``generation``
(one row: id, status, version, dates, people, note). PDF: A4 pages drawn with matplotlib (no tiles:
nothing is fetched), text in Noto Sans CJK SC (Debian fonts-noto-cjk); areas in m², households in 户.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from gridmap import schema
from gridmap.config import Settings
from gridmap.crs import working_crs_for
from gridmap.errors import NotFoundError, ValidationError
from gridmap.io.writers import GPKG_DATASET_OPTIONS, file_columns
from gridmap.model import AreaLevel, GenerationStatus
from gridmap.services.generations import get_generation
from gridmap.store.base import Store

CJK_FAMILY = "Noto Sans CJK SC"
A4_IN = (8.27, 11.69)
ROWS_PER_PAGE = 32
_STATUS_ZH = {GenerationStatus.STAGED.value: "待审核", GenerationStatus.APPROVED.value: "已批准",
              GenerationStatus.ACTIVE.value: "现行", GenerationStatus.RETIRED.value: "已停用"}  # fmt: skip
_KIND_ZH = {"base": "基础网格", "dedicated": "专属网格", "professional": "专业网格", "micro": "微网格"}
_CHECK_ZH = {
    "geometry_valid": "几何有效", "coverage_valid": "边界衔接(无缝)", "no_overlaps": "无重叠",
    "covers_parent": "全覆盖(无缝隙)", "contiguous": "网格连片", "within_one_community": "不跨社区",
    "buildings_assigned": "楼栋唯一归属", "households_in_band": "户数在规定范围",
    "households_match_buildings": "户数与楼栋一致",
}  # fmt: skip


@dataclass(frozen=True)
class FilingPackage:
    """What was written, and the numbers on the cover page."""

    generation_id: int
    community_code: str
    gpkg: Path
    pdf: Path
    grids: int
    households: int
    certificate_ok: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"generation_id": self.generation_id, "community_code": self.community_code,
                "gpkg": str(self.gpkg), "pdf": str(self.pdf), "grids": self.grids, "households": self.households,
                "certificate_ok": self.certificate_ok}  # fmt: skip


@dataclass
class _Filing:
    generation: dict[str, Any]
    community: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    certificate: dict[str, Any] | None


def _load(store: Store, generation_id: int) -> _Filing:
    gen = get_generation(store, generation_id)
    grids = store.read(schema.GRIDS, where={"generation_id": generation_id})
    if grids.empty:
        raise NotFoundError(f"generation {generation_id} has no grids to file")
    community = store.read(schema.AREAS, where={"code": gen["community_code"], "level": AreaLevel.COMMUNITY.value})
    if community.empty:
        raise NotFoundError(f"community {gen['community_code']} of generation {generation_id} is not in the store")
    assert isinstance(grids, gpd.GeoDataFrame) and isinstance(community, gpd.GeoDataFrame)
    cert = gen.get("certificate") if isinstance(gen.get("certificate"), dict) else None
    return _Filing(gen, community, grids.sort_values("code").reset_index(drop=True), cert)


def file_generation(store: Store, settings: Settings, generation_id: int, out_dir: str | Path) -> FilingPackage:
    """Write ``<community>_g<id>.gpkg`` and ``.pdf`` into ``out_dir`` (created if missing)."""
    data = _load(store, generation_id)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{data.generation['community_code']}_g{generation_id}"
    gpkg, pdf = folder / f"{stem}.gpkg", folder / f"{stem}.pdf"
    for path in (gpkg, pdf):
        if path.exists():
            path.unlink()  # a filing package is written whole, never appended to
    _write_gpkg(data, gpkg)
    _write_pdf(data, pdf, settings)
    hh = pd.to_numeric(data.grids["households"], errors="coerce").fillna(0)
    ok = data.certificate.get("ok") if data.certificate else None
    return FilingPackage(generation_id, str(data.generation["community_code"]), gpkg, pdf, len(data.grids),
                         int(hh.sum()), None if ok is None else bool(ok))  # fmt: skip


def certificate_rows(certificate: dict[str, Any] | None) -> pd.DataFrame:
    """One row per check of a certificate dict (``Certificate.to_dict()``)."""
    checks = (certificate or {}).get("checks") or []
    return pd.DataFrame(
        [{"check": str(c.get("name")), "ok": bool(c.get("ok")), "skipped": bool(c.get("skipped")),
          "message": str(c.get("message", "")), "issues": len(c.get("issues") or []),
          "metrics": json.dumps(c.get("metrics") or {}, ensure_ascii=False, sort_keys=True)}
         for c in checks],
        columns=["check", "ok", "skipped", "message", "issues", "metrics"],
    )  # fmt: skip


def _write_gpkg(data: _Filing, path: Path) -> None:
    grids = gpd.GeoDataFrame(file_columns(data.grids, schema.GRIDS_SPEC, "gpkg"),
                             geometry=data.grids.geometry.to_numpy(), crs=data.grids.crs)  # fmt: skip
    community = gpd.GeoDataFrame(file_columns(data.community, schema.AREAS_SPEC, "gpkg"),
                                 geometry=data.community.geometry.to_numpy(), crs=data.community.crs)  # fmt: skip
    gen = pd.DataFrame([{k: _plain(data.generation.get(k)) for k in schema.GENERATIONS_SPEC.column_names
                         if k != "certificate"}])  # fmt: skip
    try:
        pyogrio.write_dataframe(grids, path, layer="grids", driver="GPKG", geometry_type="MultiPolygon",
                                promote_to_multi=True, dataset_options=GPKG_DATASET_OPTIONS)  # fmt: skip
        pyogrio.write_dataframe(community, path, layer="community", driver="GPKG", geometry_type="MultiPolygon",
                                promote_to_multi=True)  # fmt: skip
        pyogrio.write_dataframe(certificate_rows(data.certificate), path, layer="certificate", driver="GPKG")
        pyogrio.write_dataframe(gen, path, layer="generation", driver="GPKG")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise ValidationError(f"{path}: cannot write the filing GeoPackage: {exc}", code="unwritable_file") from None


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _font(size: float, *, bold: bool = False) -> FontProperties:
    return FontProperties(family=[CJK_FAMILY, "DejaVu Sans"], size=size, weight="bold" if bold else "normal")


def _text(value: Any) -> str:
    return "—" if _plain(value) is None else str(value)


def _write_pdf(data: _Filing, path: Path, settings: Settings) -> None:
    with PdfPages(path, metadata={"Title": f"网格划分报备 {data.generation['community_code']}",
                                  "Creator": "gridmap"}) as pdf:  # fmt: skip
        pdf.savefig(_cover(data, settings))
        rows = data.grids.reset_index(drop=True)
        for start in range(0, len(rows), ROWS_PER_PAGE):
            pdf.savefig(_grid_table(data, rows.iloc[start:start + ROWS_PER_PAGE], start))
        pdf.savefig(_certificate_page(data))


def _page(title: str) -> Figure:
    fig = Figure(figsize=A4_IN)
    fig.text(0.5, 0.965, title, ha="center", va="top", fontproperties=_font(17, bold=True))
    return fig


def _cover(data: _Filing, settings: Settings) -> Figure:
    gen = data.generation
    name = str(data.community["name"].iloc[0])
    fig = _page(f"{name}网格划分报备表")
    hh = pd.to_numeric(data.grids["households"], errors="coerce").fillna(0)
    band = settings.band_for_community(str(gen["community_code"]))  # 社区 or 村 (P-5)
    base = data.grids["kind"] == "base"
    in_band = int(hh[base].between(band.min_households, band.max_households).sum())
    ok = data.certificate.get("ok") if data.certificate else None
    lines = [
        f"社区编码 {gen['community_code']}    版本 {gen['generation_id']}(v{gen['version']})"
        f"    状态 {_STATUS_ZH.get(str(gen['status']), str(gen['status']))}",
        f"网格 {len(data.grids)} 个(基础网格 {int(base.sum())} 个,其中户数在 {band.min_households}–"
        f"{band.max_households} 户之间 {in_band} 个)    总户数 {int(hh.sum())} 户",
        f"编制 {_text(gen.get('created_by'))} {_date(gen.get('created_at'))}    批准 {_text(gen.get('approved_by'))}"
        f" {_date(gen.get('approved_at'))}    启用 {_date(gen.get('activated_at'))}",
        "覆盖证书:" + ("通过" if ok else "未通过" if ok is not None else "未附") + (
            f"    说明:{gen['note']}" if _plain(gen.get("note")) else ""),
    ]  # fmt: skip
    for i, line in enumerate(lines):
        fig.text(0.06, 0.925 - i * 0.022, line, va="top", fontproperties=_font(9.5))
    ax = fig.add_axes((0.06, 0.08, 0.88, 0.72))
    _draw_map(ax, data)
    fig.text(0.06, 0.045, "审核意见:", fontproperties=_font(10))
    fig.text(0.60, 0.045, "签章:            日期:", fontproperties=_font(10))
    return fig


def _date(value: Any) -> str:
    v = _plain(value)
    if v is None:
        return "—"
    return pd.Timestamp(v).tz_convert("Asia/Shanghai").strftime("%Y-%m-%d")


def _draw_map(ax: Axes, data: _Filing) -> None:
    """Grids (metric working CRS, so the map is not stretched) with their sequence numbers."""
    crs = working_crs_for(data.community)
    grids = data.grids.to_crs(crs)
    outline = data.community.to_crs(crs)
    palette = ["#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#ffff99", "#fb9a99", "#8dd3c7", "#bebada"]
    for i, (_, row) in enumerate(grids.iterrows()):
        for part in shapely.get_parts(row.geometry):
            xs, ys = part.exterior.xy
            ax.fill(xs, ys, facecolor=palette[i % len(palette)], edgecolor="#333333", linewidth=0.8)
        spot = row.geometry.representative_point()
        ax.text(spot.x, spot.y, f"{str(row['code'])[-3:]}\n{_text(row['households'])}户", ha="center",
                va="center", fontproperties=_font(7))  # fmt: skip
    for part in shapely.get_parts(outline.geometry.iloc[0]):
        xs, ys = part.exterior.xy
        ax.plot(xs, ys, color="#b2182b", linewidth=1.6)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title("网格分布图(标注:网格序号 / 户数)", fontproperties=_font(10))


def _grid_table(data: _Filing, rows: pd.DataFrame, start: int) -> Figure:
    fig = _page(f"网格清单({data.generation['community_code']},版本 {data.generation['generation_id']})")
    header = ["序号", "网格编码", "网格名称", "类型", "户数", "面积(m²)", "标记"]
    body = [[str(start + i + 1), str(r["code"]), str(r["name"]), _KIND_ZH.get(str(r["kind"]), str(r["kind"])),
             _text(r["households"]), f"{float(r['area_m2']):,.0f}" if _plain(r["area_m2"]) is not None else "—",
             "、".join(str(f.get("code")) for f in (r["flags"] if isinstance(r["flags"], list) else []))[:24]]
            for i, (_, r) in enumerate(rows.iterrows())]  # fmt: skip
    _table(fig, header, body, widths=[0.06, 0.2, 0.27, 0.1, 0.08, 0.12, 0.17])
    return fig


def _certificate_page(data: _Filing) -> Figure:
    fig = _page("覆盖证书(全覆盖、无缝隙、无重叠、户数范围)")
    cert = certificate_rows(data.certificate)
    if cert.empty:
        fig.text(0.06, 0.9, "该版本未附覆盖证书(请运行 gridmap validate)。", fontproperties=_font(11))
        return fig
    body = [[_CHECK_ZH.get(r["check"], r["check"]), "跳过" if r["skipped"] else ("通过" if r["ok"] else "未通过"),
             str(r["issues"]), str(r["message"])[:70]] for _, r in cert.iterrows()]  # fmt: skip
    _table(fig, ["检查项", "结果", "问题数", "说明"], body, widths=[0.2, 0.08, 0.08, 0.64])
    return fig


def _table(fig: Figure, header: list[str], body: list[list[str]], *, widths: list[float]) -> None:
    ax = fig.add_axes((0.04, 0.05, 0.92, 0.86))
    ax.set_axis_off()
    table = ax.table(cellText=body or [[""] * len(header)], colLabels=header, colWidths=widths, loc="upper center",
                     cellLoc="left")  # fmt: skip
    table.auto_set_font_size(False)
    for cell in table.get_celld().values():
        cell.get_text().set_fontproperties(_font(7.5))
        cell.set_height(0.026)
