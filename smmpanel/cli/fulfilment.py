"""`smmpanel worker` and `smmpanel simulate-provider`."""

import logging
import signal
import threading
from decimal import Decimal
from typing import Annotated, Any

import typer

from smmpanel.cli.common import BadValue, DatabaseUrl, echo, open_panel, seconds
from smmpanel.config import current_settings
from smmpanel.logscrub import install_log_scrubbing
from smmpanel.money import MAX_BALANCE, parse_exact
from smmpanel.secretbox import SecretBox
from smmpanel.simulator.faults import FAULT_SPEC_HELP, FaultError, FaultRule, parse_fault_spec
from smmpanel.simulator.runner import serve as serve_simulator
from smmpanel.worker import build_worker

DAY_SECONDS = 86_400


def register(root: typer.Typer) -> None:
    root.command("worker")(worker)
    root.command("simulate-provider")(simulate_provider)


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run the jobs that are due now, then exit.")
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="Worker name (default host:pid).")
    ] = None,
    poll: Annotated[
        float,
        typer.Option(
            "--poll", help="Seconds between looks for new jobs.", parser=seconds(0.05, 60)
        ),
    ] = 0.5,
    database_url: DatabaseUrl = None,
) -> None:
    """Forward orders, sync statuses and run every schedule (several may run at once)."""
    SecretBox.from_settings(current_settings())  # no secret key: one Error line, exit 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    install_log_scrubbing()
    with open_panel(database_url, migrate=True) as db:
        runner = build_worker(db, name=name, poll_interval=poll)
        if once:
            ran = runner.run_once()
            echo(f"{ran} jobs run")
            return
        stop = threading.Event()

        def _stop(_signum: int, _frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        echo(f"smmpanel worker {runner.name} running (Ctrl+C stops)")
        runner.run_forever(stop)


def simulate_provider(
    port: Annotated[
        int, typer.Option("--port", help="TCP port to listen on.", min=1, max=65535)
    ] = 9000,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    key: Annotated[
        str | None, typer.Option("--key", help="API key to accept (default: a new one, printed).")
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            help="Seconds an order spends in each stage.",
            parser=seconds(0, DAY_SECONDS),
        ),
    ] = 10.0,
    balance: Annotated[str, typer.Option("--balance", help="The simulator's balance.")] = "1000",
    fault: Annotated[list[str] | None, typer.Option("--fault", help=FAULT_SPEC_HELP)] = None,
    subscription_interval: Annotated[
        float,
        typer.Option(
            "--subscription-interval",
            help="Seconds between new posts.",
            parser=seconds(0.001, DAY_SECONDS),
        ),
    ] = 600.0,
    reject_duplicate_links: Annotated[
        bool,
        typer.Option("--reject-duplicate-links", help="Refuse a second active order per link."),
    ] = False,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed for faults.")] = None,
) -> None:
    """Run a provider simulator: a fake upstream panel for demos and tests.

    It keeps records and moves statuses over time; it fulfils nothing.
    """
    # Checked here: the simulator would fail on bad ones with a traceback.
    starting_balance = parse_exact(balance, what="--balance", low=Decimal(0), high=MAX_BALANCE)
    rules = [_fault(spec) for spec in fault or []]
    serve_simulator(
        host=host,
        port=port,
        key=key,
        speed=speed,
        balance=starting_balance,
        faults=rules,
        subscription_interval=subscription_interval,
        reject_duplicate_links=reject_duplicate_links,
        seed=seed,
    )


def _fault(spec: str) -> FaultRule:
    try:
        return parse_fault_spec(spec)
    except FaultError as exc:
        raise BadValue(f"--fault {spec!r}: {exc}") from None
