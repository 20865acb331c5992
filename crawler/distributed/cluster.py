"""The cluster's state in Redis: runs (jobs), their queues, workers, and how a run ends.

A run of a site on the cluster is created by `enqueue` (``zhengwen enqueue`` and
``zhengwen schedule --redis``): a ``crawl_runs`` row in the shared database (status ``running``,
``counters.cluster`` naming the Redis, so a local ``zhengwen crawl`` of the site refuses to start
and does not take the row for a dead run), a job record in Redis and one seed request in the
run's leased queue. Whichever worker takes the seed runs the spider's start (start URLs,
robots.txt, sitemaps, feeds, re-checks) and everything else follows from the queue.

Keys, all under the prefix (default ``zhengwen``):

- ``P:jobs``: set of the run ids in progress; ``P:job:RUN``: the job (site config as JSON, …);
- ``P:site:SITE``: the run id holding the site (the cluster's same-site lock);
- ``{P:run:RUN}:*``: the run's leased request queue (`crawler.distributed.leases`) and, in the
  same hash slot, ``{P:run:RUN}:dupefilter``: request fingerprints seen (scrapy-redis's
  dupefilter; a new request is marked seen and queued in one step);
- ``P:run:RUN:stats:SENDER`` (one per crawler that worked on the run, listed in ``:senders``) /
  ``:gauges`` / ``:notes``: the workers' counters (running totals, summed at the end) / maxed /
  texts;
- ``P:run:RUN:members``: worker id -> last heartbeat (Redis server time, s);
- ``P:run:RUN:shared``, ``:held``, ``:probes``: what the spider decides once per run (list pages
  held until discovery has spoken, default-sitemap probes), shared by the run's workers;
- ``P:workers``: worker id -> JSON (host, pid, started, last heartbeat, runs).

A run ends when its queue is drained (nothing queued, nothing leased), its once-per-run decisions
are made and no live worker is still attached: the worker that sees this first (``SET NX``)
writes the summed counters and the status into ``crawl_runs`` and deletes the run's keys.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from crawler.config import Politeness, SiteConfig
from crawler.distributed.leases import LeaseQueue
from crawler.lock import SiteLock, SiteLockHeld
from storage.db import Database
from storage.paths import redact_url

#: A worker's heartbeat period, and how long after its last one it counts as gone.
HEARTBEAT_SECONDS = 1.0
MEMBER_TTL_SECONDS = 10.0
#: The seed request: a ``data:`` URL (no network, no politeness slot) whose callback runs the
#: spider's start in the worker that takes it.
SEED_URL = "data:,zhengwen-run-start"
SEED_PRIORITY = 100
#: Stats that are levels, not counts: the run keeps the largest any worker reported.
GAUGES = frozenset(
    {
        "zhengwen/incremental/known",
        "zhengwen/raw/files",
        "zhengwen/extract/worker_restarts",
        "zhengwen/discovery/learn/shapes",
        "memusage/max",
        "memusage/startup",
    }
)
#: Text stats kept per run (the first worker to set one wins): why a worker halted.
NOTES = ("zhengwen/halt", "zhengwen/halt_detail")


class ClusterError(RuntimeError):
    """Redis cannot be used (unreachable, or it holds something else); one line."""


def site_to_json(site: SiteConfig) -> str:
    return json.dumps(dataclasses.asdict(site), ensure_ascii=False)


def site_from_json(text: str) -> SiteConfig:
    data = json.loads(text)
    fields = {f.name: f for f in dataclasses.fields(SiteConfig)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            continue  # a newer enqueuer's field: this worker does not know it
        if key == "politeness":
            value = Politeness(**value)
        elif isinstance(value, list):
            value = tuple(value)
        values[key] = value
    return SiteConfig(**values)


@dataclass(frozen=True, slots=True)
class Job:
    run_id: str
    site: SiteConfig
    trigger: str
    enqueued_at: str


@dataclass(frozen=True, slots=True)
class RunStatus:
    run_id: str
    site: str
    queued: int
    in_flight: int
    members: int
    enqueued_at: str


class Cluster:
    """Names and operations of the cluster's Redis state (see the module docstring)."""

    def __init__(self, client: redis.Redis, prefix: str = "zhengwen") -> None:
        self.r = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "zhengwen") -> Cluster:
        # Timeouts: a worker must notice a Redis outage (and back off), not hang on a socket.
        client = redis.Redis.from_url(
            url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=15
        )
        return cls(client, prefix)

    # --- names ----------------------------------------------------------------------------------

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def run_key(self, run_id: str, part: str) -> str:
        return self.key("run", run_id, part)

    def queue(self, run_id: str) -> LeaseQueue:
        return LeaseQueue(self.r, self.key("run", run_id))

    def dupefilter_key(self, run_id: str) -> str:
        """In the queue's hash slot: a request is marked seen and queued in one script."""
        return self.queue(run_id).seen_key()

    # --- jobs -----------------------------------------------------------------------------------

    def run_ids(self) -> list[str]:
        return sorted(m.decode() for m in self.r.smembers(self.key("jobs")))  # type: ignore[union-attr]

    def job(self, run_id: str) -> Job | None:
        raw: dict[bytes, bytes] = self.r.hgetall(self.key("job", run_id))  # type: ignore[assignment]
        if not raw:
            return None
        data = {k.decode(): v.decode() for k, v in raw.items()}
        return Job(run_id, site_from_json(data["site"]), data["trigger"], data["enqueued_at"])

    def site_holder(self, site: str) -> str | None:
        value = self.r.get(self.key("site", site))
        return value.decode() if isinstance(value, bytes) else None

    def status(self) -> list[RunStatus]:
        out = []
        now = self.server_time()
        for run_id in self.run_ids():
            job = self.job(run_id)
            q = self.queue(run_id)
            out.append(
                RunStatus(
                    run_id,
                    job.site.name if job else "?",
                    q.pending(run_id),
                    q.in_flight(run_id),
                    len(self.live_members(run_id, now)),
                    job.enqueued_at if job else "?",
                )
            )
        return out

    def workers(self) -> list[dict[str, Any]]:
        now = self.server_time()
        out = []
        raw_workers: dict[bytes, bytes] = self.r.hgetall(self.key("workers"))  # type: ignore[assignment]
        for worker_id, raw in raw_workers.items():
            info = json.loads(raw)
            info["id"] = worker_id.decode()
            info["alive"] = now - float(info.get("seen", 0)) <= MEMBER_TTL_SECONDS
            out.append(info)
        return sorted(out, key=lambda i: str(i["id"]))

    def server_time(self) -> float:
        seconds, micros = self.r.time()
        return float(seconds) + float(micros) / 1e6

    # --- membership -----------------------------------------------------------------------------

    def heartbeat(self, worker_id: str, info: Mapping[str, Any], runs: list[str]) -> None:
        now = self.server_time()
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(self.key("workers"), worker_id, json.dumps({**info, "seen": now, "runs": runs}))
        for run_id in runs:
            pipe.hset(self.run_key(run_id, "members"), worker_id, now)
        pipe.execute()

    def join(self, run_id: str, worker_id: str) -> None:
        self.r.hset(self.run_key(run_id, "members"), worker_id, self.server_time())

    def leave(self, run_id: str, worker_id: str) -> None:
        self.r.hdel(self.run_key(run_id, "members"), worker_id)

    def forget_worker(self, worker_id: str) -> None:
        self.r.hdel(self.key("workers"), worker_id)

    def live_members(self, run_id: str, now: float | None = None) -> list[str]:
        now = self.server_time() if now is None else now
        members: dict[bytes, bytes] = self.r.hgetall(self.run_key(run_id, "members"))  # type: ignore[assignment]
        return [
            w.decode() for w, seen in members.items() if now - float(seen) <= MEMBER_TTL_SECONDS
        ]

    # --- counters -------------------------------------------------------------------------------

    def add_stats(
        self, run_id: str, sender: str, totals: Mapping[str, int], gauges: Mapping[str, int]
    ) -> None:
        """Record one crawler's counters so far (``totals``: its own running totals, not
        increments) and raise the run's gauges. Setting totals is idempotent: a send retried
        after a lost reply (a Redis restart) counts nothing twice. The run's counters are the
        sums over its senders (`run_stats`)."""
        pipe = self.r.pipeline(transaction=True)
        pipe.sadd(self.run_key(run_id, "senders"), sender)
        if totals:
            mapping: dict[Any, Any] = dict(totals)
            pipe.hset(self.run_key(run_id, f"stats:{sender}"), mapping=mapping)
        for key, value in gauges.items():
            pipe.eval(_MAX, 1, self.run_key(run_id, "gauges"), key, value)
        pipe.execute()

    def _senders(self, run_id: str) -> list[str]:
        raw: set[bytes] = self.r.smembers(self.run_key(run_id, "senders"))  # type: ignore[assignment]
        return sorted(m.decode() for m in raw)

    def note(self, run_id: str, key: str, value: str) -> None:
        self.r.hsetnx(self.run_key(run_id, "notes"), key, value)

    def run_stats(self, run_id: str) -> dict[str, Any]:
        stats: dict[str, Any] = {}
        for sender in self._senders(run_id):
            raw: dict[bytes, bytes] = self.r.hgetall(self.run_key(run_id, f"stats:{sender}"))  # type: ignore[assignment]
            for k, v in raw.items():
                stats[k.decode()] = stats.get(k.decode(), 0) + int(v)
        gauges: dict[bytes, bytes] = self.r.hgetall(self.run_key(run_id, "gauges"))  # type: ignore[assignment]
        stats.update({k.decode(): int(v) for k, v in gauges.items()})
        notes: dict[bytes, bytes] = self.r.hgetall(self.run_key(run_id, "notes"))  # type: ignore[assignment]
        stats.update({k.decode(): v.decode() for k, v in notes.items()})
        return stats

    # --- once-per-run decisions -----------------------------------------------------------------

    def shared(self, run_id: str, field: str) -> bool:
        return bool(self.r.hget(self.run_key(run_id, "shared"), field))

    def set_shared(self, run_id: str, field: str) -> None:
        self.r.hset(self.run_key(run_id, "shared"), field, "1")

    def decided(self, run_id: str) -> bool:
        """The run's held list pages were walked or dropped: nothing more is decided at idle."""
        return self.shared(run_id, "lists")

    def drained(self, run_id: str) -> bool:
        return self.queue(run_id).drained(run_id)

    def finished(self, run_id: str, now: float | None = None) -> bool:
        """Nothing queued or leased, nothing left to decide, no live worker attached."""
        return self.drained(run_id) and self.decided(run_id) and not self.live_members(run_id, now)

    def run_keys(self, run_id: str) -> Iterator[str]:
        yield from self.queue(run_id).keys()
        for sender in self._senders(run_id):
            yield self.run_key(run_id, f"stats:{sender}")
        for part in ("senders", "gauges", "notes", "members", "shared", "held"):
            yield self.run_key(run_id, part)
        for part in ("probes", "issued", "finishing", "phase"):
            yield self.run_key(run_id, part)
        yield self.key("job", run_id)

    def drop_run(self, run_id: str, site: str) -> None:
        """Delete what the run kept in Redis and free its site."""
        self.r.delete(*self.run_keys(run_id))
        self.r.srem(self.key("jobs"), run_id)
        self.r.eval(_DEL_IF, 1, self.key("site", site), run_id)


