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
from contextvars import ContextVar
from functools import cache
from importlib.resources import files
from io import BytesIO

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
    po = files("smmpanel.web") / "translations" / language / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def use_language(language: str) -> None:
    """The language of what this request renders from now on."""
    _current.set(language if language in LANGUAGES else DEFAULT)


def current_language() -> str:
    return _current.get()


def gettext_(message: str) -> str:
    return translations(_current.get()).gettext(message)


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
