"""The `smmpanel` administration command line (typer + rich)."""

from smmpanel.cli.app import app, main

__all__ = ["app", "main"]
