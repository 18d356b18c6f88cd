"""Lists of more than 100 ids: several calls of at most 100, answers merged in input order."""

from __future__ import annotations

from typing import Any

import pytest

from smmpanel.client import ApiError, Client, ItemError, OrderStatus

from .conftest import MakeClient
from .fake_panel import KEY, STATUSES, FakePanel
from .panel_server import PanelServer, Received, Reply


def test_statuses_of_250_ids_take_3_calls(api: Any, panel: PanelServer) -> None:
    ids = list(range(250, 0, -1))  # descending, so input order is not answer order
    results = api.statuses(ids)
    calls = in_input_order(panel.calls("status"), ids)
    assert [len(c.ids) for c in calls] == [100, 100, 50]
    assert [i for c in calls for i in c.ids] == ids
    assert len(results) == 250
    assert [r.order_id for r in results] == ids
    assert [r.status for r in results] == [OrderStatus(STATUSES[i % 6]) for i in ids]
    assert all(r.ok for r in results)


def test_per_id_errors_are_kept_across_batches(api: Any, panel: PanelServer) -> None:
    ids = [*range(1, 150), 99999, *range(150, 201), 88888]  # 202 ids, unknown ones inside
    results = api.statuses(ids)
    assert [len(c.ids) for c in in_input_order(panel.calls("status"), ids)] == [100, 100, 2]
    assert [r.order_id for r in results] == ids
    errors = {r.order_id: r.error for r in results if not r.ok}
    assert errors == {
        99999: ItemError("Incorrect order ID", "incorrect_order"),
        88888: ItemError("Incorrect order ID", "incorrect_order"),
    }


def test_other_multi_calls_are_batched_too(api: Any, panel: PanelServer, fake: FakePanel) -> None:
    refill_ids = list(range(1, 151))
    statuses = api.refill_statuses(refill_ids)
    assert sizes(panel.calls("refill_status")) == [100, 50]
    assert [s.refill_id for s in statuses] == refill_ids
    cancels = api.cancel(list(range(101, 302)))  # 301 does not exist
    assert sizes(panel.calls("cancel")) == [100, 100, 1]
    created = [c.cancel_id for c in cancels if c.cancel_id is not None]
    assert cancels[0].cancel_id in created and len(set(created)) == len(created)
    assert min(created) == 7001 and max(created) == 7000 + len(created)
    assert cancels[-1].error == ItemError("Incorrect order ID", "incorrect_order")
    for order_id in range(1, 121):
        fake.orders[order_id].status = "Completed"
    refills = api.refills(range(1, 121))
    assert sizes(panel.calls("refill")) == [100, 20]
    assert all(r.ok for r in refills) and len({r.refill_id for r in refills}) == 120
    cancel_statuses = api.cancel_statuses(list(range(1, 106)))
    assert sizes(panel.calls("cancel")[-2:]) == [100, 5]
    assert len(cancel_statuses) == 105


def test_progress_is_reported_per_call(panel: PanelServer) -> None:
    seen: list[tuple[int, int]] = []
    with Client(panel.url, KEY) as client:
        client.statuses(range(1, 251), progress=lambda done, total: seen.append((done, total)))
    assert seen == [(100, 250), (200, 250), (250, 250)]


def test_a_whole_call_error_in_a_later_batch_is_raised(
    make_client: MakeClient, kind: str, panel: PanelServer, fake: FakePanel
) -> None:
    panel.responder = _first_call_real(fake, Reply({"error": "Too many IDs (max 100)"}))
    client = make_client(kind)
    with pytest.raises(ApiError) as info:
        client.statuses(range(1, 151))
    assert info.value.code == "too_many_ids"
    assert len(panel.calls("status")) == 2


def test_smaller_batches_for_stricter_panels(
    make_client: MakeClient, kind: str, panel: PanelServer
) -> None:
    client = make_client(kind, batch_size=40)
    results = client.statuses(range(1, 101))
    assert sizes(panel.calls("status")) == [40, 40, 20]
    assert len(results) == 100
    with pytest.raises(ValueError):
        make_client(kind, batch_size=101)


def in_input_order(calls: list[Received], ids: list[int]) -> list[Received]:
    """The calls sorted by where their ids are in the input: the async client asks concurrently."""
    return sorted(calls, key=lambda call: ids.index(call.ids[0]))


def sizes(calls: list[Received]) -> list[int]:
    """How many ids each call carried, largest first (the calls' order may vary)."""
    return sorted((len(call.ids) for call in calls), reverse=True)


def _first_call_real(fake: FakePanel, later: Reply) -> Any:
    calls = {"n": 0}

    def respond(request: Any) -> Reply:
        calls["n"] += 1
        return fake(request) if calls["n"] == 1 else later

    return respond