# A gauge keeps the largest value reported.
_MAX = """
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if tonumber(ARGV[2]) > old then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""
# Free the site only if this run holds it.
_DEL_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def cluster_marker(redis_url: str, prefix: str) -> dict[str, str]:
    """What a cluster run's ``crawl_runs.counters`` says while it runs."""
    return {"redis": redact_url(redis_url), "prefix": prefix}


def enqueue(
    cluster: Cluster,
    site: SiteConfig,
    db_url: str,
    archive: Any,
    *,
    redis_url: str,
    trigger: str = "manual",
) -> str:
    """Start a run of ``site`` on the cluster; returns its run id. Raises SiteLockHeld when the
    site has a run in progress (on the cluster, or a local ``zhengwen crawl`` of the same
    database)."""
    from crawler.extensions import settings_digest
    from crawler.spiders.portal import PortalSpider

    site_key = cluster.key("site", site.name)
    placeholder = f"enqueueing:{os.getpid()}@{socket.gethostname()}"
    if not cluster.r.set(site_key, placeholder, nx=True):
        holder = cluster.site_holder(site.name) or "?"
        raise SiteLockHeld(site.name, f"cluster run {holder} on {redact_url(redis_url)}")
    try:
        # A local crawl of the site on this database holds the lock for its whole run: taking
        # it for a moment proves there is none, and none can start while the row is written.
        with SiteLock(archive, site.name, trigger=trigger, db_url=db_url):
            with Database(db_url) as db:
                db.create_schema()
                db.interrupt_stale_runs(site.name)
                run_id = db.start_run(
                    site.name,
                    trigger,
                    settings_digest(site, None),
                    counters={"cluster": cluster_marker(redis_url, cluster.prefix)},
                )
        seed: dict[str, Any] = {
            "url": SEED_URL,
            "callback": "parse_seed",
            "errback": None,
            "method": "GET",
            "headers": {},
            "body": b"",
            "cookies": {},
            "meta": {"kind": "seed"},
            "encoding": "utf-8",
            "priority": SEED_PRIORITY,
            "dont_filter": True,
            "flags": [],
            "cb_kwargs": {},
        }
        from crawler.distributed import serialize

        pipe = cluster.r.pipeline(transaction=True)
        pipe.hset(
            cluster.key("job", run_id),
            mapping={
                "site": site_to_json(site),
                "trigger": trigger,
                "enqueued_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "spider": PortalSpider.name,
            },
        )
        pipe.set(site_key, run_id)
        pipe.execute()
        cluster.queue(run_id).push(run_id, [serialize.dumps(seed)], priority=SEED_PRIORITY)
        cluster.r.sadd(cluster.key("jobs"), run_id)
        return run_id
    except BaseException:
        cluster.r.eval(_DEL_IF, 1, site_key, placeholder)
        raise


