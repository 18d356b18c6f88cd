"""Domain messages with numbers or a parameter name in them reach Russian pages
translated, through the catalog entry of their shape."""

# ruff: noqa: RUF001 - the expected texts are Russian
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import smmpanel.web
from smmpanel.web import i18n

PO = Path(smmpanel.web.__file__).parent / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"\{\d+\}")


@pytest.fixture
def russian() -> Iterator[None]:
    i18n.use_language("ru")
    yield
    i18n.use_language(i18n.DEFAULT)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Quantity less than minimal 10", "Количество меньше минимального: 10"),
        ("Quantity more than maximum 10,000", "Количество больше максимального: 10,000"),
        ("comments: at most 1000 lines", "comments: не больше 1000 строк"),
        (
            "usernames: at most 300 characters per line",
            "usernames: не больше 300 символов в строке",
        ),
        ("answer_number: 1 to 20", "answer_number: от 1 до 20"),
        ("interval: 1 to 1440 minutes with runs", "interval: от 1 до 1440 минут при запусках"),
        ("a password has at least 10 characters", "в пароле не меньше 10 символов"),
        ("no such order of yours: 12", "у вас нет такого заказа: 12"),
        # An exact entry wins over the shape's.
        ("quantity: required", "quantity: обязательно"),
        # No entry for the shape: the message as it is.
        ("something new with 3 parts", "something new with 3 parts"),
    ],
)
def test_shaped_messages_are_translated(russian: None, message: str, expected: str) -> None:
    assert i18n.gettext_(message) == expected


def test_english_pages_keep_the_message() -> None:
    i18n.use_language("en")
    assert i18n.gettext_("Quantity less than minimal 10") == "Quantity less than minimal 10"


def test_the_shape_of_a_message() -> None:
    assert i18n.message_shape("runs: 1 to 1000") == ("{0}: {1} to {2}", ["runs", "1", "1000"])
    assert i18n.message_shape("Incorrect request") == ("Incorrect request", [])


def test_every_shaped_translation_keeps_its_placeholders() -> None:
    with PO.open("rb") as source:
        catalog = read_po(source, locale="ru")
    shaped = {
        m.id: m.string
        for m in catalog
        if isinstance(m.id, str) and isinstance(m.string, str) and PLACEHOLDER.search(m.id)
    }
    assert len(shaped) >= 15
    for msgid, msgstr in shaped.items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), msgid
