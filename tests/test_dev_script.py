"""`./dev`, the developer entry point, and the locks it installs from."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "dev"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)")


def run_dev(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEV), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def venv_is_current() -> bool:
    """True when ./dev would not reinstall .venv (it is installed from the current
    pyproject.toml and lock), so running it costs nothing."""
    stamp = ROOT / ".venv" / ".installed"
    data = (ROOT / "pyproject.toml").read_bytes() + (ROOT / "requirements-dev.lock").read_bytes()
    return stamp.is_file() and stamp.read_text().strip() == hashlib.sha256(data).hexdigest()


needs_current_venv = pytest.mark.skipif(
    not venv_is_current(), reason="runs ./dev, which would install .venv first"
)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: str) -> dict[str, str]:
    """name -> version, from a lock's `name==version` lines (each with its hashes),
    for this interpreter: a universal lock may pin a package once per Python
    (`deprecated==1.3.1 ; python_full_version < '3.12'`)."""
    found: dict[str, str] = {}
    lines = (ROOT / lock).read_text().splitlines()
    for number, line in enumerate(lines):
        match = PIN.match(line)
        if match:
            assert lines[number + 1].strip().startswith("--hash=sha256:"), line
            marker = line.rstrip(" \\").partition(";")[2].strip()
            if not marker or Marker(marker).evaluate():
                found[normalise(match.group(1))] = match.group(2)
    return found


def test_an_unknown_command_prints_the_usage_on_stderr_and_exits_2() -> None:
    done = run_dev("frobnicate")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Error: unknown command 'frobnicate'" in done.stderr
    assert "./dev test" in done.stderr


def test_help_lists_every_command_it_has() -> None:
    done = run_dev("help")
    assert done.returncode == 0
    listed = set(re.findall(r"^\s+\./dev (\w+)", done.stdout, flags=re.M))
    assert listed == {"demo", "test", "lint", "shell", "lock"}
    handled = set(re.findall(r"^ {4}(\w+)\)", DEV.read_text(), flags=re.M))
    assert listed <= handled


@needs_current_venv
def test_an_unreachable_test_postgres_url_stops_without_starting_a_cluster() -> None:
    # Port 1 on loopback refuses at once; the password must not be printed.
    url = "postgresql://u:s3cret@127.0.0.1:1/x"
    done = run_dev("test", "--co", "-q", SMMPANEL_TEST_POSTGRES_URL=url, SMMPANEL_TEST_POSTGRES="")
    assert done.returncode == 1
    assert "SMMPANEL_TEST_POSTGRES_URL does not answer" in done.stderr
    assert "starting one" not in done.stderr
    assert "s3cret" not in done.stderr + done.stdout
    assert "u:***@127.0.0.1:1" in done.stderr


@needs_current_venv
def test_shell_starts_with_the_panel_imported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shell.db'}"
    done = subprocess.run(
        [str(DEV), "shell"],
        input="print('models:', Account.__tablename__, Order.__tablename__)\n",
        env={**os.environ, "SMMPANEL_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"on {url}" in done.stdout
    assert "models: accounts orders" in done.stderr + done.stdout


def test_the_lock_pins_every_dependency_in_its_range_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["dev"],
        *project["build-system"]["requires"],
    ]
    locked = pins("requirements-dev.lock")
    for text in wanted:
        requirement = Requirement(text)
        name = normalise(requirement.name)
        assert name in locked, f"{name} is not in requirements-dev.lock: run ./dev lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements-dev.lock pins {name}=={locked[name]}, outside {text}: run ./dev lock"
        )


def test_the_runtime_lock_pins_the_same_releases_without_the_dev_tools() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert runtime.items() <= dev.items()
    assert {"pytest", "mypy", "ruff", "uv"}.isdisjoint(runtime)
    assert {"starlette", "uvicorn", "sqlalchemy", "setuptools"} <= runtime.keys()


def test_the_running_interpreter_has_the_locked_versions() -> None:
    from importlib.metadata import PackageNotFoundError, version

    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("not running in ./dev's .venv")
    for name, pinned in pins("requirements-dev.lock").items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # a platform's or an older Python's package (colorama, ...)
        assert installed == pinned, name
