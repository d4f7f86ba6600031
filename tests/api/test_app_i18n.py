"""Console languages: catalogs complete and in sync, and the language switch."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

import telmark
from telmark.config import Settings
from telmark.web.i18n import LOCALE_COOKIE, normalize_locale
from tests._factories.auth import province_app
from tests._factories.warehouse import build_tiny_warehouse

PACKAGE_DIR = Path(telmark.__file__).parent
I18N_DIR = PACKAGE_DIR / "i18n"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
CJK = re.compile(r"[\u3400-\u9fff]")


def _extracted_msgids() -> set[str]:
    """Every message id marked in the package's Python code and templates (babel.cfg)."""
    with (I18N_DIR / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, "babel.cfg")  # type: ignore[no-untyped-call]
    ids: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        PACKAGE_DIR, method_map, options_map
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def _catalog(locale: str) -> Catalog:
    with (I18N_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog: Catalog = read_po(handle, locale=locale)
    return catalog


def _texts(value: str | Sequence[str] | None) -> list[str]:
    """A message's id or string as a list (plural messages have several)."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _msgid(message: Message) -> str:
    return _texts(message.id)[0]


def test_every_marked_message_has_a_chinese_translation() -> None:
    extracted = _extracted_msgids()
    assert "Province overview" in extracted  # python (N_) extraction works
    assert "No subscriber data in the warehouse yet" in extracted  # template extraction works
    catalog = _catalog("zh_CN")
    translated = {
        _msgid(m) for m in catalog if m.id and not m.fuzzy and all(_texts(m.string) or [""])
    }
    missing = sorted(extracted - translated)
    assert not missing, f"untranslated in zh_CN: {missing}; update src/telmark/i18n (see babel.cfg)"


def test_catalogs_list_exactly_the_marked_messages() -> None:
    extracted = _extracted_msgids()
    for locale in ("zh_CN", "en"):
        ids = {_msgid(m) for m in _catalog(locale) if m.id}
        assert ids == extracted, f"{locale} catalog out of date: run pybabel extract/update"


def test_chinese_translations_keep_their_placeholders() -> None:
    for message in _catalog("zh_CN"):
        if not message.id:
            continue
        wanted = set(PLACEHOLDER.findall(_msgid(message)))
        for target in _texts(message.string):
            assert set(PLACEHOLDER.findall(target)) == wanted, message.id


@pytest.mark.parametrize(
    ("value", "expected"),
    [("zh", "zh_CN"), ("zh-CN", "zh_CN"), ("zh_cn", "zh_CN"), ("en-US", "en"), ("EN", "en"),
     ("fr", None), ("", None), (None, None)],
)  # fmt: skip
def test_normalize_locale(value: str | None, expected: str | None) -> None:
    assert normalize_locale(value) == expected


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data", warehouse_url=build_tiny_warehouse(tmp_path).url
    )
    with TestClient(province_app(settings)) as test_client:
        yield test_client


def test_chinese_is_the_default(client: TestClient) -> None:
    html = client.get("/").text
    assert '<html lang="zh-CN">' in html
    assert "<h1>全省经营概览</h1>" in html
    assert "在网用户数" in html
    assert LOCALE_COOKIE not in client.cookies


def test_lang_parameter_switches_to_english_and_is_remembered(client: TestClient) -> None:
    response = client.get("/", params={"lang": "en"})
    assert response.cookies[LOCALE_COOKIE] == "en"
    html = response.text
    assert '<html lang="en">' in html
    assert "<h1>Province overview</h1>" in html
    assert "Subscribers by city" in html
    assert '"echartsLocale": "EN"' in html
    # Everything is English except the switch's own "中文" (city names come from name_en).
    assert not CJK.findall(html.replace("中文", "")), CJK.findall(html)[:10]
    again = client.get("/")  # the cookie alone now selects English
    assert "<h1>Province overview</h1>" in again.text


def test_lang_parameter_overrides_the_cookie(client: TestClient) -> None:
    client.cookies.set(LOCALE_COOKIE, "en")
    html = client.get("/", params={"lang": "zh_CN"}).text
    assert "<h1>全省经营概览</h1>" in html


def test_unknown_language_falls_back_to_chinese(client: TestClient) -> None:
    response = client.get("/", params={"lang": "fr"})
    assert "<h1>全省经营概览</h1>" in response.text
    assert LOCALE_COOKIE not in response.cookies


def test_switch_links_keep_the_page_state(client: TestClient) -> None:
    html = client.get("/", params={"months": 2}).text
    assert 'href="/?months=2&amp;lang=en"' in html
