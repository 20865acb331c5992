"""crawler.schedule: cron times in the site's zone, one run per site, the parallel limit, a clean
stop; then `zhengwen schedule --run-now` end to end, stopped by SIGTERM mid-run."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crawler.config import SiteConfig, parse_site
from crawler.demo.server import PortalServer
from crawler.lock import SiteLock
from crawler.schedule import ScheduleError, Scheduler, next_time, scheduled_sites
from storage.db import Database
from storage.paths import ArchivePaths
from tests.test_crawl_lock import article_requests, server, slow_site, wait_for

__all__ = ["server"]  # the demo portal fixture, shared with test_crawl_lock

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # 06:00 on 2 March in Shanghai


def site(name: str, schedule: str | None, timezone: str = "Asia/Shanghai") -> SiteConfig:
    data = {
        "name": name,
        "start_urls": [f"http://127.0.0.1:1/{name}/"],
        "timezone": timezone,
        "urls": {"article": ["/a/"]},
    }
    if schedule is not None:
        data["schedule"] = schedule
    return parse_site(data, f"{name}.toml")


class FakeRun:
    """A run that ends when the test says so; records the signals it was sent."""

    pids = iter(range(1000, 100000))

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.pid = next(self.pids)
        self.label = f"pid {self.pid}"
        self.detached = False
        self.code: int | None = None
        self.interrupts = 0
        self.killed = False
        self.obeys_interrupt = True
        self.started: datetime | None = None

    def poll(self) -> int | None:
        return self.code

    def interrupt(self) -> None:
        self.interrupts += 1
        if self.obeys_interrupt:
            self.code = 0

    def kill(self) -> None:
        self.killed = True
        self.code = -9

    def summary(self) -> str:
        return f"{self.site.name}: ok"


class Harness:
    def __init__(
        self, sites: list[SiteConfig], clock: list[datetime] | None = None, **kwargs: object
    ) -> None:
        self.clock = clock
        self.launched: list[FakeRun] = []
        self.lines: list[str] = []
        self.max_seen = 0
        self.scheduler = Scheduler(
            sites,
            self.launch,
            now=T0,
            log=self.lines.append,
            **kwargs,  # type: ignore[arg-type]
        )

    def launch(self, s: SiteConfig) -> FakeRun:
        run = FakeRun(s)
        run.started = self.clock[0] if self.clock else None
        self.launched.append(run)
        self.max_seen = max(self.max_seen, len(self.scheduler.active) + 1)
        return run

    def names(self) -> list[str]:
        return [r.site.name for r in self.launched]


def test_next_time_is_on_the_sites_clock() -> None:
    # 06:30 in Shanghai is 22:30 UTC the day before; the machine's own zone plays no part.
    assert next_time("30 6 * * *", "Asia/Shanghai", T0) == datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    assert next_time("30 6 * * *", "Europe/London", T0) == datetime(2026, 3, 2, 6, 30, tzinfo=UTC)
    # Strictly after: a run at 06:30 local does not get 06:30 again.
    at = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    assert next_time("30 6 * * *", "Asia/Shanghai", at) == at + timedelta(days=1)
    assert next_time("0 */2 * * 1-5", "Asia/Shanghai", T0) == datetime(
        2026, 3, 1, 22, 0, tzinfo=UTC
    ) + timedelta(hours=2)


def test_runs_at_due_times_across_days() -> None:
    h = Harness([site("morning", "30 6 * * *")])
    h.scheduler.tick(T0 + timedelta(minutes=29))
    assert h.launched == []
    h.scheduler.tick(T0 + timedelta(minutes=30))
    assert h.names() == ["morning"]
    assert h.lines[-1].startswith("start morning (pid 1")
    assert "due 2026-03-02T06:30:00+08:00" in h.lines[-1]
    assert "next 2026-03-03T06:30:00+08:00" in h.lines[-1]
    h.launched[0].code = 0
    h.scheduler.tick(T0 + timedelta(hours=1))
    assert h.lines[-1].startswith(
        f"end morning (pid {h.launched[0].pid}) exit 0 in 1800s: morning: ok"
    )
    h.scheduler.tick(T0 + timedelta(days=1, minutes=29))
    assert len(h.launched) == 1
    h.scheduler.tick(T0 + timedelta(days=1, minutes=30))
    assert len(h.launched) == 2


def test_a_due_time_while_the_site_still_runs_is_skipped() -> None:
    h = Harness([site("busy", "*/10 * * * *")], run_now=True)
    h.scheduler.tick(T0)
    assert h.names() == ["busy"]
    h.scheduler.tick(T0 + timedelta(minutes=10))
    assert h.names() == ["busy"], "never two runs of one site"
    assert h.lines[-1].startswith("skip busy: due 2026-03-02T06:10:00+08:00 while the run started")
    h.launched[0].code = 0
    h.scheduler.tick(T0 + timedelta(minutes=15))
    assert len(h.launched) == 1, "the skipped time is not made up"
    h.scheduler.tick(T0 + timedelta(minutes=20))
    assert h.names() == ["busy", "busy"]


def test_missed_times_after_a_pause_collapse_into_one_run() -> None:
    h = Harness([site("often", "*/5 * * * *")])
    h.scheduler.tick(T0 + timedelta(hours=3))
    assert len(h.launched) == 1
    assert h.scheduler.next_due["often"] == T0 + timedelta(hours=3, minutes=5)


def test_at_most_max_parallel_runs_and_due_sites_wait_for_a_slot() -> None:
    sites = [site(n, "0 * * * *") for n in ("a", "b", "c")]
    h = Harness(sites, max_parallel=2, run_now=True)
    h.scheduler.tick(T0)
    assert h.names() == ["a", "b"]
    assert [n for n, _ in h.scheduler.waiting] == ["c"]
    h.scheduler.tick(T0 + timedelta(minutes=1))
    assert len(h.launched) == 2
    h.launched[1].code = 0
    h.scheduler.tick(T0 + timedelta(minutes=2))
    assert h.names() == ["a", "b", "c"]
    assert h.max_seen == 2


def test_stop_interrupts_runs_in_flight_launches_nothing_and_kills_after_the_timeout() -> None:
    h = Harness([site("a", "* * * * *"), site("b", "* * * * *")], max_parallel=2, run_now=True)
    h.scheduler.tick(T0)
    a, b = h.launched
    b.obeys_interrupt = False
    h.scheduler.request_stop()
    assert h.scheduler.step(T0 + timedelta(seconds=1), stop_timeout=30) is True
    assert (a.interrupts, b.interrupts) == (1, 1)
    assert any(line.startswith("end a ") for line in h.lines)
    assert h.scheduler.step(T0 + timedelta(minutes=5), stop_timeout=30) is True
    assert len(h.launched) == 2, "nothing new once stopping, due or not"
    assert b.killed and h.lines[-1].startswith("kill b ")
    assert h.scheduler.step(T0 + timedelta(minutes=5, seconds=1), stop_timeout=30) is False
    assert h.lines[-1] == "stopped"


def test_run_loop_with_a_fake_clock_stops_cleanly() -> None:
    now = [T0]
    h = Harness([site("loop", "*/30 * * * *")], clock=now)

    def sleep(seconds: float) -> None:
        assert seconds > 0, "the loop never spins"
        now[0] += timedelta(seconds=seconds)
        if now[0] >= T0 + timedelta(hours=2, minutes=5) and not h.scheduler.stop_requests:
            h.scheduler.request_stop()
        for run in h.launched:  # each run takes ten minutes
            assert run.started is not None
            if run.code is None and now[0] >= run.started + timedelta(minutes=10):
                run.code = 0

    h.scheduler.run(lambda: now[0], sleep, poll=60)
    starts = [line for line in h.lines if line.startswith("start loop")]
    assert [s.split("due ")[1][:25] for s in starts] == [
        f"2026-03-02T{t}:00+08:00" for t in ("06:30", "07:00", "07:30", "08:00")
    ]
    assert h.launched[-1].interrupts == 1, "the 08:00 run was in flight at the stop"
    assert sum(1 for line in h.lines if line.startswith("end loop")) == 4
    assert h.lines[-1] == "stopped"


def test_scheduled_sites(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(
        'name = "a"\nstart_urls = ["http://x.cn/"]\nschedule = "0 6 * * *"\n[urls]\narticle = ["/a/"]\n',
        encoding="utf-8",
    )
    (tmp_path / "b.toml").write_text(
        'name = "b"\nstart_urls = ["http://x.cn/"]\n[urls]\narticle = ["/a/"]\n', encoding="utf-8"
    )
    assert [s.name for s in scheduled_sites([], [tmp_path])] == ["a"]
    assert [s.name for s in scheduled_sites(["a"], [tmp_path])] == ["a"]
    with pytest.raises(ScheduleError, match="site b has no cron expression"):
        scheduled_sites(["b"], [tmp_path])
    with pytest.raises(ScheduleError, match="no site config with a schedule"):
        scheduled_sites([], [tmp_path / "empty"])


def zhengwen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_schedule_command_refuses_a_site_without_schedule(tmp_path: Path) -> None:
    config = tmp_path / "plain.toml"
    config.write_text(
        'name = "plain"\nstart_urls = ["http://127.0.0.1:1/"]\n[urls]\narticle = ["/a/"]\n',
        encoding="utf-8",
    )
    result = zhengwen("schedule", str(config), "--archive", str(tmp_path / "a"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {config}: schedule: site plain has no cron expression (add e.g. "
        'schedule = "0 */2 * * *" or crawl it with `zhengwen crawl`)'
    ]


def test_schedule_run_now_then_sigterm_mid_run(tmp_path: Path, server: PortalServer) -> None:
    # Due once a year, so only --run-now starts a run during the test.
    config = slow_site(tmp_path, server, name="sched", extra='schedule = "0 3 1 1 *"')
    archive = tmp_path / "archive"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out_path = tmp_path / "schedule.out"
    with out_path.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "crawler.cli",
                "schedule",
                str(config),
                "--archive",
                str(archive),
                "--run-now",
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for("the scheduled crawl to fetch articles", lambda: article_requests(server) >= 3)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    output = out_path.read_text(encoding="utf-8")
    assert code == 0, output
    assert article_requests(server) < 24, "the run was stopped, not completed"

    with Database(ArchivePaths(archive).default_db_url) as db:
        (run,) = db.runs("sched")
    assert run.trigger == "schedule"
    assert run.status == "interrupted" and run.finished_at is not None
    assert run.counters["finish_reason"] == "shutdown"

    log = (archive / "logs" / "schedule.log").read_text(encoding="utf-8")
    for line in log.splitlines():
        assert line in output, "stdout shows what the log file holds"
    lines = [line.split(" ", 1)[1] for line in log.splitlines()]
    assert any(line.startswith("start sched (pid ") for line in lines)
    (end,) = [line for line in lines if line.startswith("end sched ")]
    assert " exit 0 in " in end and end.split(": ", 1)[1].startswith("sched: interrupted in ")
    assert lines[-1] == "stopped"
    # The lock went with the run.
    with SiteLock(archive, "sched"):
        pass


def test_dataclass_site_without_path_is_refused_by_the_launcher() -> None:
    from crawler.schedule import SubprocessLauncher

    bare = dataclasses.replace(site("nopath", "0 * * * *"), path=None)
    with pytest.raises(ScheduleError, match="no config file"):
        SubprocessLauncher(Path("archive")).command(bare)


def test_the_database_url_reaches_the_crawl_by_environment_not_argv(tmp_path: Path) -> None:
    """A password in --db must not show in `ps`; `zhengwen crawl` reads ZHENGWEN_DB_URL."""
    from crawler.schedule import SubprocessLauncher

    url = f"sqlite:///{tmp_path / 'secret-db.sqlite'}"
    launcher = SubprocessLauncher(tmp_path / "archive", db_url=url)
    with_path = dataclasses.replace(site("demo", "0 * * * *"), path=str(tmp_path / "demo.toml"))
    assert not any("secret-db" in arg for arg in launcher.command(with_path))
    assert launcher.env() == {"ZHENGWEN_DB_URL": url}
    secret = SubprocessLauncher(tmp_path, db_url="postgresql://u:hunter2@127.0.0.1/test")
    assert "hunter2" not in repr(secret)  # a repr may end up in a log or a traceback
    # And the crawl command takes it from there: `stats` (same option) opens that database
    # (a reader never creates one: it is made here as a crawl would).
    from storage.db import Database

    with Database(url) as db:
        db.create_schema()
    env = {**os.environ, "ZHENGWEN_DB_URL": url, "PYTHONPATH": str(Path.cwd())}
    out = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "stats", "--archive", str(tmp_path / "a")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "secret-db.sqlite").exists()
    assert not (tmp_path / "a" / "zhengwen.sqlite").exists()


def test_schedule_command_reports_every_bad_site_config_at_once(tmp_path: Path) -> None:
    """Like one file's mistakes (issue 14, item 15): every bad config of the sites folder, or
    every named site that cannot be scheduled, in one line, not one per run."""
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "a.toml").write_text('name = "a"\nstart_urls = []\n', encoding="utf-8")
    (sites / "b.toml").write_text(
        'name = "b"\nstart_urls = ["https://b.example/"]\nschedule = "x"\n[urls]\narticle = ["/a/"]\n',
        encoding="utf-8",
    )
    (sites / "plain.toml").write_text(
        'name = "plain"\nstart_urls = ["https://p.example/"]\n[urls]\narticle = ["/a/"]\n',
        encoding="utf-8",
    )
    result = zhengwen("schedule", "--archive", str(tmp_path / "a"), cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    for part in (
        "a.toml: start_urls: expected",
        "; urls.article: missing",
        "b.toml: schedule:",
    ):
        assert part in line, part

    result = zhengwen("schedule", "a", "plain", "--archive", str(tmp_path / "a"), cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "a.toml: start_urls: expected" in line
    assert "schedule: site plain has no cron expression" in line
    assert not (tmp_path / "a").exists()
