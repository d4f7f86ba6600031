"""Server-rendered console pages: one Jinja2 environment per locale.

Each locale gets its own environment with its catalog installed through the
i18n extension, rather than one environment whose translations are swapped
per request: environments are shared by every request thread, so swapping
would need a context variable threaded through the worker pool, while a
per-locale environment is immutable after start-up and costs one compiled
template cache per language (two).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_skeleton
from babel.numbers import (
    format_compact_currency,
    format_compact_decimal,
    format_currency,
    format_decimal,
    format_percent,
)
from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import Response

from telmark.auth.domain import Principal
from telmark.auth.labels import action_label, role_label
from telmark.auth.permissions import Action
from telmark.web.i18n import (
    LOCALE_NAMES,
    LOCALE_QUERY,
    SUPPORTED_LOCALES,
    html_lang,
    resolve_locale,
    translations,
)

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True, slots=True)
class NavItem:
    """An entry of the console's navigation; ``label`` is an English msgid (mark it with N_).

    ``action``, when set, hides the entry from users whose roles do not grant it.
    """

    path: str
    label: str
    icon: str = "dot"
    action: Action | None = None

    def visible_to(self, principal: Principal | None) -> bool:
        if self.action is None:
            return True
        return principal is not None and principal.can(self.action)

    def is_active(self, current_path: str) -> bool:
        if self.path == "/":
            return current_path == "/"
        return current_path == self.path or current_path.startswith(self.path.rstrip("/") + "/")


def _filters(locale: str) -> dict[str, Any]:
    def number(value: int | float | None) -> str:
        return "—" if value is None else format_decimal(value, locale=locale)

    def compact(value: int | float | None) -> str:
        if value is None:
            return "—"
        return format_compact_decimal(value, locale=locale, fraction_digits=1)

    def yuan(fen: int | None) -> str:
        if fen is None:
            return "—"
        return format_currency(Decimal(fen) / 100, "CNY", locale=locale)

    def yuan_compact(fen: int | None) -> str:
        if fen is None:
            return "—"
        amount = Decimal(fen) / 100
        return format_compact_currency(amount, "CNY", locale=locale, fraction_digits=1)

    def percent(value: float | None, digits: int = 2) -> str:
        if value is None:
            return "—"
        pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
        return format_percent(value, format=pattern, locale=locale)

    def month_label(value: date) -> str:
        return format_skeleton("yMMM", value, locale=locale)

    return {
        "number": number,
        "compact": compact,
        "yuan": yuan,
        "yuan_compact": yuan_compact,
        "percent": percent,
        "month_label": month_label,
    }


class ConsoleTemplates:
    """The console's templates, rendered in the request's language."""

    def __init__(
        self,
        *,
        nav: Sequence[NavItem],
        version: str,
        default_locale: str,
        directory: Path = TEMPLATE_DIR,
    ) -> None:
        self.default_locale = default_locale
        self._by_locale: dict[str, Jinja2Templates] = {}
        for locale in SUPPORTED_LOCALES:
            env = Environment(
                loader=FileSystemLoader(directory),
                autoescape=select_autoescape(("html", "xml")),
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
            env.filters.update(_filters(locale))
            env.globals.update(
                nav=nav,
                version=version,
                locale=locale,
                html_lang=html_lang(locale),
                locale_names=LOCALE_NAMES,
                static=lambda path: f"/static/{path}?v={version}",
                role_label=role_label,
                action_label=action_label,
            )
            self._by_locale[locale] = Jinja2Templates(env=env)

    def environment(self, locale: str) -> Environment:
        return self._by_locale[locale].env

    def locale_of(self, request: Request) -> str:
        return resolve_locale(request, self.default_locale)

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
    ) -> Response:
        """Render ``name`` in the request's locale (with ``request`` and switch links)."""
        locale = self.locale_of(request)
        switch = {code: _with_query(request, **{LOCALE_QUERY: code}) for code in SUPPORTED_LOCALES}
        full = {
            "current_path": request.url.path,
            "lang_links": switch,
            # Set by telmark.auth.deps once a route has authenticated the request.
            "principal": getattr(request.state, "principal", None),
            "csrf_token": getattr(request.state, "csrf_token", None),
            **(context or {}),
        }
        return self._by_locale[locale].TemplateResponse(
            request, name, full, status_code=status_code
        )


def _with_query(request: Request, **params: str) -> str:
    """The request's path and query with ``params`` set (relative, so proxies need no config)."""
    query = {**request.query_params, **params}
    return f"{request.url.path}?{urlencode(query)}"
