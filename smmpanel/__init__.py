"""smmpanel: a self-hosted SMM panel speaking the reseller API v2."""

__version__ = "0.1.0"
