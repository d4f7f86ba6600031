"""Console languages: choosing the locale of a request and loading its gettext catalog.

Catalogs are the ``.po`` files under ``telmark/i18n`` compiled in memory the
first time a locale is used (and cached for the process), so translators
edit one text file and there is no compiled ``.mo`` to forget to rebuild.
Message ids are the English texts; ``en`` therefore needs no translations.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from io import BytesIO
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request

SUPPORTED_LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_COOKIE = "telmark_lang"
LOCALE_QUERY = "lang"
DOMAIN = "messages"

# Names shown in the language switch, each in its own language.
LOCALE_NAMES = {"zh_CN": "中文", "en": "English"}


def catalog_dir() -> Any:
    """The directory holding ``<locale>/LC_MESSAGES/messages.po`` (a Traversable)."""
    return files("telmark") / "i18n"


def normalize_locale(value: str | None) -> str | None:
    """``zh``, ``zh-CN``, ``zh_cn`` → ``zh_CN``; ``en-US`` → ``en``; unknown → None."""
    if not value:
        return None
    language = value.strip().replace("-", "_").split("_")[0].lower()
    return {"zh": "zh_CN", "en": "en"}.get(language)


def resolve_locale(request: Request, default: str = DEFAULT_LOCALE) -> str:
    """The request's locale: ``?lang=``, then the ``telmark_lang`` cookie, then ``default``."""
    return (
        normalize_locale(request.query_params.get(LOCALE_QUERY))
        or normalize_locale(request.cookies.get(LOCALE_COOKIE))
        or normalize_locale(default)
        or DEFAULT_LOCALE
    )


def html_lang(locale: str) -> str:
    """The BCP 47 tag for ``<html lang>`` and ``Intl`` (``zh_CN`` → ``zh-CN``)."""
    return locale.replace("_", "-")


@lru_cache(maxsize=len(SUPPORTED_LOCALES))
def translations(locale: str) -> Translations:
    """The compiled catalog of ``locale`` (cached; fuzzy entries are left out)."""
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}; use one of {SUPPORTED_LOCALES}")
    po_file = catalog_dir() / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def gettext_for(locale: str, message: str) -> str:
    """``message`` translated into ``locale`` (wrap literal messages in ``N_`` for extraction)."""
    return str(translations(locale).gettext(message))
