"""`zhengwen schedule`: run every scheduled site at its cron times, one run per site at a time.

Each run is a subprocess (``python -m crawler.cli crawl ... --trigger schedule``) because
Twisted's reactor cannot be restarted in one process, and because a crashed or hung crawl must
not take the scheduler down with it. The crawl takes the site's lock itself (crawler.lock), so
a run started by hand or by system cron is respected too: the scheduled run then exits with
code 4 and the log says so.

The `Scheduler` holds no clock and starts no process itself: `tick(now)` is given the time and
a launcher starts runs, so the timing rules are tested with a fake clock in milliseconds, and
the command wires in the wall clock, a signal-aware sleep and `SubprocessLauncher`.

Timing rules:
- a site's times come from its cron expression in the site's time zone (cronsim, DST-aware);
- a time that comes while the site's previous run is still going is skipped and logged, never
  queued: the next run starts at the next time;
- at most ``max_parallel`` runs at once; a due site waits for a free slot (in due order);
- after a pause (suspend, a long run), missed times collapse into one run, not a burst.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final, Protocol
from zoneinfo import ZoneInfo

from crawler.config import ConfigError, SiteConfig, load_site_file, resolve_site

MAX_IDLE_WAIT: Final = 60.0
"""Longest sleep between checks, so a wall-clock jump (suspend, NTP step) is noticed soon."""


class ScheduleError(ValueError):
    """The sites cannot be scheduled as asked; the message is one line for the user."""


def next_time(expression: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that matches, in UTC.

    Computed in the site's zone so that ``0 6 * * *`` means 06:00 on the portal's clock (and
    cronsim handles DST gaps and repeats there), whatever zone the machine runs in.
    """
    from cronsim import CronSim

    local = after.astimezone(ZoneInfo(timezone))
    return next(CronSim(expression, local)).astimezone(UTC)


def scheduled_sites(names: Sequence[str], sites_dirs: Iterable[Path]) -> list[SiteConfig]:
    """The named sites (each must have a schedule) or, with no names, every site config in the
    sites folders that has one. Raises ScheduleError naming every config that cannot be used
    (``; ``-separated, one line), not only the first: the user fixes them in one pass."""
    dirs = list(sites_dirs)
    found: dict[str, SiteConfig] = {}
    problems: list[str] = []
    if names:
        for name in names:
            try:
                site = resolve_site(name, dirs)
            except ConfigError as exc:
                problems.append(str(exc))
                continue
            if site.schedule is None:
                problems.append(
                    f"{site.path}: schedule: site {site.name} has no cron expression (add e.g. "
                    'schedule = "0 */2 * * *" or crawl it with `zhengwen crawl`)'
                )
                continue
            found.setdefault(site.name, site)
    else:
        for folder in dirs:
            for path in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
                try:
                    site = load_site_file(path)
                except ConfigError as exc:
                    problems.append(str(exc))
                    continue
                if site.schedule is not None:
                    found.setdefault(site.name, site)  # first folder wins, as in resolve_site
    if problems:
        raise ScheduleError("; ".join(problems))
    if not found:
        where = ", ".join(str(d) for d in dirs)
        raise ScheduleError(f"no site config with a schedule in {where}")
    return list(found.values())


# -- runs ------------------------------------------------------------------------------------


class LaunchError(Exception):
    """A run could not be started (the message says why); the scheduler logs it and goes on."""


class RunHandle(Protocol):
    """One launched run, as the scheduler sees it."""

    #: How the log names the run: "pid 1234", "cluster run <id>".
    label: str
    #: True when the run belongs to something that outlives the scheduler (a cluster's
    #: workers): a stopping scheduler leaves it running instead of interrupting it.
    detached: bool

    def poll(self) -> int | None:
        """The exit code once the run has ended, else None."""

    def interrupt(self) -> None:
        """Ask for a graceful stop (the crawl finishes in-flight requests and records itself)."""

    def kill(self) -> None: ...

    def summary(self) -> str:
        """The run's one-line summary (or its error line), once it has ended."""


Launcher = Callable[[SiteConfig], RunHandle]

#: Environment variable that `zhengwen crawl --db` falls back to.
DB_URL_ENV = "ZHENGWEN_DB_URL"


