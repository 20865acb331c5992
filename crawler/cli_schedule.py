"""The ``zhengwen schedule`` command; the rules live in crawler.schedule.

This module does not import crawler.cli: under ``python -m crawler.cli`` that module runs as
``__main__`` and an import would load a second copy. crawler.cli hands over its shared options.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from crawler.bounds import NumberRange
from crawler.config import ConfigError, default_sites_dirs

EXIT_USAGE = 2  # as in crawler.cli


def schedule_command(
    archive_option: Callable[[Any], Any], db_option: Callable[[Any], Any]
) -> click.Command:
    @click.command("schedule")
    @click.argument("sites", nargs=-1)
    @archive_option
    @db_option
    @click.option(
        "--max-parallel",
        type=click.IntRange(min=1, max=64),
        default=1,
        show_default=True,
        help="Crawls running at the same time at most (one per site in any case).",
    )
    @click.option(
        "--run-now",
        is_flag=True,
        help="Run every selected site once at start, then follow the schedule.",
    )
    @click.option(
        "--redis",
        "redis_url",
        default=None,
        metavar="URL",
        help="Enqueue each run on the cluster of workers at this Redis (as `zhengwen enqueue` "
        "does) instead of crawling here; --db must then be the cluster's PostgreSQL database.",
    )
    @click.option(
        "--prefix",
        default="zhengwen",
        show_default=True,
        envvar="ZHENGWEN_REDIS_PREFIX",
        help="With --redis: the prefix of the cluster's Redis keys.",
    )
    @click.option(
        "--stop-timeout",
        type=NumberRange(0, 86_400).click_type(),
        default=300.0,
        show_default=True,
        metavar="SECONDS",
        help="On SIGTERM/SIGINT, how long runs in flight may take to stop before SIGKILL.",
    )
    def schedule(
        sites: tuple[str, ...],
        archive: Path,
        db_url: str | None,
        max_parallel: int,
        run_now: bool,
        redis_url: str | None,
        prefix: str,
        stop_timeout: float,
    ) -> None:
        """Run scheduled crawls until stopped: each site at the times of its `schedule` key.

        SITES are site names or config paths, each with a `schedule` (cron, in the site's time
        zone); without SITES, every config in sites/ that has one. A site never runs twice at
        once (a time that comes while its run is still going is skipped), not even beside a
        `zhengwen crawl` started by hand. Runs are logged to stdout and archive/logs/schedule.log;
        SIGTERM or Ctrl-C stops launching, lets the runs in flight stop cleanly, and exits 0.

        With --redis, each run is enqueued on the cluster (docs/distributed.md) instead of
        crawled here; a run ends for the scheduler when the workers record its end, and
        stopping the scheduler leaves the runs it enqueued to the workers.

        Example: zhengwen schedule --archive archive --max-parallel 2
        """
        from crawler.schedule import (
            ScheduleError,
            ScheduleLog,
            Scheduler,
            SubprocessLauncher,
            install_stop_handlers,
            scheduled_sites,
        )

        try:
            selected = scheduled_sites(sites, default_sites_dirs())
        except (ConfigError, ScheduleError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        try:
            log = ScheduleLog(archive / "logs" / "schedule.log", click.echo)
        except OSError as exc:
            click.echo(f"error: cannot write the schedule log in {archive}: {exc}", err=True)
            sys.exit(3)
        wake = threading.Event()

        def now() -> datetime:
            return datetime.now(UTC)

        def sleep(seconds: float) -> None:
            wake.wait(seconds)
            wake.clear()

        launcher: Any = SubprocessLauncher(archive, db_url)
        if redis_url is not None:
            launcher = _cluster_launcher(redis_url, prefix, archive, db_url)
        scheduler = Scheduler(
            selected,
            launcher,
            now=now(),
            log=log,
            max_parallel=max_parallel,
            run_now=run_now,
        )
        install_stop_handlers(scheduler, wake.set)
        log(
            f"schedule started (pid {os.getpid()}): {len(selected)} site(s), max {max_parallel} at once"
        )
        try:
            scheduler.run(now, sleep, stop_timeout=stop_timeout)
        finally:
            if hasattr(launcher, "close"):
                launcher.close()
            log.close()

    return schedule


def _cluster_launcher(redis_url: str, prefix: str, archive: Path, db_url: str | None) -> Any:
    """The cluster's launcher, its Redis and database checked now (exit 3 with one line)."""
    from crawler.cli_distributed import cluster_or_exit
    from crawler.distributed.launch import ClusterLauncher
    from crawler.runner import StorageUnavailable, check_storage
    from storage.paths import ArchivePaths

    paths = ArchivePaths(archive)
    url = db_url or paths.default_db_url
    cluster_or_exit(redis_url, prefix)
    try:
        check_storage(paths, url)
    except StorageUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    return ClusterLauncher(redis_url, prefix, archive, url)
