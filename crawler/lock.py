"""One run per site at a time: a per-site lock that a killed process cannot leave behind.

The lock is ``fcntl.flock`` on ``<archive>/locks/<site>.lock``. The kernel drops a flock when
the last descriptor of its holder closes, which includes a SIGKILL or an OOM kill, so there is
no stale lock to detect, time out or clean up: whoever can take the lock may run. The file's
content (pid, host, trigger, start time) is only there to name the holder in the message a
second run prints; it is never trusted to decide anything, and the file is never deleted
(deleting a flock file lets two processes lock two different inodes of the same name).

Limit: a flock holds on one machine and one archive folder. Several machines sharing a
PostgreSQL database (``--db postgresql://...``) would each take their own file lock, so on
PostgreSQL the lock also takes a session-level ``pg_try_advisory_lock`` keyed by the site name.
PostgreSQL releases it when the holder's connection ends, dead process included. SQLite needs
nothing more: its file lives in the archive folder, as the lock does.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from crawler.config import NAME_RE

LOCKS_DIR: Final = "locks"
_ADVISORY_NAMESPACE: Final = "zhengwen/site/"


class SiteLockHeld(RuntimeError):
    """Another run of the site is in progress; the message names the holder, in one line."""

    def __init__(self, site: str, holder: str) -> None:
        self.site, self.holder = site, holder
        super().__init__(
            f"site {site} is already being crawled ({holder}); not starting a second run"
        )


def lock_path(archive: Path, site: str) -> Path:
    """``<archive>/locks/<site>.lock``; refuses a name that could leave the locks folder."""
    if not NAME_RE.match(site):
        raise ValueError(
            f"expected a site name of lowercase letters, digits, '-', '_', got {site!r}"
        )
    folder = Path(archive) / LOCKS_DIR
    path = folder / f"{site}.lock"
    # The name check already makes this impossible; kept because a lock file written outside
    # the archive (a symlinked path, a future change to NAME_RE) would truncate someone's file.
    if path.resolve().parent != folder.resolve():
        raise ValueError(f"lock file {path} would lie outside {folder}")
    return path


def advisory_key(site: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` (Python's hash() is salted)."""
    digest = hashlib.sha256((_ADVISORY_NAMESPACE + site).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def describe_holder(info: dict[str, Any]) -> str:
    """``pid 1234 on host, started 2026-…, trigger schedule`` from a lock file's JSON."""
    if not info:
        return "holder unknown: the lock was taken a moment ago"
    parts = [f"pid {info.get('pid', '?')} on {info.get('host', '?')}"]
    if info.get("started_at"):
        parts.append(f"started {info['started_at']}")
    if info.get("trigger"):
        parts.append(f"trigger {info['trigger']}")
    return ", ".join(parts)


class SiteLock:
    """Non-blocking exclusive lock of one site in one archive (and database, on PostgreSQL).

    Use as a context manager or call `acquire` / `release`. `acquire` raises `SiteLockHeld`
    at once when another process holds the lock: a scheduled run that finds the site busy
    should be skipped, not queued behind a crawl that may take an hour.
    """

    def __init__(
        self, archive: Path, site: str, *, trigger: str = "manual", db_url: str | None = None
    ) -> None:
        self.site = site
        self.path = lock_path(archive, site)
        self.trigger = trigger
        self.db_url = db_url
        self._fd: int | None = None
        self._pg: Any = None  # (engine, connection) while the advisory lock is held

    def acquire(self) -> SiteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # os.open descriptors are close-on-exec: crawl subprocesses and spawned extraction
        # workers never inherit the lock, so an orphaned worker cannot keep a site locked.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = describe_holder(_read_info(fd))
            os.close(fd)
            raise SiteLockHeld(self.site, holder) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        try:
            self._write_info(fd)
            if self.db_url is not None and self.db_url.startswith("postgresql"):
                self._acquire_advisory(self.db_url)
        except BaseException:
            self.release()
            raise
        return self

    def _write_info(self, fd: int) -> None:
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "trigger": self.trigger,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        data = json.dumps(info).encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)

    def _acquire_advisory(self, url: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        tag = f"zhengwen {self.site} {self.trigger} pid {os.getpid()}@{socket.gethostname()}"
        engine = create_engine(url, poolclass=NullPool, connect_args={"application_name": tag[:63]})
        conn = engine.connect()
        key = advisory_key(self.site)
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
            conn.commit()
            if not got:
                holder = _advisory_holder(conn, key)
                raise SiteLockHeld(self.site, holder)
        except BaseException:
            conn.close()
            engine.dispose()
            raise
        self._pg = (engine, conn)

    def release(self) -> None:
        """Idempotent. The file stays (see the module docstring); its content is cleared."""
        if self._pg is not None:
            engine, conn = self._pg
            self._pg = None
            try:
                conn.close()  # ends the session, which drops its advisory locks
            finally:
                engine.dispose()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> SiteLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_info(fd: int) -> dict[str, Any]:
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _advisory_holder(conn: Any, key: int) -> str:
    """Who holds the advisory lock, from pg_locks: a bigint key is split into classid/objid."""
    from sqlalchemy import text

    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        text(
            "SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l"
            " JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.classid::bigint = :hi AND l.objid::bigint = :lo LIMIT 1"
        ),
        {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF},
    ).first()
    if row is None:
        return "another process holds its PostgreSQL advisory lock"
    name, addr, since = row
    started = since.isoformat(timespec="seconds") if since is not None else "?"
    return f"{name or 'a PostgreSQL session'} from {addr or 'local socket'}, since {started}"
