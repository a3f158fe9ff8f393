"""The printable grid card (公示牌): data from the store, the supervision phone, the PDF/PNG file.

The CLI's ``gridmap card`` goes through here; the rendering lives in ``gridmap.cards``.
"""

from __future__ import annotations

from gridmap.cards import card_data_from_store as card_data_from_store
from gridmap.cards import supervision_phone_for as supervision_phone_for
from gridmap.cards import write_card as write_card
