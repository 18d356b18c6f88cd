from tests.cli.conftest import run  # noqa: F401  (the `run` fixture of the CLI tests)
