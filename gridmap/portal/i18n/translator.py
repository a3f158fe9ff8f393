"""Languages of the portal: Simplified Chinese (default) and English.

Why dict catalogues and not gettext .po files: the portal has a few hundred short strings, the
map builders need them outside any request, and a plain dict per language is type-checked,
greppable and testable (a test asserts both catalogues have the same keys and placeholders).
Numbers and dates are formatted with Babel so that they follow each locale's conventions.

The language of a request comes from, in order: ``?lang=`` (and is then remembered in a cookie),
the ``gridmap_lang`` cookie, the ``Accept-Language`` header, and finally Chinese.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlencode

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask import Flask, Response, g, request

from gridmap.portal.i18n import messages_en, messages_zh

DEFAULT_LANGUAGE = "zh"
LANGUAGES: tuple[str, ...] = ("zh", "en")
LANG_COOKIE = "gridmap_lang"
LANG_PARAM = "lang"
#: One year, in seconds: how long a chosen language is remembered.
LANG_COOKIE_MAX_AGE_S = 365 * 24 * 3600

#: Read-only views: the catalogues are data, never changed at run time.
CATALOGUES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"zh": MappingProxyType(messages_zh.MESSAGES), "en": MappingProxyType(messages_en.MESSAGES)}
)
#: Babel locale per language; zh means Simplified Chinese as used in mainland China.
BABEL_LOCALES: Mapping[str, str] = MappingProxyType({"zh": "zh_Hans_CN", "en": "en"})
#: Value of the HTML ``lang`` attribute per language.
HTML_LANG: Mapping[str, str] = MappingProxyType({"zh": "zh-CN", "en": "en"})


def language_from_tag(tag: str | None) -> str | None:
    """Our language for a BCP 47 tag (``zh-CN``, ``zh_Hans``, ``en-GB``, ``EN``), None if unsupported.

    Traditional Chinese tags (zh-TW, zh-HK, zh-Hant) map to zh too: the Simplified catalogue is
    closer for those readers than English.
    """
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else None


def language_from_request(
    *,
    query: str | None,
    cookie: str | None,
    accept_languages: Iterable[tuple[str, float]] = (),
) -> str:
    """Pick the language: explicit query > remembered cookie > browser preference > Chinese.

    ``accept_languages`` is (tag, quality) pairs, best first, as Werkzeug parses Accept-Language.
    """
    for explicit in (query, cookie):
        lang = language_from_tag(explicit)
        if lang:
            return lang
    for tag, quality in accept_languages:
        lang = language_from_tag(tag)
        if lang and quality > 0:
            return lang
    return DEFAULT_LANGUAGE


def translate(key: str, lang: str, **params: Any) -> str:
    """The message ``key`` in ``lang`` (falling back to Chinese, then the key itself), formatted.

    Falling back instead of raising keeps a missing translation from breaking a page; the
    catalogue test is what keeps translations complete.
    """
    catalogue = CATALOGUES.get(lang, CATALOGUES[DEFAULT_LANGUAGE])
    text = catalogue.get(key) or CATALOGUES[DEFAULT_LANGUAGE].get(key) or key
    return text.format(**params) if params else text


def format_number(value: float | int | None, lang: str, *, decimals: int | None = None) -> str:
    """``12345`` -> ``12,345`` (both locales group by thousands); None -> the "unknown" dash."""
    if value is None:
        return translate("value.unknown", lang)
    locale = BABEL_LOCALES.get(lang, BABEL_LOCALES[DEFAULT_LANGUAGE])
    if decimals is None:
        return babel_numbers.format_decimal(value, locale=locale)
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=locale)


def format_percent(share: float | None, lang: str) -> str:
    """A share in 0..1 as a percentage (``0.873`` -> ``87%``)."""
    if share is None:
        return translate("value.unknown", lang)
    return babel_numbers.format_percent(share, locale=BABEL_LOCALES.get(lang, BABEL_LOCALES[DEFAULT_LANGUAGE]))


def format_date(value: dt.date | dt.datetime | None, lang: str) -> str:
    """A date the locale's way: ``2025年11月21日`` in Chinese, ``Nov 21, 2025`` in English."""
    if value is None:
        return translate("value.unknown", lang)
    locale = BABEL_LOCALES.get(lang, BABEL_LOCALES[DEFAULT_LANGUAGE])
    return babel_dates.format_date(value, format="long" if lang == "zh" else "medium", locale=locale)


#: Times are shown in China Standard Time: the portal serves Chinese cities (one time zone, no DST).
DISPLAY_TIMEZONE = "Asia/Shanghai"


def format_datetime(value: dt.datetime | None, lang: str) -> str:
    """A moment the locale's way in China time: ``2025年11月21日 14:05:09`` / ``Nov 21, 2025, 2:05:09 PM``.

    Naive datetimes are taken as UTC (the stores keep UTC).
    """
    if value is None:
        return translate("value.unknown", lang)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    locale = BABEL_LOCALES.get(lang, BABEL_LOCALES[DEFAULT_LANGUAGE])
    return babel_dates.format_datetime(value, format="medium", tzinfo=babel_dates.get_timezone(DISPLAY_TIMEZONE),
                                       locale=locale)


class Translator:
    """Messages and formatters bound to one language; what templates and map builders receive."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE

    def __call__(self, key: str, **params: Any) -> str:
        return translate(key, self.lang, **params)

    def number(self, value: float | int | None, *, decimals: int | None = None) -> str:
        return format_number(value, self.lang, decimals=decimals)

    def percent(self, share: float | None) -> str:
        return format_percent(share, self.lang)

    def date(self, value: dt.date | dt.datetime | None) -> str:
        return format_date(value, self.lang)

    def datetime(self, value: dt.datetime | None) -> str:
        return format_datetime(value, self.lang)


# ---------------------------------------------------------------------------------------------
# Flask glue: the only part that needs a request.


def current_language() -> str:
    """The language chosen for the current request (Chinese outside a request)."""
    return str(g.get("lang", DEFAULT_LANGUAGE))


def url_with_language(lang: str) -> str:
    """The current path and query with ``lang`` set: the target of the language switch."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != LANG_PARAM]
    args.append((LANG_PARAM, lang))
    return f"{request.path}?{urlencode(args)}"


def _select_language() -> None:
    g.lang = language_from_request(
        query=request.args.get(LANG_PARAM),
        cookie=request.cookies.get(LANG_COOKIE),
        accept_languages=list(request.accept_languages),
    )


def _remember_language(response: Response) -> Response:
    chosen = language_from_tag(request.args.get(LANG_PARAM))
    if chosen and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=LANG_COOKIE_MAX_AGE_S,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    # The same URL answers in another language for another cookie or browser: tell caches.
    response.vary.add("Cookie")
    response.vary.add("Accept-Language")
    return response


def _template_globals() -> dict[str, Any]:
    lang = current_language()
    tr = Translator(lang)
    return {
        "_": tr,
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "languages": LANGUAGES,
        "fmt_number": tr.number,
        "fmt_percent": tr.percent,
        "fmt_date": tr.date,
        "fmt_datetime": tr.datetime,
        "url_with_language": url_with_language,
    }


def init_i18n(app: Flask) -> None:
    """Choose a language per request, remember ``?lang=`` in a cookie, give templates ``_()``."""
    app.before_request(_select_language)
    app.after_request(_remember_language)
    app.context_processor(_template_globals)
