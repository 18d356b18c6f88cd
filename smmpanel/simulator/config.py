"""Configuration of the provider simulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from smmpanel.simulator.catalog import Service, builtin_catalog
from smmpanel.simulator.faults import FaultRule


@dataclass
class SimulatorConfig:
    """Everything the simulator can be configured with at start-up.

    Times are in *simulated* seconds. The simulated clock follows real time multiplied by
    `time_scale` (unless `manual_clock`), plus whatever `/_sim/advance` added.
    """

    key: str = "sim-key"  # the one API key the simulator accepts
    speed: float = 10.0  # seconds per stage: Pending -> In progress -> Completed
    time_scale: float = 1.0  # simulated seconds per real second
    manual_clock: bool = False  # True: the clock only moves through advance()
    balance: Decimal = Decimal("1000")  # the account's starting balance
    currency: str = "USD"
    refill_speed: float | None = None  # seconds per refill stage (None: same as speed)
    cancel_delay: float | None = None  # seconds until a cancel resolves (None: speed)
    subscription_interval: float = 600.0  # seconds between "new posts" of a subscription
    subscription_unlimited_posts: int = 100  # cap for subscriptions without `posts`
    reject_duplicate_links: bool = False  # "You have active order with this link..."
    faults: list[FaultRule] = field(default_factory=list)
    seed: int | None = 0  # seeds start counts, quantities of posts, fault probabilities
    catalog: list[Service] = field(default_factory=builtin_catalog)

    def __post_init__(self) -> None:
        self.balance = Decimal(str(self.balance))
        if self.speed < 0 or self.time_scale < 0:
            raise ValueError("speed and time_scale must be >= 0")
        if self.subscription_interval <= 0:
            raise ValueError("subscription_interval must be > 0")

    @property
    def refill_stage(self) -> float:
        return self.speed if self.refill_speed is None else self.refill_speed

    @property
    def cancel_stage(self) -> float:
        return self.speed if self.cancel_delay is None else self.cancel_delay
