"""Message catalogues, language choice and locale formatting."""

from __future__ import annotations

import datetime as dt
import string

import pytest

from gridmap.portal.i18n.translator import (
    DEFAULT_LANGUAGE,
    Translator,
    format_date,
    format_number,
    language_from_request,
    language_from_tag,
    translate,
)
from gridmap.portal.i18n.translator import messages_en as messages_en
from gridmap.portal.i18n.translator import messages_zh as messages_zh


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    zh, en = messages_zh.MESSAGES, messages_en.MESSAGES
    assert set(zh) == set(en), f"only zh: {set(zh) - set(en)}; only en: {set(en) - set(zh)}"
    for key in zh:
        assert _placeholders(zh[key]) == _placeholders(en[key]), key
        assert zh[key].strip() and en[key].strip(), key


def test_chinese_catalogue_is_chinese() -> None:
    # The default UI must actually be Chinese: most messages contain CJK characters.
    cjk = [k for k, v in messages_zh.MESSAGES.items() if any("\u4e00" <= ch <= "\u9fff" for ch in v)]
    assert len(cjk) / len(messages_zh.MESSAGES) > 0.8


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("zh-CN", "zh"), ("zh_Hans_CN", "zh"), ("zh-TW", "zh"), ("EN", "en"), ("en-GB", "en"),
     ("fr-FR", None), ("", None), (None, None)],
)
def test_language_from_tag(tag: str | None, expected: str | None) -> None:
    assert language_from_tag(tag) == expected


def test_language_precedence_query_cookie_header_default() -> None:
    header = [("fr", 1.0), ("en-US", 0.8), ("zh", 0.5)]
    assert language_from_request(query="zh", cookie="en", accept_languages=header) == "zh"
    assert language_from_request(query=None, cookie="zh", accept_languages=header) == "zh"
    assert language_from_request(query="xx", cookie=None, accept_languages=header) == "en"
    assert language_from_request(query=None, cookie=None, accept_languages=[("fr", 1.0)]) == DEFAULT_LANGUAGE
    assert language_from_request(query=None, cookie=None, accept_languages=[("en", 0.0)]) == "zh"


def test_translate_formats_and_falls_back() -> None:
    assert translate("band.in", "en", min="300", max="500") == "In band (300–500 households)"
    assert translate("band.in", "zh", min="300", max="500") == "在区间内(300–500户)"
    assert translate("app.name", "xx") == messages_zh.MESSAGES["app.name"]
    assert translate("no.such.key", "en") == "no.such.key"


def test_number_and_date_formats_follow_the_locale() -> None:
    assert format_number(1234567, "zh") == "1,234,567"
    assert format_number(1234567, "en") == "1,234,567"
    assert format_number(0.5, "en", decimals=2) == "0.50"
    assert format_number(None, "en") == "—"
    day = dt.date(2025, 11, 21)
    assert format_date(day, "zh") == "2025年11月21日"
    assert format_date(day, "en") == "Nov 21, 2025"


def test_translator_binds_language() -> None:
    tr = Translator("en")
    assert tr("count.grids") == "Grids"
    assert Translator("de").lang == DEFAULT_LANGUAGE
    assert tr.percent(0.873) == "87%"
