"""Issue 15, item 6: a killed ``zhengwen export`` left ``.<out>.tmp-<uuid>`` behind for good.

The export now holds a ``flock`` on its temp files while it writes them (`storage.tempfiles`);
the next export into the same folder removes a dead export's files (unlocked) and never a live
one's; SIGTERM and SIGINT remove the export's own and end it with one line, exit 1. The real
``zhengwen export`` process is paused where its temp files are written and not yet renamed
(`storage.testhooks`, point ``export.before_rename``), then killed or signalled there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.tempfiles import TEMP_MIN_AGE, is_temp_name, sweep, temp_name
from storage.testhooks import CRASHPOINT_ENV, HOOKS_DIR_ENV
from tests.test_cli import REPO, zhengwen
from tests.test_cli_exit_codes import one_error_line
from tests.test_query import ALL, build_archive

#: Seconds a test waits for the paused export at most (not an assertion on its speed).
WAIT = 120.0


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    build_archive(root)
    return root


def _export_args(archive: Path, out: Path) -> list[str]:
    return ["export", "--archive", str(archive), "--format", "jsonl", "--out", str(out), "--quiet"]


def _paused_export(archive: Path, out: Path, hooks: Path) -> subprocess.Popen[str]:
    """A real ``zhengwen export`` paused with both temp files written, not renamed."""
    hooks.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        HOOKS_DIR_ENV: str(hooks),
        CRASHPOINT_ENV: "export.before_rename",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", *_export_args(archive, out)],
        cwd=out.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + WAIT
    while not (hooks / f"paused-{proc.pid}.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out_text, err = proc.communicate()
            pytest.fail(f"the export never reached its pause: {out_text} {err}")
        time.sleep(0.05)
    return proc


def _temps(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if is_temp_name(p.name))


def _age(paths: list[Path]) -> None:
    """Make ``paths`` older than `TEMP_MIN_AGE` (instead of waiting that long)."""
    old = time.time() - 2 * TEMP_MIN_AGE
    for path in paths:
        os.utime(path, (old, old))


def test_the_next_export_removes_a_killed_exports_temp_files_and_not_a_live_ones(
    archive_dir: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "news.jsonl"
    proc = _paused_export(archive_dir, out, tmp_path / "hooks")
    try:
        temps = _temps(out_dir)
        names = sorted(p.name.split(".tmp-")[0] for p in temps)
        assert names == [".news.jsonl", ".news.jsonl.README.md"]
        _age(temps)
        # Another export into the folder while this one is alive (paused) leaves its files.
        other = zhengwen(*_export_args(archive_dir, out_dir / "other.jsonl"), cwd=tmp_path)
        assert other.returncode == 0, other.stderr
        assert _temps(out_dir) == temps
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=WAIT)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists() and _temps(out_dir) == temps  # what a killed export leaves
    again = zhengwen(*_export_args(archive_dir, out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _temps(out_dir) == []
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(ALL)
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "news.jsonl",
        "news.jsonl.README.md",
        "other.jsonl",
        "other.jsonl.README.md",
    ]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signalled_export_removes_its_temp_files_and_exits_1_with_one_line(
    archive_dir: Path, tmp_path: Path, signum: signal.Signals
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "news.jsonl"
    earlier = "an earlier export\n"
    out.write_text(earlier, encoding="utf-8")
    proc = _paused_export(archive_dir, out, tmp_path / "hooks")
    assert len(_temps(out_dir)) == 2
    os.kill(proc.pid, signum)
    stdout, stderr = proc.communicate(timeout=WAIT)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    line = one_error_line(result, 1)
    assert f"export stopped by {signum.name}" in line
    assert sorted(p.name for p in out_dir.iterdir()) == ["news.jsonl"]
    assert out.read_text(encoding="utf-8") == earlier, "an earlier export is untouched"


def test_sweep_removes_only_unlocked_temp_names_old_enough(tmp_path: Path) -> None:
    dead = temp_name(tmp_path / "news.csv")
    dead.write_text("half", encoding="utf-8")
    young = temp_name(tmp_path / "young.csv")
    young.write_text("half", encoding="utf-8")
    parquet_style = tmp_path / f".tmp-{'a' * 32}"
    parquet_style.write_text("half", encoding="utf-8")
    kept = [tmp_path / "notes.tmp-1", tmp_path / ".notes.tmp-xyz", tmp_path / "news.csv"]
    for path in kept:
        path.write_text("mine", encoding="utf-8")
    _age([dead, parquet_style, *kept])
    assert sorted(sweep(tmp_path)) == sorted([dead, parquet_style])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [young.name, *(p.name for p in kept)]
    )
    assert sweep(tmp_path / "missing") == []


def test_recorded_options_use_a_unique_temp_name_and_clean_up_a_killed_runs(
    tmp_path: Path,
) -> None:
    """``record_options`` wrote ``<run id>.tmp``: two runs shared the name, and a run killed
    while writing left it. It now writes a locked ``.<run id>.json.tmp-<uuid>`` and removes a
    dead run's leftovers in the site's folder."""
    from crawler.config import load_site_file
    from crawler.demo import DEMO_TOML
    from crawler.extensions import record_options

    site = load_site_file(DEMO_TOML)
    folder = tmp_path / "configs" / site.name
    folder.mkdir(parents=True)
    leftover = temp_name(folder / "run-0.json")
    leftover.write_text("{", encoding="utf-8")
    _age([leftover])
    path = record_options(tmp_path, site, "run-1")
    assert json.loads(path.read_text(encoding="utf-8"))["site"] == site.name
    assert sorted(p.name for p in folder.iterdir()) == ["run-1.json"]
