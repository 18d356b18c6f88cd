"""A fake upstream provider panel speaking API v2, for demos and tests.

It keeps records and moves statuses over (simulated) time; it can misbehave on purpose
(faults). See docs/simulator.md.
"""

from smmpanel.simulator.app import create_app
from smmpanel.simulator.catalog import Service, builtin_catalog
from smmpanel.simulator.config import SimulatorConfig
from smmpanel.simulator.faults import FaultRule, parse_fault_spec
from smmpanel.simulator.runner import build_config, serve
from smmpanel.simulator.state import SimState

__all__ = [
    "FaultRule",
    "Service",
    "SimState",
    "SimulatorConfig",
    "build_config",
    "builtin_catalog",
    "create_app",
    "parse_fault_spec",
    "serve",
]
