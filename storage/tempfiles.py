"""Files written under a temp name in their target folder, then renamed: how a killed writer's
leftovers are told from a live writer's files, and removed.

Every writer of the archive and of exports that renames into place (Parquet parts, export data
files and dataset cards, a run's recorded extraction options) names its temp file
``.<final name>.tmp-<uuid hex>`` (Parquet parts: ``.tmp-<uuid hex>``): a dot-file, skipped by
pyarrow, pandas and ``*.parquet`` globs, and recognisable by `is_temp_name`. The writer creates
it exclusively and holds a ``flock`` on it (`create_locked`, `locked_temp`) until it has been
renamed; the kernel drops the lock when the writer dies, SIGKILL included. `sweep` removes the
temp files of a folder that nobody holds locked and that are older than `TEMP_MIN_AGE` (a writer
is between creating and locking its file for two system calls; seconds are generous). A file
still locked is a live writer's, however old (a long export, a paused crawl), and stays.

Where there is no ``flock`` (Windows), a temp file goes by age alone: once older than
``stale_after`` seconds (an hour by default).
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

if sys.platform != "win32":
    import fcntl

#: What every temp name has before its uuid.
TEMP_MARK: Final = ".tmp-"
#: An unlocked temp file younger than this may belong to a writer that has not locked it yet.
TEMP_MIN_AGE: Final = 10.0
#: Where locks cannot be seen (Windows), a temp file older than this is a dead writer's.
STALE_AFTER: Final = 3600.0
_TEMP_NAME: Final = re.compile(r"\.(?:.*\.)?tmp-[0-9a-f]{32}")


def temp_name(final: Path) -> Path:
    """A fresh temp name for ``final``, in its folder: ``.<name>.tmp-<uuid hex>``."""
    return final.with_name(f".{final.name}{TEMP_MARK}{uuid.uuid4().hex}")


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one of our temp names (``.news.jsonl.tmp-<hex>``, ``.tmp-<hex>``)."""
    return _TEMP_NAME.fullmatch(name) is not None


def create_locked(path: Path) -> int:
    """Create ``path`` (it must not exist) and return its descriptor, holding an exclusive
    ``flock`` on it until the descriptor is closed (or the process dies)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    if sys.platform != "win32":
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
    return fd


@contextmanager
def locked_temp(final: Path) -> Iterator[Path]:
    """A new, locked temp file for ``final`` (`temp_name`) for the length of the block: write
    it by its path (the lock is on the file, not on a descriptor's offset) and rename it into
    place inside the block. An exception (a signal's included) removes it; the lock goes at the
    end of the block."""
    tmp = temp_name(final)
    fd = create_locked(tmp)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def is_locked(path: Path) -> bool:
    """Whether a live process holds a ``flock`` on ``path`` (a writer still writing it). A file
    this process cannot open counts as locked: it is left alone."""
    if sys.platform == "win32":
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except PermissionError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the probe's own lock
    return False


def sweep(
    folder: Path,
    *,
    recursive: bool = False,
    min_age: float = TEMP_MIN_AGE,
    stale_after: float = STALE_AFTER,
) -> list[Path]:
    """Remove the temp files (`is_temp_name`) in ``folder`` (and below it, ``recursive``) whose
    writer is gone: unlocked and at least ``min_age`` seconds old (without ``flock``: older than
    ``stale_after``). Returns what was removed; a missing folder holds nothing."""
    if not folder.is_dir():
        return []
    now = time.time()
    removed = []
    found = folder.rglob(f"*{TEMP_MARK}*") if recursive else folder.glob(f"*{TEMP_MARK}*")
    for path in found:
        if not is_temp_name(path.name):
            continue
        try:
            if not path.is_file():
                continue
            age = now - path.stat().st_mtime
            dead = age >= stale_after if sys.platform == "win32" else not is_locked(path)
            if age >= min_age and dead:
                path.unlink()
                removed.append(path)
        except OSError:  # gone already (another sweep, its writer's rename), or not ours to remove
            continue
    return removed
