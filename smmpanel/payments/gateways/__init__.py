"""The gateways shipped with the panel (registered as entry points in pyproject.toml)."""