class ProcessRun:
    """A `zhengwen crawl` subprocess; its output goes to temp files, read when it ends (a pipe
    could fill up and block a crawl that nobody reads while it runs)."""

    def __init__(self, site: str, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.site = site
        self._out: IO[bytes] = tempfile.TemporaryFile()
        self._err: IO[bytes] = tempfile.TemporaryFile()
        # A new session: a Ctrl-C in the scheduler's terminal reaches the scheduler only, which
        # forwards exactly one SIGINT (a second one makes Scrapy stop uncleanly).
        self.process = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
            start_new_session=True,
            env={**os.environ, **env} if env else None,
        )
        self.pid = self.process.pid
        self.label = f"pid {self.pid}"
        self.detached = False

    def poll(self) -> int | None:
        return self.process.poll()

    def interrupt(self) -> None:
        self._signal(signal.SIGINT)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        if self.process.poll() is None:
            try:
                self.process.send_signal(signum)
            except ProcessLookupError:
                pass

    def summary(self) -> str:
        out, err = _read_all(self._out), _read_all(self._err)
        self._out.close()
        self._err.close()
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        for line in reversed(lines):
            if line.startswith(f"{self.site}: "):
                return line
        errors = [line.strip() for line in err.splitlines() if line.startswith("error: ")]
        if errors:
            return errors[-1]
        tail = [line.strip() for line in err.splitlines() if line.strip()]
        return tail[-1] if tail else "no summary"


def _read_all(f: IO[bytes]) -> str:
    f.seek(0)
    return f.read().decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class SubprocessLauncher:
    """Starts ``python -m crawler.cli crawl CONFIG --trigger schedule --quiet`` per run."""

    archive: Path
    db_url: str | None = field(default=None, repr=False)  # may hold a password
    python: str = sys.executable

    def command(self, site: SiteConfig) -> list[str]:
        if site.path is None:
            raise ScheduleError(f"site {site.name} has no config file to hand to a subprocess")
        args = [
            self.python,
            "-m",
            "crawler.cli",
            "crawl",
            os.path.abspath(site.path),
            "--archive",
            str(self.archive.absolute()),
            "--trigger",
            "schedule",
            "--quiet",
        ]
        return args

    def env(self) -> dict[str, str]:
        """The database URL goes to the crawl in its environment (``ZHENGWEN_DB_URL``, which
        ``--db`` reads), not on its command line, where ``ps`` would show its password."""
        return {DB_URL_ENV: self.db_url} if self.db_url is not None else {}

    def __call__(self, site: SiteConfig) -> RunHandle:
        return ProcessRun(site.name, self.command(site), self.env())


# -- the scheduler ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Active:
    site: SiteConfig
    handle: RunHandle
    started: datetime


def _local(site: SiteConfig, when: datetime) -> str:
    return when.astimezone(ZoneInfo(site.timezone)).isoformat(timespec="seconds")


