"""The cluster's commands: ``zhengwen worker``, ``zhengwen enqueue``, ``zhengwen status``.

Thin layers over `crawler.distributed` (docs/distributed.md). Like the other command modules,
this one does not import crawler.cli; it receives the shared options.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from crawler.bounds import NumberRange

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORAGE, EXIT_BUSY = 0, 1, 2, 3, 4  # as in crawler.cli
DEFAULT_PREFIX = "zhengwen"


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def redis_option(required: bool = True) -> Callable[[Any], Any]:
    def decorate(f: Any) -> Any:
        f = click.option(
            "--prefix",
            default=DEFAULT_PREFIX,
            show_default=True,
            envvar="ZHENGWEN_REDIS_PREFIX",
            help="Prefix of the cluster's Redis keys (two clusters may share one Redis).",
        )(f)
        return click.option(
            "--redis",
            "redis_url",
            required=required,
            envvar="ZHENGWEN_REDIS_URL",
            metavar="URL",
            help="Redis URL of the cluster (redis://host:6379/0); default $ZHENGWEN_REDIS_URL.",
        )(f)

    return decorate


def cluster_or_exit(redis_url: str, prefix: str) -> Any:
    """The cluster, reachable now, or exit 3 with one line."""
    import redis

    from crawler.distributed.cluster import Cluster
    from storage.paths import redact_url

    try:
        cluster = Cluster.from_url(redis_url, prefix)
        cluster.r.ping()
    except (redis.RedisError, ValueError) as exc:
        _fail(f"cannot reach Redis at {redact_url(redis_url)}: {exc}", EXIT_STORAGE)
    return cluster


def _db_url(archive: Path, db_url: str | None) -> str:
    from storage.paths import ArchivePaths

    return db_url or ArchivePaths(archive).default_db_url


def cluster_commands(
    archive_option: Callable[[Any], Any], db_option: Callable[[Any], Any]
) -> list[click.Command]:
    @click.command("worker")
    @redis_option()
    @db_option
    @archive_option
    @click.option(
        "--max-runs",
        type=click.IntRange(1, 64),
        default=4,
        show_default=True,
        help="Runs (sites) this worker works on at once.",
    )
    @click.option(
        "--concurrency",
        type=click.IntRange(1, 1024),
        default=None,
        help="Requests in flight in this worker at most (default: the project's 16); each "
        "site's own concurrency and delay hold for the whole cluster.",
    )
    @click.option(
        "--lease",
        "lease_seconds",
        type=NumberRange(5, 86_400).click_type(),
        default=120.0,
        show_default=True,
        metavar="SECONDS",
        help="A request taken by a worker that dies goes back to the queue after this long.",
    )
    @click.option(
        "--outage",
        "outage_seconds",
        type=NumberRange(1, 86_400).click_type(),
        default=600.0,
        show_default=True,
        metavar="SECONDS",
        help="How long Redis or the database may be unreachable before the worker gives up "
        "(meanwhile it waits, retrying with backoff, and loses nothing).",
    )
    @click.option(
        "--log-level",
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
        default="INFO",
        show_default=True,
        help="Log lines from this level up, on stderr.",
    )
    def worker(
        redis_url: str,
        prefix: str,
        db_url: str | None,
        archive: Path,
        max_runs: int,
        concurrency: int | None,
        lease_seconds: float,
        outage_seconds: float,
        log_level: str,
    ) -> None:
        """Work on the cluster's runs until stopped: take requests from Redis, fetch, extract,
        store into the shared database (--db) and this worker's archive folder.

        Start any number, on any machines. SIGTERM or Ctrl-C: the requests in flight are
        finished or handed back to the queue, then exit 0. See docs/distributed.md.

        Example: zhengwen worker --redis redis://10.0.0.5:6379/0 --db postgresql+psycopg://zw@10.0.0.5/zhengwen --archive /data/archive
        """
        from crawler.distributed.worker import Worker, WorkerOptions
        from crawler.runner import StorageUnavailable

        cluster_or_exit(redis_url, prefix)
        options = WorkerOptions(
            redis_url=redis_url,
            db_url=_db_url(archive, db_url),
            archive=archive,
            prefix=prefix,
            max_runs=max_runs,
            concurrency=concurrency,
            lease_seconds=lease_seconds,
            outage_seconds=outage_seconds,
            log_level=log_level,
        )
        try:
            code = Worker(options).run()
        except StorageUnavailable as exc:
            _fail(str(exc), EXIT_STORAGE)
        sys.exit(code)

    @click.command("enqueue")
    @click.argument("sites", nargs=-1, required=True)
    @redis_option()
    @db_option
    @archive_option
    @click.option(
        "--trigger",
        type=click.Choice(["manual", "schedule"]),
        default="manual",
        show_default=True,
        help="What the run record says started it.",
    )
    def enqueue(
        sites: tuple[str, ...],
        redis_url: str,
        prefix: str,
        db_url: str | None,
        archive: Path,
        trigger: str,
    ) -> None:
        """Start a run of each SITE on the cluster: its workers crawl it, this returns at once.

        SITES are names (sites/NAME.toml) or config paths. Prints one line per site with the
        run id (`zhengwen runs` shows the run). A site whose run is still going, on the cluster
        or as a local crawl, is not enqueued again (exit 4).

        Example: zhengwen enqueue fazhi people --redis redis://127.0.0.1:6379/0 --db postgresql+psycopg://zw@127.0.0.1/zhengwen
        """
        from crawler.config import ConfigError, resolve_site
        from crawler.distributed.cluster import enqueue as enqueue_run
        from crawler.lock import SiteLockHeld
        from crawler.runner import StorageUnavailable, check_storage
        from storage.paths import ArchivePaths

        try:
            configs = [resolve_site(s) for s in sites]
        except ConfigError as exc:
            _fail(str(exc), EXIT_USAGE)
        cluster = cluster_or_exit(redis_url, prefix)
        url = _db_url(archive, db_url)
        try:
            check_storage(ArchivePaths(archive), url)
        except StorageUnavailable as exc:
            _fail(str(exc), EXIT_STORAGE)
        busy = 0
        for site in configs:
            try:
                run_id = enqueue_run(
                    cluster, site, url, archive, redis_url=redis_url, trigger=trigger
                )
            except SiteLockHeld as exc:
                click.echo(f"error: {exc}", err=True)
                busy += 1
                continue
            click.echo(f"{site.name}: run {run_id} queued")
        if busy:
            sys.exit(EXIT_BUSY)

    @click.command("status")
    @redis_option()
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def status(redis_url: str, prefix: str, as_json: bool) -> None:
        """The cluster now: runs in progress with their queue depth (queued, in flight) and
        workers attached, each worker with its last heartbeat, and Redis memory used.

        Example: zhengwen status --redis redis://127.0.0.1:6379/0
        """
        cluster = cluster_or_exit(redis_url, prefix)
        runs = cluster.status()
        workers = cluster.workers()
        memory = cluster.r.info("memory").get("used_memory", 0)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "runs": [_asdict(r) for r in runs],
                        "workers": workers,
                        "redis_used_memory": memory,
                    },
                    indent=2,
                )
            )
            return
        click.echo(f"runs in progress: {len(runs)}")
        for r in runs:
            click.echo(
                f"  {r.site:<20} {r.run_id}  queued {r.queued:>7}  in flight {r.in_flight:>5}"
                f"  workers {r.members}  since {r.enqueued_at}"
            )
        alive = [w for w in workers if w["alive"]]
        click.echo(f"workers: {len(alive)} alive, {len(workers) - len(alive)} silent")
        for w in workers:
            state = "alive" if w["alive"] else "silent"
            click.echo(f"  {w['id']:<40} {state:<6} runs {len(w.get('runs', []))}")
        click.echo(f"redis memory: {memory / 1e6:.1f} MB")

    return [worker, enqueue, status]


def _asdict(value: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(value)
