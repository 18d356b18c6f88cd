"""Crash points for the recovery tests.

`SMMPANEL_CRASH_AT=forward:sent` makes the worker process kill itself with
SIGKILL when it reaches that point, exactly as a power cut would.  Unset (the
normal case) this is a look at the current settings (cached while no
SMMPANEL_* variable changes).
"""

from __future__ import annotations

import os
import signal

from smmpanel.config import current_settings


def crash_point(name: str) -> None:
    wanted = current_settings().crash_at
    if wanted and wanted == name:
        os.kill(os.getpid(), signal.SIGKILL)
