"""`status`'s answer is rendered entry by entry (and entries kept by what they
show), `balance`'s by one format string: the bytes must be exactly render_json
of the answers as dicts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smmpanel.api_v2 import actions
from smmpanel.api_v2.actions import balance_answer, status_answer
from smmpanel.api_v2.answers import render_json
from smmpanel.api_v2.errors import INCORRECT_ORDER
from smmpanel.api_v2.params import int_param
from smmpanel.money import format_units
from smmpanel.orders.errors import OrderNotFound
from smmpanel.orders.statuses import OrderStatus

TEXT = st.text(max_size=6).filter(lambda t: "\x00" not in t)
VIEWS = st.builds(
    OrderStatus,
    id=st.integers(1, 40),
    kind=st.sampled_from(["order", "subscription"]),
    charge=st.integers(-(10**12), 10**15),
    currency=st.sampled_from(["USD", "EUR", "₹", 'A"B']),
    status=st.one_of(st.sampled_from(["Pending", "In progress", "Completed"]), TEXT),
    start_count=st.one_of(st.none(), st.integers(0, 10**9)),
    remains=st.integers(-5, 10**9),
)
ID_TEXT = st.one_of(
    st.integers(-3, 45).map(str),
    st.sampled_from(["007", "99999999999", " 5", "x", 'a"b', "é", "1.0"]),
)


def _entry(view: OrderStatus) -> dict[str, str]:
    return {
        "charge": format_units(view.charge),
        "start_count": str(view.start_count or 0),
        "status": view.status,
        "remains": str(view.remains),
        "currency": view.currency,
    }


def _expected(found: dict[int, OrderStatus], texts: list[str]) -> dict[str, Any]:
    """The answer as the dicts it was built from before (ids deduplicated as given)."""
    answer: dict[str, Any] = {}
    for text in dict.fromkeys(t.strip() for t in texts if t.strip()):
        view = found.get(int_param(text) or 0)
        answer[text] = _entry(view) if view else {"error": INCORRECT_ORDER}
    return answer


@given(st.lists(VIEWS, max_size=12), st.lists(ID_TEXT, min_size=1, max_size=12))
def test_many_ids_render_as_their_dicts(views: list[OrderStatus], texts: list[str]) -> None:
    found = {view.id: view for view in views}
    if not any(t.strip() for t in texts):
        return
    for _ in range(2):  # rendered, then from the kept entries
        body = status_answer(lambda ids: found, {"orders": ",".join(texts)})
        assert body == render_json(_expected(found, texts))


@given(VIEWS)
def test_one_id_renders_as_its_dict(view: OrderStatus) -> None:
    for _ in range(2):
        body = status_answer(lambda ids: {view.id: view}, {"order": str(view.id)})
        assert body == render_json(_entry(view))
    with pytest.raises(OrderNotFound):
        status_answer(lambda ids: {}, {"order": str(view.id)})


def test_the_kept_entries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions, "ENTRIES_KEPT", 50)
    monkeypatch.setattr(actions, "_ENTRIES", {})
    views = {n: OrderStatus(n, "order", n, "USD", "Pending", None, n) for n in range(1, 101)}
    body = status_answer(lambda ids: views, {"orders": ",".join(map(str, views))})
    assert body == render_json({str(n): _entry(v) for n, v in views.items()})
    assert 0 < len(actions._ENTRIES) <= 50


@given(st.integers(-(10**15), 10**15), st.sampled_from(["USD", "EUR", "₹", 'A"B', "\\"]))
def test_balance_renders_as_its_dict(units: int, currency: str) -> None:
    expected = render_json({"balance": format_units(units), "currency": currency})
    assert balance_answer(units, currency) == expected
