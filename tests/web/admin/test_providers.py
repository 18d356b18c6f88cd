"""The admin's providers pages over HTTP, against the provider simulator: add,
edit (the key write-only), pause and resume, the balance read now, health,
roles (manager may, support 403) and CSRF."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from smmpanel.audit.models import AuditEntry
from smmpanel.db import Database
from smmpanel.providers.models import Provider, ProviderOrderRecord
from smmpanel.secretbox import reveal_secret
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from tests.factories import make_provider
from tests.fulfilment.conftest import make_relay
from tests.web.admin_helpers import staff_browser


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


def audit(db: Database, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(actor, subject, details) of each row of `action`, oldest first."""
    with db.read() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.subject, AuditEntry.details)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        ).all()
    return [(actor, subj, json.loads(details)) for actor, subj, details in rows]


def stored(db: Database, name: str = "up") -> Provider:
    with db.read() as session:
        provider = session.scalars(select(Provider).where(Provider.name == name)).one()
        session.expunge(provider)
        return provider


def test_add_and_edit_a_provider_the_key_never_shown(
    db: Database, browser_factory: Any, sim: RunningSimulator
) -> None:
    owner = staff_browser(db, browser_factory)
    form = {"name": "up", "api_url": sim.api_url, "api_key": sim.key, "method": "post"}
    added = owner.submit("/admin/providers/new", {**form, "timeout": "20"})
    assert (added.status_code, added.headers["location"]) == (303, "/admin/providers/1?done=added")
    provider = stored(db)
    assert reveal_secret(provider.api_key) == sim.key and sim.key not in provider.api_key
    assert (provider.api_url, provider.method, provider.dialect) == (
        sim.api_url, "post", {"timeout": 20.0},
    )  # fmt: skip
    assert audit(db, "provider_added") == [
        ("staff:owner", "provider:1", {"after": {
            "name": "up", "api_url": sim.api_url, "method": "post", "timeout": 20.0}}),
    ]  # fmt: skip
    page = owner.get("/admin/providers/1?done=added")
    assert page.status_code == 200 and "The provider is added." in page.text
    assert sim.key not in page.text and sim.key[:4] not in page.text
    edit_page = owner.get("/admin/providers/1/edit")
    assert edit_page.status_code == 200 and sim.key not in edit_page.text
    assert f'value="{sim.api_url}"' in edit_page.text

    kept = owner.submit(
        "/admin/providers/1/edit",
        {"api_url": sim.api_url, "api_key": "", "method": "json", "timeout": "5",
         "request_id": "y"},
    )  # fmt: skip
    assert (kept.status_code, kept.headers["location"]) == (303, "/admin/providers/1?done=changed")
    provider = stored(db)
    assert reveal_secret(provider.api_key) == sim.key
    assert (provider.method, provider.dialect) == ("json", {"timeout": 5.0, "request_id": True})

    replaced = owner.submit(
        "/admin/providers/1/edit",
        {"api_url": sim.api_url, "api_key": "a-new-key-42", "method": "json", "timeout": "5"},
    )
    assert replaced.status_code == 303
    assert reveal_secret(stored(db).api_key) == "a-new-key-42"
    assert stored(db).dialect == {"timeout": 5.0}  # request_id unticked: removed
    changes = audit(db, "provider_changed")
    assert [(actor, subj) for actor, subj, _ in changes] == [("staff:owner", "provider:1")] * 2
    assert changes[0][2]["after"] == {
        "api_url": sim.api_url, "method": "json", "timeout": 5.0, "request_id": True,
    }  # fmt: skip
    assert changes[1][2]["after"]["new_key"] is True
    assert "a-new-key-42" not in json.dumps(changes) and sim.key not in json.dumps(changes)
    assert "a-new-key-42" not in owner.get("/admin/providers/1/edit").text


