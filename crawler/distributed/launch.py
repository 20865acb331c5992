"""``zhengwen schedule --redis``: scheduled runs enqueued on the cluster instead of started here.

The scheduler's rules (crawler.schedule) do not change: a `ClusterLauncher` is the launcher, a
`ClusterRun` the handle. A run "ends" for the scheduler when its ``crawl_runs`` row is no
longer ``running`` (the workers write it, crawler.distributed.cluster.finish); its exit code is
0 for ``ok``, 1 otherwise. Stopping the scheduler leaves the runs it enqueued to the workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.config import SiteConfig
from crawler.schedule import LaunchError
from storage.db import Database, RunInfo

EXIT_CODES = {"ok": 0}


class ClusterRun:
    def __init__(self, site: str, run_id: str, db: Database) -> None:
        self.site = site
        self.run_id = run_id
        self.label = f"cluster run {run_id}"
        self.detached = True
        self.pid = 0
        self.db = db
        self.info: RunInfo | None = None

    def poll(self) -> int | None:
        try:
            info = self.db.run(self.run_id)
        except Exception:  # the database is away: the run is still going as far as we know
            return None
        if info is None or info.status == "running":
            return None
        self.info = info
        return EXIT_CODES.get(info.status, 1)

    def interrupt(self) -> None:
        """Not ours to stop: the scheduler leaves it (``detached``)."""

    def kill(self) -> None:
        """As `interrupt`."""

    def summary(self) -> str:
        if self.info is None:
            return f"{self.site}: still running on the cluster"
        c = self.info.counters
        return (
            f"{self.site}: {self.info.status}: fetched {c.get('pages_fetched', 0)} pages; "
            f"articles {c.get('articles_new', 0)} new, {c.get('articles_changed', 0)} changed, "
            f"{c.get('articles_unchanged', 0)} unchanged ({c.get('finish_reason', '?')})"
        )


@dataclass
class ClusterLauncher:
    """Enqueues a run of the site on the cluster (`crawler.distributed.cluster.enqueue`)."""

    redis_url: str = field(repr=False)
    prefix: str
    archive: Path
    db_url: str = field(repr=False)
    _cluster: Any = field(default=None, repr=False)
    _db: Database | None = field(default=None, repr=False)

    def __call__(self, site: SiteConfig) -> ClusterRun:
        import redis

        from crawler.distributed.cluster import Cluster, enqueue
        from crawler.lock import SiteLockHeld

        if self._cluster is None:
            self._cluster = Cluster.from_url(self.redis_url, self.prefix)
        if self._db is None:
            self._db = Database(self.db_url)
        try:
            run_id = enqueue(
                self._cluster,
                site,
                self.db_url,
                self.archive,
                redis_url=self.redis_url,
                trigger="schedule",
            )
        except SiteLockHeld as exc:
            raise LaunchError(str(exc)) from exc
        except redis.RedisError as exc:
            raise LaunchError(f"cannot reach Redis: {exc}") from exc
        except Exception as exc:
            from storage.outage import database_transient

            if database_transient(exc):
                raise LaunchError(f"cannot reach the database: {exc}") from exc
            raise
        return ClusterRun(site.name, run_id, self._db)

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
