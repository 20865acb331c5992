"""A full disk, told apart from other store failures and named so a user can act on it.

Every store reports a full disk its own way: an `OSError` with ``ENOSPC`` (Parquet, WARC, log
files, temp files), SQLite's "database or disk is full" (``SQLITE_FULL``), PostgreSQL's SQLSTATE
53100 (the server's disk), pyarrow's "No space left on device" in a message. The error a caller
sees is usually wrapped (`storage.batch.StorageError`, SQLAlchemy's ``OperationalError``), so the
whole chain of causes is searched.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

#: ``errno`` values that mean "the file system has no room for this write".
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: PostgreSQL's SQLSTATE for ``disk_full``.
PG_DISK_FULL = "53100"
_MESSAGES = ("no space left on device", "disk quota exceeded", "database or disk is full")


def first_line(exc: BaseException) -> str:
    """An error's first line (its type when it has no message): for one-line reports."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes (``__cause__``, ``__context__``, a DBAPI error's ``orig``)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 50:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        for nxt in (e.__cause__, e.__context__, getattr(e, "orig", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or any of its causes) says a disk is full."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in NO_SPACE_ERRNOS:
            return True
        if isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorname", "") == "SQLITE_FULL":
            return True
        if getattr(e, "sqlstate", None) == PG_DISK_FULL or getattr(e, "pgcode", None) == (
            PG_DISK_FULL
        ):
            return True
        text = str(e).lower()
        if any(m in text for m in _MESSAGES):
            return True
    return False


def is_server_side(exc: BaseException) -> bool:
    """A full disk reported by the PostgreSQL server (its disk, not this machine's)."""
    return any(
        getattr(e, "sqlstate", None) == PG_DISK_FULL or getattr(e, "pgcode", None) == PG_DISK_FULL
        for e in _chain(exc)
    )


def file_of(exc: BaseException) -> str | None:
    """The file a failed write named, when an `OSError` in the chain names one."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.filename:
            return os.fsdecode(e.filename)
    return None


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover (the loop returns)


def _mount_of(path: Path) -> tuple[str, str, str] | None:
    """(mount point, device, file system type) of the mount holding ``path`` (Linux)."""
    try:
        lines = Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    best: tuple[str, str, str] | None = None
    target = str(path)
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        device, point, kind = parts[0], parts[1].replace("\\040", " "), parts[2]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, device, kind)
    return best


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor, resolved."""
    path = path.absolute()
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate.resolve()
    return Path("/")


def describe_disk(path: str | os.PathLike[str]) -> str:
    """The disk holding ``path``: mount point, device, type and free space, as far as known."""
    where = _existing(Path(path))
    parts: list[str] = []
    mount = _mount_of(where)
    if mount is not None:
        point, device, kind = mount
        parts.append(f"{point} ({kind} on {device})" if device != kind else f"{point} ({kind})")
    try:
        st = os.statvfs(where)
        parts.append(
            f"{_size(st.f_bavail * st.f_frsize)} free of {_size(st.f_blocks * st.f_frsize)}"
        )
    except OSError:
        pass
    return ", ".join(parts) if parts else str(where)


def no_space_message(exc: BaseException, path: str | os.PathLike[str] | None) -> str:
    """One line for a user: which disk is full and which file could not be written.

    ``path``: what the failing store writes (an archive folder, a SQLite file), used when the
    error names no file of its own.
    """
    if is_server_side(exc):
        return f"the PostgreSQL server's disk is full ({first_line(exc)}); free space on it"
    target = file_of(exc) or (os.fspath(path) if path is not None else None)
    if target is None:
        return "no space left on device"
    return f"no space left on device: the disk of {target} is full: {describe_disk(target)}"


def _no_room(path: str | os.PathLike[str]) -> bool:
    """Whether the disk holding ``path`` has no free space left (for an unprivileged user)."""
    try:
        return os.statvfs(_existing(Path(path))).f_bavail == 0
    except OSError:
        return False


def store_error_line(exc: BaseException, path: str | os.PathLike[str] | None) -> str:
    """One line for a failed open or write of a store at ``path``: a full disk named as such.

    SQLite reports some writes on a full disk only as "disk I/O error" (the shared-memory file
    a WAL database needs even to be read, or a journal it cannot grow); that error, with no
    room left on the database's disk, is a full disk too.
    """
    if is_disk_full(exc):
        return no_space_message(exc, path)
    if path is not None and "disk i/o error" in first_line(exc).lower() and _no_room(path):
        return f"{no_space_message(exc, path)} ({first_line(exc)})"
    return first_line(exc)
