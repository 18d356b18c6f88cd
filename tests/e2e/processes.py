"""Real `smmpanel` processes for end-to-end tests: started, waited for, killed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")
SMMPANEL = [sys.executable, "-c", "from smmpanel.cli import main; main()"]


def smmpanel_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMMPANEL_CRASH")}
    env.update(SMMPANEL_DATABASE_URL=database_url, PYTHONUNBUFFERED="1", **extra)
    return env


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run one command to completion; its stdout."""
    done = subprocess.run([*SMMPANEL, *args], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"smmpanel {' '.join(args)} failed: {done.stderr}")
    return done.stdout


@contextmanager
def process(
    env: dict[str, str], *args: str, log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A long-running smmpanel command, stopped (and reaped) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*SMMPANEL, *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def wait_for(check: Callable[[], T | None], *, timeout: float = 60, what: str = "it") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def wait_http(url: str, *, timeout: float = 30) -> None:
    def answers() -> bool:
        try:
            httpx.get(url, timeout=1)
            return True
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout=timeout, what=url)
