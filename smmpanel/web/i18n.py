"""Languages of the pages: English and Russian, from .po catalogs read at start.

The catalogs are compiled in memory with Babel when the web app is built, so
`pip install .` needs no build step and no compiled .mo file is kept in git.
The language of a request: the logged-in account's, else the one chosen with
the switch (kept in the session), else the browser's Accept-Language, else
English.  Templates translate through jinja2.ext.i18n, whose gettext reads the
request's language from a context variable set for each page rendered.
"""

from __future__ import annotations

import gettext
import re
from contextvars import ContextVar
from functools import cache
from importlib.resources import files
from io import BytesIO

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from smmpanel.accounts.passwords import LANGUAGES

DEFAULT = "en"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}
_current: ContextVar[str] = ContextVar("smmpanel_web_language", default=DEFAULT)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of `language` (English: the messages themselves)."""
    if language == DEFAULT or language not in LANGUAGES:
        return gettext.NullTranslations()
    compiled = BytesIO()
    write_mo(compiled, merged_catalog(language))
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def merged_catalog(language: str) -> Catalog:
    """Every .po file of the language's folder as one catalog: messages.po for the
    shop, and a file per part of the admin (admin.po, ...), so that parts built
    side by side never edit the same file.  A message is defined in one file only
    (tests/web/test_static.py checks)."""
    folder = files("smmpanel.web") / "translations" / language / "LC_MESSAGES"
    merged = Catalog(locale=language)
    for po in sorted((p for p in folder.iterdir() if p.name.endswith(".po")), key=lambda p: p.name):
        with po.open("rb") as source:
            for message in read_po(source, locale=language):
                if message.id:
                    merged[message.id] = message
    return merged


def use_language(language: str) -> None:
    """The language of what this request renders from now on."""
    _current.set(language if language in LANGUAGES else DEFAULT)


def current_language() -> str:
    return _current.get()


def gettext_(message: str) -> str:
    """The message in the request's language: its own entry in the catalog, else
    the entry of its shape (domain messages carry numbers and parameter names:
    "quantity: at most 1000 lines" is translated as "{0}: at most {1} lines")."""
    catalog = translations(_current.get())
    translated = catalog.gettext(message)
    if translated != message or _current.get() == DEFAULT:
        return translated
    return translate_shaped(catalog, message)


# A parameter name leading a message ("runs: ..."), and the numbers in it.
_LEADING_NAME = re.compile(r"^([a-z][a-z_]*): ")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def message_shape(message: str) -> tuple[str, list[str]]:
    """The message with its leading parameter name and its numbers replaced by
    {0}, {1} ... in order, and the values taken out."""
    values: list[str] = []
    shape = message
    named = _LEADING_NAME.match(shape)
    if named:
        values.append(named[1])
        shape = "{0}: " + shape[named.end() :]

    def placeholder(found: re.Match[str]) -> str:
        values.append(found[0])
        return "{" + str(len(values) - 1) + "}"

    head, rest = (shape[:5], shape[5:]) if named else ("", shape)
    return head + _NUMBER.sub(placeholder, rest), values


def translate_shaped(catalog: gettext.NullTranslations, message: str) -> str:
    shape, values = message_shape(message)
    if not values:
        return message
    translated = catalog.gettext(shape)
    if translated == shape:
        return message
    for index, value in enumerate(values):
        translated = translated.replace("{" + str(index) + "}", value)
    return translated


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def from_accept_language(header: str | None) -> str | None:
    """The first of our languages the browser lists, by its q-values."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            choices.append((-quality, position, primary))
    return min(choices)[2] if choices else None
