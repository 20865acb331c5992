"""SIGINT/SIGTERM that arrive while ``zhengwen crawl`` is still starting (importing Scrapy,
opening the archive), before `crawler.interrupt` takes over: remembered, not fatal.

Installed by `crawler.cli` before its heavy imports when the command is ``crawl``; stdlib only,
so that it can be installed within the first milliseconds. A scheduler's SIGTERM that comes
while the child starts then ends the run as ``interrupted`` (exit 0), not as a killed process
with its run left ``running``.
"""

from __future__ import annotations

import os
import signal
from typing import Any

RECEIVED: list[int] = []


def _remember(signum: int, _frame: Any) -> None:
    RECEIVED.append(signum)
    if len(RECEIVED) == 1:
        name = signal.Signals(signum).name
        try:
            os.write(2, f"\nzhengwen: {name}: stopping as soon as the crawl has started\n".encode())
        except OSError:
            pass


def install() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _remember)