def test_bad_input_shows_the_form_again(
    db: Database, browser_factory: Any, sim: RunningSimulator
) -> None:
    owner = staff_browser(db, browser_factory)
    make_provider(db, sim, "up")
    base = {"api_key": "k" * 20, "method": "post", "timeout": "20"}
    cases = [
        ({"name": "up", "api_url": sim.api_url}, "exists already"),
        ({"name": "two", "api_url": "ftp://x.example/api"}, "must be an http(s) URL"),
        ({"name": "bad name!", "api_url": sim.api_url}, "a provider name is 1-64"),
        ({"name": "two", "api_url": sim.api_url, "timeout": "0"}, "Number must be between"),
        ({"name": "two", "api_url": sim.api_url, "method": "put"}, "Not a valid choice"),
        ({"name": "two", "api_url": sim.api_url, "api_key": "x" * 501}, "longer than 500"),
    ]
    for fields, message in cases:
        answer = owner.submit("/admin/providers/new", {**base, **fields})
        assert answer.status_code == 400, fields
        assert message in answer.text, (fields, answer.text[-2000:])
    assert owner.get("/admin/providers/1/edit").status_code == 200
    refused = owner.submit(
        "/admin/providers/1/edit",
        {"api_url": sim.api_url, "method": "post", "timeout": "20",
         "lookup_url": "http://elsewhere.example/orders"},
    )  # fmt: skip
    assert refused.status_code == 400 and "must be on the provider" in refused.text
    assert stored(db).api_url == sim.api_url
    assert owner.get("/admin/providers/999").status_code == 404
    assert owner.get("/admin/providers/99999999999").status_code == 404


def test_pause_resume_and_read_the_balance(
    db: Database, browser_factory: Any, sim: RunningSimulator
) -> None:
    manager = staff_browser(db, browser_factory, role="manager")
    make_provider(db, sim, "up")
    page = "/admin/providers/1"
    paused = manager.submit(f"{page}/pause", {}, page=page)
    assert (paused.status_code, paused.headers["location"]) == (303, f"{page}?done=paused")
    assert (stored(db).status, stored(db).paused_reason) == ("paused", "paused by the owner")
    assert 'id="resume"' in manager.get(page).text
    resumed = manager.submit(f"{page}/resume", {}, page=page)
    assert resumed.status_code == 303 and stored(db).status == "active"
    assert [(a, s) for a, s, _ in audit(db, "provider_paused")] == [("staff:manager", "provider:1")]
    assert [(a, s) for a, s, _ in audit(db, "provider_resumed")] == [
        ("staff:manager", "provider:1")
    ]

    sim.control.set_balance("123.45")
    assert "not read yet" in manager.get(page).text
    read = manager.submit(f"{page}/balance", {}, page=page)
    assert (read.status_code, read.headers["location"]) == (303, f"{page}?done=balance")
    provider = stored(db)
    assert (provider.balance, provider.currency) == (12_345_000, "USD")
    assert provider.balance_checked_at is not None
    assert "123.45000 USD" in manager.get(page).text
    assert "123.45000 USD" in manager.get("/admin/providers").text


def test_an_unreachable_provider_says_why(db: Database, browser_factory: Any) -> None:
    owner = staff_browser(db, browser_factory)
    with running_simulator() as gone:
        make_provider(db, gone, "up")
    page = "/admin/providers/1"
    answer = owner.submit(f"{page}/balance", {}, page=page)
    assert answer.status_code == 502
    assert "balance failed" in answer.text and 'id="refusal"' in answer.text
    assert stored(db).balance is None
    catalog = owner.submit(f"{page}/catalog", {}, page=page)
    assert catalog.status_code == 502 and "failed" in catalog.text


