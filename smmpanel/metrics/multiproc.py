"""The directory where the processes of `serve --workers N` keep their metrics.

prometheus_client's multiprocess mode is chosen when it is first imported, from
PROMETHEUS_MULTIPROC_DIR: `serve` sets it before it starts its processes (they
are spawned, so they import everything afresh with it set) and each process
then writes its values to its own files there, which a scrape of any process
sums.  The directory must start empty: files of an earlier run would be added
to this one's counts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from smmpanel.metrics.recorder import MULTIPROC_ENV


@contextmanager
def metrics_directory(processes: int) -> Iterator[str | None]:
    """For `processes` > 1: the directory named by PROMETHEUS_MULTIPROC_DIR,
    created if missing and emptied of metric files (the owner's choice, e.g. a
    tmpfs; it stays), or else a private temporary one, set in the environment
    for the processes and removed at the end.  One process, and the variable
    unset: nothing (its metrics stay in its memory)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
        yield str(path)
        return
    if processes <= 1:
        yield None
        return
    made = tempfile.mkdtemp(prefix="smmpanel-metrics-")
    os.environ[MULTIPROC_ENV] = made
    try:
        yield made
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(made, ignore_errors=True)
