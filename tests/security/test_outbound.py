"""Every outbound call goes through the guard: webhook and provider URLs are
checked when set and again at each connection, the connection goes to the
address that was checked, TLS still verifies the URL's host name, and the
reconcile look-up sends the provider's key only to the provider, in a body.

The targets are loopback servers; with the guard on, the tests assert that
they received nothing (refused before connecting).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select, update

from smmpanel.accounts.models import Account
from smmpanel.client import Client
from smmpanel.db import Database
from smmpanel.jobs.errors import RetryLater
from smmpanel.netguard import GuardedTransport, OutboundPolicy, check_url, guarded_client
from smmpanel.orders.webhooks import (
    InvalidWebhookUrl,
    deliver_webhook,
    set_webhook,
)
from smmpanel.panel.models import Alert
from smmpanel.providers.catalog_sync import fetch_provider_balance
from smmpanel.providers.errors import InvalidProvider, ProviderUnavailable
from smmpanel.providers.gateway import ProviderAccess
from smmpanel.providers.models import Provider
from smmpanel.providers.reconcile import LookupRefused, lookup_upstream_orders, reconcile_orders
from smmpanel.providers.service import add_provider
from smmpanel.simulator.testing import RunningSimulator, running_simulator
from tests.cli.conftest import invoke
from tests.factories import make_customer
from tests.fulfilment.conftest import make_relay
from tests.security.servers import Target, make_ca, running_target, running_tls_server

# What the review tried; each is refused before anything is sent.
INSIDE = [
    "http://127.0.0.1:{port}/hook",
    "http://[::1]:{port}/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hook",
    "http://0x7f000001:{port}/hook",
    "http://2130706433:{port}/hook",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://user:pass@localhost:{port}/hook",
    "http://localhost:{port}/hook",
]


@pytest.fixture
def guard_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner's switch off (tests/conftest.py turns it on for the run)."""
    monkeypatch.setenv("SMMPANEL_ALLOW_PRIVATE_URLS", "0")


@pytest.fixture
def target() -> Iterator[Target]:
    with running_target() as running:
        yield running


def _port(target: Target) -> int:
    return int(target.url.rsplit(":", 1)[1])


# --- at connection time ------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "2130706433", "0x7f000001", "127.1", "[::ffff:127.0.0.1]"]
)
def test_the_guard_refuses_to_connect_inside(target: Target, host: str) -> None:
    with (
        guarded_client(OutboundPolicy(), timeout=5) as http,
        pytest.raises(httpx.ConnectError) as e,
    ):
        http.get(f"http://{host}:{_port(target)}/x")
    assert "refused:" in str(e.value) and "SMMPANEL_ALLOW_PRIVATE_URLS=1" in str(e.value)
    assert target.seen == []


def test_allowed_private_addresses_are_reached(target: Target) -> None:
    with guarded_client(OutboundPolicy(allow_private=True), timeout=5) as http:
        assert http.get(f"http://localhost:{_port(target)}/x").json() == {"orders": []}
    assert [s.path for s in target.seen] == ["/x"]


