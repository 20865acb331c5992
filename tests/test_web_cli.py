"""``zhengwen serve`` as a user starts it: on a crawled demo archive (with its WARC captures),
stopped by SIGTERM; and its one-line errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _zw(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ZHENGWEN_DB_URL"}
    env["PYTHONPATH"] = str(REPO)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    archive = tmp_path_factory.mktemp("serve") / "archive"
    done = subprocess.run(
        _zw("demo", "--archive", str(archive), "--articles", "12", "--quiet"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return archive


def start_serve(archive: Path, *extra: str) -> tuple[str, subprocess.Popen[str]]:
    """``zhengwen serve --archive ARCHIVE`` on a free port, once it answers: (base URL, process)."""
    port = free_port()
    proc = subprocess.Popen(
        _zw("serve", "--archive", str(archive), "--port", str(port), *extra),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the teardown reaches every process
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "zhengwen serve did not answer"
        try:
            with urllib.request.urlopen(base + "/sites", timeout=5):
                return base, proc
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)


@pytest.fixture
def server(demo_archive: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    base, proc = start_serve(demo_archive)
    try:
        yield base, proc
    finally:
        kill_all(proc)


def kill_all(proc: subprocess.Popen[str]) -> None:
    """SIGKILL for the command and every server process it forked (its process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=30)


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_serve_shows_a_crawled_archive_and_its_raw_captures(
    server: tuple[str, subprocess.Popen[str]],
) -> None:
    base, proc = server
    status, _, body = _get(base + "/?site=demo&format=json")
    assert status == 200
    results = json.loads(body)["results"]
    assert results, "the demo archive lists no article"
    article = json.loads(_get(base + f"/article/{results[0]['id']}?format=json")[2])
    assert article["raw"] is not None, "a crawled article has its capture"
    status, headers, raw = _get(base + article["raw"]["url"])
    assert status == 200
    assert headers["content-security-policy"].startswith("sandbox")
    assert b"<html" in raw.lower()
    page = _get(base + f"/article/{results[0]['id']}")[2].decode("utf-8")
    assert 'sandbox=""' in page and article["raw"]["url"] in page
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert f"zhengwen serve: {base}/" in out


def _one_line_error(args: list[str], code: int, words: str) -> None:
    done = subprocess.run(_zw(*args), env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], done.stderr


def test_a_port_in_use_is_one_line_exit_1(demo_archive: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        _one_line_error(["serve", "--archive", str(demo_archive), "--port", port], 1, "in use")


def test_no_archive_is_one_line_exit_3(tmp_path: Path) -> None:
    port = str(free_port())
    _one_line_error(["serve", "--archive", str(tmp_path / "none"), "--port", port], 3, "no archive")


def test_a_host_that_is_no_address_is_one_line_exit_2(demo_archive: Path) -> None:
    _one_line_error(["serve", "--archive", str(demo_archive), "--host", "my laptop"], 2, "--host")


def test_pages_answer_while_a_crawl_writes_the_same_archive(
    demo_archive: Path, server: tuple[str, subprocess.Popen[str]]
) -> None:
    base, _proc = server
    crawl = subprocess.Popen(
        _zw("demo", "--archive", str(demo_archive), "--articles", "40", "--quiet"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    statuses: list[int] = []
    while crawl.poll() is None:
        for path in ("/?q=%E6%89%B6%E8%B4%AB", "/sites/demo", "/?site=demo&format=json"):
            statuses.append(_get(base + path)[0])
        time.sleep(0.05)
    _, err = crawl.communicate()
    assert crawl.returncode == 0, err
    assert len(statuses) >= 3 and set(statuses) == {200}
    after = json.loads(_get(base + "/sites?format=json")[2])["sites"]
    assert {s["site"]: s["articles"] for s in after}["demo"] >= 40  # the new articles are seen


def test_a_bad_reuse_time_is_one_line_exit_2(demo_archive: Path) -> None:
    for bad in ("-1", "nan", "1e9"):
        _one_line_error(
            ["serve", "--archive", str(demo_archive), "--reuse-seconds", bad], 2, "--reuse-seconds"
        )


def test_several_processes_share_the_port_and_stop_together(demo_archive: Path) -> None:
    import psutil

    base, proc = start_serve(demo_archive, "--workers", "2")
    try:
        children = psutil.Process(proc.pid).children()
        assert len(children) == 2
        for _ in range(6):
            assert _get(base + "/?site=demo&format=json")[0] == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "2 processes" in out and "Traceback" not in err
        assert not [c for c in children if c.is_running() and c.status() != "zombie"]
    finally:
        kill_all(proc)


def test_server_processes_end_when_the_command_is_killed(demo_archive: Path) -> None:
    import psutil

    _base, proc = start_serve(demo_archive, "--workers", "2")
    try:
        children = psutil.Process(proc.pid).children()
        assert len(children) == 2
        proc.kill()  # SIGKILL to the command only: no chance to stop its processes itself
        _gone, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, f"orphaned server processes: {alive}"
        proc.communicate(timeout=10)  # nobody holds its output pipes any more
    finally:
        kill_all(proc)


def test_a_server_process_that_dies_stops_the_command_with_one_line(demo_archive: Path) -> None:
    import psutil

    _base, proc = start_serve(demo_archive, "--workers", "2")
    try:
        first, second = psutil.Process(proc.pid).children()
        first.kill()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 1
        assert err.strip().splitlines()[-1].startswith("error: a server process failed")
        assert "Traceback" not in err
        second.wait(timeout=10)
    finally:
        kill_all(proc)