def finish(cluster: Cluster, run_id: str, db_url: str, *, reason: str = "finished") -> str | None:
    """Write the run's end into ``crawl_runs`` once (the first caller wins); returns the status,
    or None when another worker is finishing it or it is not finished."""
    from crawler.extensions import record_end

    if not cluster.r.set(cluster.run_key(run_id, "finishing"), "1", nx=True, ex=120):
        return None
    try:
        job = cluster.job(run_id)
        site = job.site.name if job is not None else None
        stats = cluster.run_stats(run_id)
        with Database(db_url) as db:
            if site is None:
                site = next((r.site for r in db.runs(limit=500) if r.id == run_id), None)
            if site is None:  # neither Redis nor the database know it: only the keys go
                cluster.r.srem(cluster.key("jobs"), run_id)
                return None
            _count_from_archive(db, run_id, stats)
            status = record_end(db, site, run_id, reason, stats)
    except BaseException:
        # The database (or Redis) is away: the next worker's tick tries again.
        cluster.r.delete(cluster.run_key(run_id, "finishing"))
        raise
    cluster.drop_run(run_id, site)
    return status


def _count_from_archive(db: Database, run_id: str, stats: dict[str, Any]) -> None:
    """New and changed articles as the archive took them. The workers' own counts come from
    each worker's dedupe step, which knows the archive as it was when the worker joined: a
    page fetched again after its lease ran out (a worker stalled or killed) would count as new
    twice. The versions the run stored are exact; the difference is counted unchanged."""
    new, changed = db.versions_of_run(run_id)
    counted = int(stats.get("zhengwen/articles/new", 0)) + int(
        stats.get("zhengwen/articles/changed", 0)
    )
    stats["zhengwen/articles/new"] = new
    stats["zhengwen/articles/changed"] = changed
    extra = max(0, counted - new - changed)
    stats["zhengwen/articles/unchanged"] = int(stats.get("zhengwen/articles/unchanged", 0)) + extra


def worker_info() -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": time.time(),
    }