class CountingResolver:
    """A DNS server that gives each name's answers in turn (the last one stays)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        turns = self.answers[host]
        return turns.pop(0) if len(turns) > 1 else turns[0]


def test_a_name_rebound_to_loopback_after_the_check_is_refused_at_connection(
    target: Target,
) -> None:
    resolver = CountingResolver({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
    policy = OutboundPolicy(allow_private=False, resolve=resolver)
    url = f"http://rebind.example:{_port(target)}/hook"
    check_url(url, policy)  # when set, the name was public
    with guarded_client(policy, timeout=5) as http, pytest.raises(httpx.ConnectError) as e:
        http.get(url)
    assert "rebind.example (127.0.0.1) is a loopback address" in str(e.value)
    assert resolver.asked == ["rebind.example", "rebind.example"]
    assert target.seen == []


def test_the_connection_goes_to_the_address_checked_with_the_host_header_kept(
    target: Target,
) -> None:
    # "panel.test" exists for this resolver only: the system resolver does not
    # know it, so the request can only have gone to the address the guard got.
    resolver = CountingResolver({"panel.test": [["127.0.0.1"], ["127.0.0.2"]]})
    policy = OutboundPolicy(allow_private=True, resolve=resolver)
    with guarded_client(policy, timeout=5) as http:
        answer = http.post(f"http://panel.test:{_port(target)}/api/v2", data={"a": "1"})
    assert answer.status_code == 200
    assert resolver.asked == ["panel.test"]  # once: nothing re-resolved it
    assert [(s.method, s.host) for s in target.seen] == [("POST", f"panel.test:{_port(target)}")]


def test_tls_is_verified_for_the_url_host_name_not_the_address(tmp_path: Path) -> None:
    ca = make_ca()
    cert, key = ca.issue("panel.test", tmp_path)
    resolver = CountingResolver({"panel.test": [["127.0.0.1"]], "other.test": [["127.0.0.1"]]})
    policy = OutboundPolicy(allow_private=True, resolve=resolver)
    transport = GuardedTransport(policy, verify=ca.client_context())
    with running_tls_server(cert, key) as server, httpx.Client(transport=transport) as http:
        answer = http.get(f"https://panel.test:{server.port}/")
        assert answer.text == f"hello panel.test:{server.port}"
        assert server.server_names == ["panel.test"]  # SNI: the name, not 127.0.0.1
        with pytest.raises(httpx.ConnectError) as wrong_name:
            http.get(f"https://other.test:{server.port}/")
    assert "certificate verify failed" in str(wrong_name.value)


def test_the_sdk_sends_through_the_transport_it_is_given() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"balance": "1.50", "currency": "USD"})

    with Client("https://panel.example/api/v2", "k3y", transport=httpx.MockTransport(answer)) as c:
        assert str(c.balance().balance) == "1.50"
    assert [str(r.url) for r in seen] == ["https://panel.example/api/v2"]


def test_the_sdk_depends_on_nothing_else_of_the_panel() -> None:
    code = (
        "import sys, smmpanel.client, smmpanel.client.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('smmpanel.') "
        "and not m.startswith('smmpanel.client')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr


# --- webhooks ------------------------------------------------------------------------


@pytest.mark.usefixtures("guard_on")
def test_webhook_urls_inside_are_refused_when_set(db: Database, target: Target) -> None:
    customer = make_customer(db)
    for url in INSIDE:
        with pytest.raises(InvalidWebhookUrl) as refused:
            set_webhook(db, username=customer.username, url=url.format(port=_port(target)))
        assert str(refused.value).startswith("the webhook URL is refused: ")
    with db.read() as session:
        assert session.get(Account, customer.id).webhook_url is None  # type: ignore[union-attr]


@pytest.mark.usefixtures("guard_on")
def test_users_webhook_refuses_a_url_inside(db: Database) -> None:
    make_customer(db)
    result = invoke(
        ["--database-url", db.url, "users", "webhook", "alice", "http://169.254.169.254/x"]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: the webhook URL is refused: 169.254.169.254 is a ")
    assert "Traceback" not in result.output


def test_a_webhook_stored_before_the_guard_is_refused_at_delivery(
    db: Database, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = make_customer(db)
    set_webhook(db, username=customer.username, url=f"{target.url}/hook")  # allowed for now
    monkeypatch.setenv("SMMPANEL_ALLOW_PRIVATE_URLS", "0")
    payload = {"account_id": customer.id, "event": "order.status", "event_id": "order-1-2"}
    with pytest.raises(RetryLater) as later:
        deliver_webhook(db, {**payload, "timestamp": 1, "body": "{}"})
    assert "to 127.0.0.1: ConnectError: refused: 127.0.0.1 is a loopback" in str(later.value)
    assert target.seen == []


def test_a_webhook_url_with_a_password_is_never_sent(db: Database, target: Target) -> None:
    customer = make_customer(db)
    set_webhook(db, username=customer.username, url=f"{target.url}/hook")
    with db.write() as session:  # stored by a panel older than the guard
        session.execute(
            update(Account)
            .where(Account.id == customer.id)
            .values(webhook_url=target.url.replace("://", "://user:pw@") + "/hook")
        )
    payload = {"account_id": customer.id, "event": "e", "event_id": "order-1-2"}
    with pytest.raises(RetryLater) as later:
        deliver_webhook(db, {**payload, "timestamp": 1, "body": "{}"})
    assert "must not contain a user name or password" in str(later.value)
    assert "pw" not in str(later.value)
    assert target.seen == []


# --- providers ---------------------------------------------------------------------------


@pytest.mark.usefixtures("guard_on")
def test_provider_urls_inside_are_refused_when_added(db: Database, target: Target) -> None:
    for n, url in enumerate(INSIDE):
        with pytest.raises(InvalidProvider) as refused:
            add_provider(db, name=f"p{n}", api_url=url.format(port=_port(target)), api_key="k")
        assert str(refused.value).startswith("the API URL is refused: ")
    with db.read() as session:
        assert session.scalars(select(Provider)).all() == []


@pytest.mark.usefixtures("guard_on")
def test_providers_add_refuses_a_url_inside(db: Database) -> None:
    result = invoke(
        ["--database-url", db.url, "providers", "add", "p", "http://0x7f000001/api/v2", "KEY1"]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: the API URL is refused: 0x7f000001 (127.0.0.1) is a loopback address; "
        "SMMPANEL_ALLOW_PRIVATE_URLS=1 allows it\n"
    )


def test_a_look_up_url_off_the_providers_host_is_refused_when_added(db: Database) -> None:
    for lookup in [
        "http://127.0.0.1:9001/_sim/orders",  # another port
        "https://127.0.0.1:9000/_sim/orders",  # another scheme
        "http://localhost:9000/_sim/orders",  # another host name
    ]:
        with pytest.raises(InvalidProvider) as refused:
            add_provider(
                db,
                name="p",
                api_url="http://127.0.0.1:9000/api/v2",
                api_key="k",
                dialect={"lookup_url": lookup},
            )
        assert "the look-up URL must be on the provider's own host" in str(refused.value)


def test_a_provider_stored_before_the_guard_is_refused_at_connection(
    db: Database, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_provider(db, name="old", api_url=f"{target.url}/api/v2", api_key="SECRETKEY123")
    monkeypatch.setenv("SMMPANEL_ALLOW_PRIVATE_URLS", "0")
    with pytest.raises(ProviderUnavailable) as refused:
        fetch_provider_balance(db, provider_name="old")
    assert "refused: 127.0.0.1 is a loopback address" in str(refused.value)
    assert "SECRETKEY123" not in str(refused.value)
    assert target.seen == []


# --- the reconcile look-up ---------------------------------------------------------------


def _access(api_url: str, lookup_url: str) -> ProviderAccess:
    return ProviderAccess(7, "up", api_url, "THE-PROVIDER-KEY", "post", {"lookup_url": lookup_url})


def test_the_look_up_posts_the_key_in_its_body(target: Target) -> None:
    access = _access(f"{target.url}/api/v2", f"{target.url}/_sim/orders")
    assert lookup_upstream_orders(access, service="3", link="https://x.com/a") == []
    [seen] = target.seen
    assert (seen.method, seen.path, seen.query) == ("POST", "/_sim/orders", "")
    assert parse_qs(seen.body.decode()) == {
        "key": ["THE-PROVIDER-KEY"],
        "service": ["3"],
        "link": ["https://x.com/a"],
    }


def test_the_look_up_sends_nothing_off_the_providers_host(target: Target) -> None:
    with running_target() as elsewhere:
        access = _access(f"{target.url}/api/v2", f"{elsewhere.url}/_sim/orders")
        with pytest.raises(LookupRefused):
            lookup_upstream_orders(access, service="3", link="https://x.com/a")
        assert elsewhere.seen == [] and target.seen == []


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(manual_clock=True) as running:
        yield running


def test_an_order_whose_look_up_url_is_elsewhere_waits_for_the_owner(
    db: Database, sim: RunningSimulator, target: Target
) -> None:
    relay = make_relay(db, sim, dialect={"lookup_url": f"{sim.base_url}/_sim/orders"})
    with db.write() as session:  # stored by a panel older than the same-host rule
        session.execute(
            update(Provider).values(
                dialect={"timeout": 1.0, "lookup_url": f"{target.url}/_sim/orders"}
            )
        )
    sim.control.add_fault("timeout", variant="drop", seconds=3, count=1)
    order_id = relay.order()
    relay.run()
    report = reconcile_orders(db)
    assert order_id in report.waiting
    assert relay.get(order_id).forward_state == "reconcile"
    with db.read() as session:
        [message] = session.scalars(select(Alert.message)).all()
    assert "look-up URL is not on the provider's own host" in message
    assert target.seen == []  # the key went nowhere
