"""Running the simulator as a server: `serve()` (what `smmpanel simulate-provider` calls)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

import uvicorn

from smmpanel.http_protocol import HTTP_PROTOCOL
from smmpanel.simulator.app import create_app
from smmpanel.simulator.config import SimulatorConfig
from smmpanel.simulator.faults import FaultRule, parse_fault_spec
from smmpanel.tokens import new_token


def build_config(
    key: str | None = None,
    *,
    speed: float = 10.0,
    time_scale: float = 1.0,
    manual_clock: bool = False,
    balance: Decimal | str | float = "1000",
    currency: str = "USD",
    faults: Sequence[str | FaultRule] = (),
    subscription_interval: float = 600.0,
    reject_duplicate_links: bool = False,
    seed: int | None = None,
) -> SimulatorConfig:
    """A SimulatorConfig from command-line style values (fault specs as strings).

    A missing key becomes a fresh random token; read it back from `config.key`.
    """
    rules = [parse_fault_spec(f) if isinstance(f, str) else f.validate() for f in faults]
    return SimulatorConfig(
        key=key or new_token(32),
        speed=speed,
        time_scale=time_scale,
        manual_clock=manual_clock,
        balance=Decimal(str(balance)),
        currency=currency,
        faults=rules,
        subscription_interval=subscription_interval,
        reject_duplicate_links=reject_duplicate_links,
        seed=seed,
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 9000,
    key: str | None = None,
    *,
    speed: float = 10.0,
    time_scale: float = 1.0,
    manual_clock: bool = False,
    balance: Decimal | str | float = "1000",
    currency: str = "USD",
    faults: Sequence[str | FaultRule] = (),
    subscription_interval: float = 600.0,
    reject_duplicate_links: bool = False,
    seed: int | None = None,
    log_level: str = "info",
    echo: Callable[[str], None] = print,
) -> None:
    """Run the provider simulator until interrupted (blocking).

    CLI mapping (suggested): `--port`, `--host`, `--key`, `--speed SECONDS_PER_STAGE`,
    `--time-scale`, `--balance`, `--currency`, `--fault SPEC` (repeatable, e.g.
    `partial:p=0.2` or `timeout:next=1,seconds=30`), `--subscription-interval SECONDS`,
    `--reject-duplicate-links`, `--seed`, `--log-level`.
    """
    config = build_config(
        key,
        speed=speed,
        time_scale=time_scale,
        manual_clock=manual_clock,
        balance=balance,
        currency=currency,
        faults=faults,
        subscription_interval=subscription_interval,
        reject_duplicate_links=reject_duplicate_links,
        seed=seed,
    )
    echo(f"Provider simulator: http://{host}:{port}/api/v2")
    echo(f"API key: {config.key}")
    echo(f"Balance: {config.balance} {config.currency}; {speed:g} s per stage")
    for rule in config.faults:
        echo(f"Fault: {rule.to_json()}")
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        http=HTTP_PROTOCOL,
        log_level=log_level,
        ws="none",
        timeout_graceful_shutdown=2,
    )
