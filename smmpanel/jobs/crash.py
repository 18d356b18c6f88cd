"""Crash points for the recovery tests.

`SMMPANEL_CRASH_AT=forward:sent` makes the worker process kill itself with
SIGKILL when it reaches that point, exactly as a power cut would.  Unset (the
normal case) this is one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    wanted = os.environ.get("SMMPANEL_CRASH_AT")
    if wanted and wanted == name:
        os.kill(os.getpid(), signal.SIGKILL)
