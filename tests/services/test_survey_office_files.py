"""Files as Chinese survey offices deliver them (issue 12), built with GDAL (pyogrio) in the test.

A zipped Shapefile whose DBF is GBK-encoded with no .cpg and a zero language-driver byte (GDAL
then reads it as Latin-1), field names in pinyin initials (JDDM/JDMC, SQDM/SQMC), and a .prj in
CGCS2000 3-degree Gauss-Krüger with the zone number in front of X (EPSG:4526, zone 38) or
without it (EPSG:4547, CM 114°E). The stored geometry, projected back, must equal the source
within 0.01 m; the wrong family, a missing .prj, an unmappable .prj and undecodable text are
refused with the file and the problem named, and nothing is written.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gridmap import schema
from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.services.importing import import_layer
from gridmap.store.base import Store

DATA = Path(__file__).parents[1] / "data"
ZONED, PLAIN = 4526, 4547  # CGCS2000 / 3-degree GK zone 38 (X = 38,xxx,xxx) and CM 114E (X = xxx,xxx)


def survey_zip(frame: gpd.GeoDataFrame, folder: Path, name: str, *, prj: str | None = "keep") -> Path:
    """``frame`` as a zipped GBK shapefile without .cpg (LDID byte 0), optionally without/with a bad .prj."""
    shp = folder / name
    shp.mkdir()
    pyogrio.write_dataframe(frame, shp / f"{name}.shp", encoding="GBK")
    (shp / f"{name}.cpg").unlink(missing_ok=True)
    dbf = shp / f"{name}.dbf"
    raw = bytearray(dbf.read_bytes())
    raw[29] = 0  # no language driver id: what most survey software writes
    dbf.write_bytes(bytes(raw))
    if prj is None:
        (shp / f"{name}.prj").unlink()
    elif prj != "keep":
        (shp / f"{name}.prj").write_text(prj, encoding="ascii")
    archive = folder / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in sorted(shp.iterdir()):
            zf.write(part, part.name)
    assert not any(n.endswith(".cpg") for n in zipfile.ZipFile(archive).namelist())
    return archive


def in_gk(layer: str, epsg: int, *, zone_prefix_on_plain: bool = False) -> gpd.GeoDataFrame:
    """A real Hebi test layer projected to ``epsg`` (edges first cut to ~20 m so the course is kept)."""
    frame = gpd.read_file(DATA / f"hebi_{layer}.geojson")
    frame = frame.set_geometry(frame.geometry.segmentize(2e-4)).to_crs(epsg)
    if zone_prefix_on_plain:  # the classic mistake: zone-prefixed X under a .prj without zone numbers
        frame = frame.set_geometry(frame.geometry.translate(xoff=38_000_000.0))
    return frame


def stored_matches_source(store: Store, level: str, source: gpd.GeoDataFrame, code_column: str, epsg: int) -> float:
    stored = store.read(schema.AREAS, where={"level": level}).set_index("code").to_crs(epsg)
    worst = 0.0
    for _, row in source.iterrows():
        here = stored.loc[str(row[code_column]), "geometry"]
        worst = max(worst, float(shapely.hausdorff_distance(here, row.geometry)))
    return worst


def test_gbk_zipped_shapefiles_in_both_gauss_kruger_families(store: Store, settings: Settings, tmp_path: Path) -> None:
    import_layer(store, settings, "districts", DATA / "hebi_districts.geojson")
    streets = in_gk("streets", ZONED).rename(columns={"code": "JDDM", "name": "JDMC"})
    report = import_layer(store, settings, "streets", survey_zip(streets, tmp_path, "jd"))
    assert report.features_written == 2
    stored = store.read(schema.AREAS, where={"level": "street"}).sort_values("code")
    assert sorted(stored["name"]) == ["东城街道", "西城街道"]  # GBK decoded, not mojibake
    assert stored_matches_source(store, "street", streets, "JDDM", ZONED) < 0.01

    communities = in_gk("communities", PLAIN).rename(columns={"code": "SQDM", "name": "SQMC", "households": "HS"})
    communities["JDDM"] = communities["SQDM"].str[:9]  # the street code column sits beside the community's own
    report = import_layer(store, settings, "communities", survey_zip(communities, tmp_path, "sq"),
                          column_map={"households": "HS"})  # fmt: skip
    assert report.features_written == 4
    rows = store.read(schema.AREAS, where={"level": "community"}).sort_values("code")
    assert rows["parent_code"].tolist() == rows["code"].str[:9].tolist()
    assert rows["households"].sum() == 4400 and all("社区" in n for n in rows["name"])
    assert stored_matches_source(store, "community", communities, "SQDM", PLAIN) < 0.01


def rejected(store: Store, settings: Settings, path: Path, match: str, **kwargs: object) -> ValidationError:
    before = {name: store.count(name) for name in schema.LAYERS}
    with pytest.raises(ValidationError, match=match) as err:
        import_layer(store, settings, "streets", path, **kwargs)  # type: ignore[arg-type]
    assert {name: store.count(name) for name in schema.LAYERS} == before  # nothing written
    assert str(path) in err.value.message
    return err.value


def test_wrong_family_missing_or_unmappable_prj_and_undecodable_text(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    import_layer(store, settings, "districts", DATA / "hebi_districts.geojson")
    plain_prj_zoned_x = in_gk("streets", PLAIN, zone_prefix_on_plain=True).rename(columns={"code": "JDDM"})
    err = rejected(store, settings, survey_zip(plain_prj_zoned_x, tmp_path, "a"), "zone number 38")
    assert "EPSG:4526" in err.message and "EPSG:4547" in err.message

    zoned_prj_plain_x = in_gk("streets", PLAIN).rename(columns={"code": "JDDM"}).set_crs(ZONED, allow_override=True)
    err = rejected(store, settings, survey_zip(zoned_prj_plain_x, tmp_path, "b"), "no zone number in front")
    assert "EPSG:4547" in err.message

    no_prj = survey_zip(in_gk("streets", ZONED).rename(columns={"code": "JDDM"}), tmp_path, "c", prj=None)
    rejected(store, settings, no_prj, "has no .prj")
    assert import_layer(store, settings, "streets", no_prj, crs=f"EPSG:{ZONED}").features_written == 2
    with store.transaction() as tx:
        tx.delete(schema.AREAS, {"level": "street"})

    weird = 'PROJCS["Local survey grid",GEOGCS["unknown",DATUM["unknown",SPHEROID["x",6000000,300]]],' \
            'PROJECTION["Transverse_Mercator"],PARAMETER["central_meridian",113.7],UNIT["metre",1]]'
    rejected(store, settings, survey_zip(in_gk("streets", ZONED), tmp_path, "d", prj=weird), "cannot be identified")

    garbled = in_gk("streets", ZONED).rename(columns={"code": "JDDM", "name": "JDMC"})
    first = 1 + garbled["JDMC"].tolist().index("东城街道")
    archive = survey_zip(garbled, tmp_path, "e")
    broken = tmp_path / "e_broken.zip"  # two bytes that are no GBK/GB18030 and no UTF-8 in the name field
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item.endswith(".dbf"):
                data = data.replace("东城".encode("gbk"), b"\xff\xfe\xff\xfe")
            dst.writestr(item, data)
    err = rejected(store, settings, broken, "neither UTF-8 nor GBK")
    assert ".cpg" in err.message and f"column 'JDMC', feature {first} " in err.message