class Scheduler:
    """Decides which site runs when; see the module docstring for the rules."""

    def __init__(
        self,
        sites: Sequence[SiteConfig],
        launch: Launcher,
        *,
        now: datetime,
        log: Callable[[str], None],
        max_parallel: int = 1,
        run_now: bool = False,
    ) -> None:
        if max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
        for site in sites:
            if site.schedule is None:
                raise ScheduleError(f"site {site.name} has no schedule")
        self.sites = {s.name: s for s in sites}
        self.launch = launch
        self.log = log
        self.max_parallel = max_parallel
        self.next_due: dict[str, datetime] = {
            name: now if run_now else self._after(site, now) for name, site in self.sites.items()
        }
        self.waiting: list[tuple[str, datetime]] = []
        self.active: dict[str, _Active] = {}
        self.stopping = False
        self.stop_requests = 0
        self._interrupts_sent = 0
        self.kill_at: datetime | None = None

    @staticmethod
    def _after(site: SiteConfig, when: datetime) -> datetime:
        assert site.schedule is not None
        return next_time(site.schedule, site.timezone, when)

    def tick(self, now: datetime) -> None:
        """Reap ended runs, then (unless stopping) queue due sites and launch what fits."""
        self._reap(now)
        if self.stopping:
            return
        for name in sorted(self.next_due, key=lambda n: (self.next_due[n], n)):
            due = self.next_due[name]
            if due > now:
                continue
            site = self.sites[name]
            self.next_due[name] = self._after(site, now)
            if name in self.active:
                run = self.active[name]
                self.log(
                    f"skip {name}: due {_local(site, due)} while the run started "
                    f"{_local(site, run.started)} ({run.handle.label}) is still going"
                )
            elif any(n == name for n, _ in self.waiting):
                self.log(f"skip {name}: due {_local(site, due)} while still waiting for a slot")
            else:
                self.waiting.append((name, due))
        while self.waiting and len(self.active) < self.max_parallel:
            name, due = self.waiting.pop(0)
            self._start(name, due, now)

    def _start(self, name: str, due: datetime, now: datetime) -> None:
        site = self.sites[name]
        try:
            handle = self.launch(site)
        except OSError as exc:
            self.log(f"error {name}: cannot start the crawl: {exc.strerror or exc}")
            return
        except LaunchError as exc:
            self.log(f"error {name}: cannot start the crawl: {exc}")
            return
        self.active[name] = _Active(site, handle, now)
        self.log(
            f"start {name} ({handle.label}, due {_local(site, due)}); "
            f"next {_local(site, self.next_due[name])}"
        )

    def _reap(self, now: datetime) -> None:
        for name, run in list(self.active.items()):
            code = run.handle.poll()
            if code is None:
                continue
            del self.active[name]
            secs = (now - run.started).total_seconds()
            what = "exit" if code >= 0 else "killed by signal"
            self.log(
                f"end {name} ({run.handle.label}) {what} {abs(code)} in {secs:.0f}s: "
                f"{run.handle.summary()}"
            )

    def request_stop(self) -> None:
        """Called from a signal handler: only counts; `step` acts on it in the main loop."""
        self.stop_requests += 1

    def step(self, now: datetime, stop_timeout: float) -> bool:
        """One pass of the main loop; False once stopped with no run left in flight."""
        if self.stop_requests and not self.stopping:
            self.stopping = True
            self.waiting.clear()
            for name, run in list(self.active.items()):
                if run.handle.detached:
                    del self.active[name]
                    self.log(f"leave {name} ({run.handle.label}) running: it is not ours to stop")
            self.kill_at = datetime.fromtimestamp(now.timestamp() + stop_timeout, UTC)
            self.log(
                f"stopping: no new runs; interrupting {len(self.active)} run(s) in flight "
                f"(killed after {stop_timeout:.0f}s)"
            )
        if self.stopping and self._interrupts_sent < min(self.stop_requests, 2):
            # A second signal is forwarded too: Scrapy then stops without waiting for requests.
            self._interrupts_sent += 1
            for run in self.active.values():
                run.handle.interrupt()
        self.tick(now)
        if self.stopping and self.active and self.kill_at is not None and now >= self.kill_at:
            for name, run in self.active.items():
                self.log(f"kill {name} ({run.handle.label}): still running after the timeout")
                run.handle.kill()
        if self.stopping and not self.active:
            self.log("stopped")
            return False
        return True

    def seconds_to_wait(self, now: datetime, poll: float) -> float:
        """Poll while runs are in flight (to log their end promptly), else sleep until the next
        due time, at most MAX_IDLE_WAIT."""
        if self.active or self.stopping or self.waiting:
            return poll
        if not self.next_due:
            return MAX_IDLE_WAIT
        soonest = min(self.next_due.values())
        return max(0.0, min(MAX_IDLE_WAIT, (soonest - now).total_seconds()))

    def run(
        self,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None],
        *,
        poll: float = 1.0,
        stop_timeout: float = 300.0,
    ) -> None:
        """Until stopped (`request_stop`) and every run in flight has ended."""
        for name, due in sorted(self.next_due.items(), key=lambda item: (item[1], item[0])):
            self.log(
                f"scheduled {name} ({self.sites[name].schedule}): first {_local(self.sites[name], due)}"
            )
        while self.step(clock(), stop_timeout):
            sleep(self.seconds_to_wait(clock(), poll))


class ScheduleLog:
    """Timestamped lines to stdout and to ``archive/logs/schedule.log`` (appended, flushed per
    line, so `tail -f` and a crash both see every line)."""

    def __init__(self, path: Path, echo: Callable[[str], None]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.echo = echo
        self._file = path.open("a", encoding="utf-8")

    def __call__(self, message: str) -> None:
        line = f"{datetime.now(UTC).isoformat(timespec='seconds')} {message}"
        self._file.write(line + "\n")
        self._file.flush()
        self.echo(line)

    def close(self) -> None:
        self._file.close()


def install_stop_handlers(scheduler: Scheduler, wake: Callable[[], None]) -> None:
    """SIGTERM (service managers, `kill`) and SIGINT (Ctrl-C) ask for a clean stop."""

    def handler(signum: int, _frame: object) -> None:
        scheduler.request_stop()
        wake()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