def test_health_shows_calls_alerts_and_waiting_orders(
    db: Database, browser_factory: Any, sim: RunningSimulator
) -> None:
    owner = staff_browser(db, browser_factory)
    relay = make_relay(db, sim)  # the provider "sim", id 1
    page = owner.get("/admin/providers/1")
    assert 'id="no-alerts"' in page.text and 'id="no-calls"' in page.text
    assert f'id="mapping-{relay.service_id}"' in page.text
    assert "No latency recorded yet." in page.text
    sim.control.add_fault("slow", count=1, seconds=0.3)
    sent = relay.order()
    relay.run()
    sim.control.add_fault("no_funds", count=1)
    waiting = relay.order(link="https://x.com/b")
    while relay.run():
        pass

    text = owner.get("/admin/providers/1").text
    calls = text[text.index('id="calls"') : text.index("</table>", text.index('id="calls"'))]
    assert calls.index(f"#{waiting}") < calls.index(f"#{sent}")  # the latest first
    assert "accepted" in calls and "not_enough_funds" in calls
    assert 'id="alerts"' in text and "Orders waiting for it: 1" in text
    with db.read() as session:
        rows = session.execute(
            select(ProviderOrderRecord.order_id, ProviderOrderRecord.elapsed_ms)
        ).all()
    times = {order_id: elapsed or 0 for order_id, elapsed in rows}
    assert None not in {elapsed for _, elapsed in rows}
    assert times[sent] >= 300 and 0 <= times[waiting] < times[sent]  # the slow one, then not
    assert (
        f"Latency of the last 2 orders sent: median {times[waiting]} ms, at most {times[sent]} ms."
        in text
    )
    row = owner.get("/admin/providers").text
    row = row[row.index('id="provider-1"') :]
    cells = [cell.split(">", 1)[1] for cell in row.split("</tr>")[0].split("<td")[1:]]
    assert cells[1].strip().startswith("paused")
    assert [cell.strip("</td>\n ") for cell in cells[-2:]] == ["1", "1"]  # 1 failed, 1 alert


def test_roles_and_csrf(db: Database, browser_factory: Any, sim: RunningSimulator) -> None:
    make_provider(db, sim, "up")
    support = staff_browser(db, browser_factory, role="support")
    for path in (
        "/admin/providers", "/admin/providers/1", "/admin/providers/new",
        "/admin/providers/1/edit", "/admin/providers/1/import", "/admin/providers/prices",
    ):  # fmt: skip
        assert support.get(path).status_code == 403, path
    for action in ("pause", "resume", "balance", "catalog", "import", "edit"):
        posted = support.submit(f"/admin/providers/1/{action}", {}, page="/admin/")
        assert posted.status_code == 403, action
    assert support.submit("/admin/providers/prices/apply", {}, page="/admin/").status_code == 403
    assert stored(db).status == "active"
    assert "/admin/providers" not in support.get("/admin/").text

    manager = staff_browser(db, browser_factory, role="manager")
    assert manager.get("/admin/providers").status_code == 200
    assert 'href="/admin/providers"' in manager.get("/admin/").text
    no_token = manager.http.post("/admin/providers/1/pause", data={})
    assert no_token.status_code == 403
    forged = manager.http.post("/admin/providers/1/pause", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert stored(db).status == "active"

    customer = browser_factory()
    assert customer.sign_up("carol").status_code == 303
    assert customer.get("/admin/providers").headers["location"] == "/admin/login"


def test_the_list_and_russian(db: Database, browser_factory: Any, sim: RunningSimulator) -> None:
    owner = staff_browser(db, browser_factory)
    assert 'id="no-providers"' in owner.get("/admin/providers").text
    make_provider(db, sim, "up")
    listed = owner.get("/admin/providers")
    assert 'id="provider-1"' in listed.text and sim.api_url in listed.text
    russian = owner.get("/admin/providers", headers={"accept-language": "ru"}).text
    assert "Добавить поставщика" in russian and "не прочитан" in russian
    refused = owner.http.post(
        "/admin/providers/new",
        data={"csrf_token": owner.token("/admin/providers/new"), "name": "bad name!",
              "api_url": sim.api_url, "api_key": "k" * 20, "method": "post", "timeout": "20"},
        headers={"accept-language": "ru"},
    )  # fmt: skip
    assert refused.status_code == 400 and "имя поставщика: от 1 до 64 букв" in refused.text
