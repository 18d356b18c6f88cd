"""`smmpanel demo` and `smmpanel serve`."""

from __future__ import annotations

import socket
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from smmpanel.accounts.errors import InvalidApiKey
from smmpanel.accounts.queries import account_balance, authenticate
from smmpanel.api_v2.app import create_app
from smmpanel.cli.server import demo_settings
from smmpanel.config import Settings
from smmpanel.db import Database
from smmpanel.http_protocol import HTTP_PROTOCOL
from smmpanel.payments.models import PaymentGateway
from smmpanel.payments.queries import offered_gateways
from smmpanel.payments.setup import load_setup
from smmpanel.server import free_port, serve_in_thread
from smmpanel.staff.logins import log_in_staff
from tests.cli.conftest import Run, invoke, last_line
from tests.factories import make_customer


def test_demo_no_serve_prints_a_working_key(run: Run, db: Database) -> None:
    result = run("demo", "--no-serve", "--port", "8123")
    key = last_line(result)
    assert "http://127.0.0.1:8123" in result.stdout
    assert f"curl -s http://127.0.0.1:8123/api/v2 -d key={key} -d action=services" in result.stdout
    assert "-d action=add -d service=1" in result.stdout
    principal = authenticate(db, key)
    assert principal.username == "demo"
    assert account_balance(db, principal.account_id) == (10_000_000, "USD")
    with serve_in_thread(create_app(db)) as url:
        services = httpx.post(f"{url}/api/v2", data={"key": key, "action": "services"}).json()
        balance = httpx.post(f"{url}/api/v2", data={"key": key, "action": "balance"}).json()
    # The simulator's catalog, imported at a 25% markup rounded up to cents.
    assert len(services) == 22
    assert (services[0]["service"], services[0]["rate"]) == (1, "1.13")  # 0.90 x 1.25
    assert services[0]["name"] == "Instagram Followers [Refill 30 days]"
    assert {s["type"] for s in services} >= {"Default", "Package", "Subscriptions", "Poll"}
    assert balance == {"balance": "100.00000", "currency": "USD"}
    # The owner's login for /admin, printed as the customer's is.
    admin_line = next(line for line in result.stdout.splitlines() if "/admin/" in line)
    staff_password = admin_line.split("password ")[1].rstrip(")")
    assert "http://127.0.0.1:8123/admin/" in admin_line and "log in as admin" in admin_line
    owner = log_in_staff(db, username="admin", password=staff_password, ip="127.0.0.1")
    assert (owner.role, owner.two_factor) == ("owner", False)


def test_demo_offers_the_demo_gateway_and_a_manual_transfer(run: Run, db: Database) -> None:
    result = run("demo", "--no-serve")
    assert "Add funds offers the demo gateway (Pay / Fail) and a manual transfer" in result.stdout
    settings = demo_settings(Settings())
    assert settings.demo_payments and not Settings().demo_payments
    with db.read() as session:
        offered = {g.code: g for g in offered_gateways(session, settings)}
        demo = load_setup(session, "demo")
        manual = load_setup(session, "manual")
        stored = session.get_one(PaymentGateway, "demo").settings
    assert set(offered) == {"demo", "manual"}
    assert [str(rule) for rule in offered["demo"].bonus] == ["+5% from 50"]
    assert offered["manual"].min_amount == Decimal("10")
    assert len(demo.config["secret"]) >= 24  # random, made for this demo
    assert demo.config["secret"] not in stored  # sealed at rest
    assert "IBAN" in manual.config["instructions"]


def test_demo_refuses_a_database_in_use(run: Run, db: Database) -> None:
    make_customer(db)
    result = run("demo", "--no-serve", ok=False)
    assert "the demo needs an empty database" in result.stderr
    assert "1 account(s)" in result.stderr


def test_demo_recreates_its_own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = invoke(["demo", "--no-serve"], env={"SMMPANEL_DATABASE_URL": "sqlite:///elsewhere.db"})
    assert first.exit_code == 0, first.output
    assert (tmp_path / "smmpanel-demo.db").exists()
    assert not (tmp_path / "elsewhere.db").exists()  # a demo never uses the real panel's
    second = invoke(["demo", "--no-serve"])
    assert second.exit_code == 0, second.output  # not "needs an empty database"
    db = Database(f"sqlite:///{tmp_path / 'smmpanel-demo.db'}")
    try:
        with pytest.raises(InvalidApiKey):
            authenticate(db, last_line(first))
        assert authenticate(db, last_line(second)).username == "demo"
    finally:
        db.dispose()


def test_serve_migrates_then_runs_uvicorn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake_serve_on(listener: socket.socket, config: uvicorn.Config) -> None:
        calls.append({"address": listener.getsockname(), "config": config})

    monkeypatch.setattr("smmpanel.cli.server.serve_on", fake_serve_on)
    url = f"sqlite:///{tmp_path / 'served.db'}"
    port = free_port()
    result = invoke(["--database-url", url, "serve", "--host", "0.0.0.0", "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert f"serving http://127.0.0.1:{port}/api/v2" in result.stdout
    (call,) = calls
    assert call["address"] == ("0.0.0.0", port)  # bound before "serving" was printed
    assert call["config"].app is not None
    assert call["config"].http is HTTP_PROTOCOL  # the bounded parser, not uvicorn's "auto"
    # The schema was created: commands that need it now work.
    assert invoke(["--database-url", url, "users", "list"]).exit_code == 0


def test_serve_with_workers_runs_the_bounded_parser_in_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs: list[uvicorn.Config] = []

    def fake_run_processes(_listeners: object, config: uvicorn.Config) -> None:
        configs.append(config)

    monkeypatch.setattr("smmpanel.cli.server.run_processes", fake_run_processes)
    url = f"sqlite:///{tmp_path / 'served.db'}"
    result = invoke(["--database-url", url, "serve", "--port", str(free_port()), "--workers", "2"])
    assert result.exit_code == 0, result.output
    (config,) = configs
    assert config.workers == 2
    assert config.http is HTTP_PROTOCOL
