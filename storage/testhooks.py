"""Hooks for the kill tests (tests/test_kill.py, bench/kill.py): off, and free, unless the
environment of the process turns them on. Nothing else should set these variables.

A kill test must know what the killed crawler had *acknowledged* (a batch committed: the SQL
transaction returned, or the Parquet parts renamed and their folders fsynced), and must be able
to kill it at a chosen moment instead of by luck. Both need the process's cooperation:

``ZHENGWEN_TEST_HOOKS_DIR=<dir>`` switches the hooks on. Each process then appends, after every
batch a store has committed, one JSON line to ``<dir>/acks-<pid>.jsonl``:
``{"store": "sql" | "parquet", "keys": [[url_hash, content_hash], ...]}``. The line is written
with one ``write(2)`` on an ``O_APPEND`` descriptor after the store's commit returned, so a
killed process leaves every line of what it committed, except at most the last one, which a
reader may find cut and must ignore (a lower bound of the acknowledged set is what a "nothing
acknowledged is lost" check needs). No fsync: the tests kill processes, not the machine.

``ZHENGWEN_TEST_CRASHPOINT=<point>[@<n>]`` (with the folder set) pauses the thread that reaches
``<point>`` for the n-th time (default 1) in this process: it writes ``<dir>/paused-<pid>.json``
(atomically) and sleeps (at most `PAUSE_SECONDS`), so that the test, polling for that file, can
SIGKILL the process exactly there. The points are `POINTS`.

When the folder is not set, `crashpoint` and `acknowledge` return at their first comparison: the
environment is read once, at import.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Final

HOOKS_DIR_ENV: Final = "ZHENGWEN_TEST_HOOKS_DIR"
CRASHPOINT_ENV: Final = "ZHENGWEN_TEST_CRASHPOINT"

#: Where a writer can be paused for a kill, in the order a batch reaches them.
POINTS: Final = {
    "parquet.before_rename": "every part of a batch written and fsynced under its temp name, "
    "none renamed",
    "parquet.between_renames": "the first part of a batch with several partitions renamed, "
    "the others not yet",
    "sql.before_commit": "every statement of an article batch executed, the transaction "
    "not committed",
    "sql.after_commit": "the article batch committed, its acknowledgement not yet written",
    "export.before_rename": "an export's data file and card written and fsynced under their "
    "temp names, not renamed",
}

#: A paused thread resumes after this long if nobody killed the process (a test that died).
PAUSE_SECONDS: Final = 600.0


def _parse(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    point, _, nth = value.partition("@")
    if point not in POINTS:
        raise ValueError(f"{CRASHPOINT_ENV}: unknown point {point!r}; known: {sorted(POINTS)}")
    return point, int(nth) if nth else 1


_DIR: Final = Path(os.environ[HOOKS_DIR_ENV]) if os.environ.get(HOOKS_DIR_ENV) else None
_ARMED: Final = _parse(os.environ.get(CRASHPOINT_ENV)) if _DIR is not None else None
_hits: dict[str, int] = {}
_lock = threading.Lock()


def active() -> bool:
    return _DIR is not None


def crashpoint(point: str) -> None:
    """Pause here if the environment asks for it (see the module docstring)."""
    if _ARMED is None or _ARMED[0] != point or _DIR is None:
        return
    with _lock:
        _hits[point] = _hits.get(point, 0) + 1
        if _hits[point] != _ARMED[1]:
            return
    final = _DIR / f"paused-{os.getpid()}.json"
    tmp = final.with_name(f".{final.name}.tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "point": point, "hit": _ARMED[1]}))
    os.replace(tmp, final)
    time.sleep(PAUSE_SECONDS)


def acknowledge(store: str, keys: Iterable[tuple[str, str]]) -> None:
    """Record that ``store`` committed these (url_hash, content_hash) keys."""
    if _DIR is None:
        return
    line = json.dumps({"store": store, "keys": [list(k) for k in keys]}) + "\n"
    fd = os.open(_DIR / f"acks-{os.getpid()}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
