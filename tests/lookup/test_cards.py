"""The printable grid card: PNG/PDF produced, QR code decodes to the resident page of the grid, photo or placeholder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from gridmap.analysis.lookup import LookupIndex
from gridmap.cards import CardData, card_figure, png_size_px, qr_matrix_from_text, resident_url_for, write_card
from gridmap.config import Settings
from gridmap.errors import ValidationError
from tests.lookup import fixtures as fx

A1 = fx.COMM_A + "001"
PHOTO_RGB = (0, 200, 0)  # a colour that appears nowhere else on a card


def _card(index: LookupIndex, code: str, *, photo_dir: Path | None = None) -> CardData:
    settings = Settings(public_base_url="https://grid.example.gov.cn/portal/")
    return CardData(
        result=index.result_for_grid(code),
        boundary=index.grid_geometry(code),
        roads=fx.roads_frame(),
        buildings=fx.buildings_frame(),
        resident_url=resident_url_for(settings, code),
        supervision_phone="0392-12345",
        photo_dir=photo_dir,
    )


def _decode(path: Path) -> list[str]:
    with Image.open(path) as img:
        return [r.text for r in zxingcpp.read_barcodes(img)]


def test_png_card_qr_decodes_to_the_resident_page(index: LookupIndex, tmp_path: Path) -> None:
    out = write_card(_card(index, A1), tmp_path / "card.png")
    with Image.open(out) as img:
        assert img.size == tuple(png_size_px())
    assert _decode(out) == [f"https://grid.example.gov.cn/portal/resident?grid={A1}"]
    b2 = fx.COMM_B + "002"
    assert _decode(write_card(_card(index, b2), tmp_path / "b2.png")) == [
        f"https://grid.example.gov.cn/portal/resident?grid={b2}"
    ]


def test_qr_matrix_is_a_real_qr_code() -> None:
    m = qr_matrix_from_text("http://127.0.0.1:8000/resident?grid=" + A1)
    assert m.shape[0] == m.shape[1] and m.shape[0] >= 21 + 8  # version >= 1 plus the quiet zone
    finder = m[4:11, 4:11]  # the top-left finder pattern: dark ring, light ring, dark 3x3 core
    assert finder[0].all() and finder[:, 0].all() and not finder[1, 1:6].any() and finder[2:5, 2:5].all()
    assert not m[:4].any() and not m[:, :4].any()  # quiet zone


def test_photo_is_drawn_when_the_file_exists_and_a_placeholder_when_not(index: LookupIndex, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (60, 80), PHOTO_RGB).save(photos / "w1.jpg", format="PNG")  # w1 = 张伟, grid A1

    def green_pixels(path: Path) -> int:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB")).astype(int)
        return int((np.abs(rgb - np.array(PHOTO_RGB)).sum(axis=2) < 30).sum())

    with_photo = write_card(_card(index, A1, photo_dir=tmp_path), tmp_path / "with.png")  # photo "photos/w1.jpg"
    without = write_card(_card(index, A1, photo_dir=tmp_path / "missing"), tmp_path / "without.png")
    assert green_pixels(with_photo) > 2000  # the photo box is ~90 x 120 px at 150 dpi
    assert green_pixels(without) == 0


def test_pdf_card(index: LookupIndex, tmp_path: Path) -> None:
    out = write_card(_card(index, A1), tmp_path / "card.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert b"NotoSansCJK" in data  # the CJK font is embedded, so 网格 prints without system fonts


def test_unknown_format_and_grid(index: LookupIndex, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"\.png or \.pdf"):
        write_card(_card(index, A1), tmp_path / "card.svg")
    with pytest.raises(Exception, match="not an active"):
        _card(index, fx.COMM_A + "999")


def test_supervision_phone_is_the_street_centres(index: LookupIndex) -> None:
    from gridmap.cards import supervision_phone_for

    result = index.result_for_grid(A1)
    assert result.service_centre is not None and result.service_centre.phone == "0392-1234561"  # community
    assert supervision_phone_for(index, result) == "0392-1234560"  # 黎阳街道网格化服务管理中心


def test_three_people_and_the_service_centre_do_not_overlap(index: LookupIndex) -> None:
    data = _card(index, fx.COMM_A + "002")  # leader 赵敏 + 王芳 + 李娜
    assert data.result.leader is not None and len(data.result.workers) == 2
    fig = card_figure(data)
    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.texts if t.get_text().strip()]
    boxes += [("photo", ax.get_window_extent(renderer)) for ax in fig.axes if ax.get_position().width < 0.1]
    assert sum(1 for name, _ in boxes if name == "photo") == 3
    clashes = [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:] if box_a.overlaps(box_b)]
    assert clashes == []
    footer = next(box for text, box in boxes if text.startswith("服务中心"))
    assert all(box.y0 > footer.y1 for text, box in boxes if "职责" in text or text == "photo")  # people above it
