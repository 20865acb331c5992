"""Docs as tests (issue #14): every command example in README.md and docs/*.md runs, as
printed, against a demo archive, and exits as documented.

The examples are read from the ```sh blocks of the docs themselves, so a new or changed example
is tested without touching this file. They run through bash in a folder that holds the demo
archive (``archive``), the repository's ``sites/`` and a saved page, with ``zhengwen`` and
``.venv/bin/zhengwen`` both meaning this checkout's CLI. A few examples cannot run here; each is
listed in `NOT_RUN` with the reason, and a test checks that the list names no example that is
gone from the docs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.demo.content import Portal
from crawler.demo.render import route

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_BLOCK_RE = re.compile(r"```(?:sh|bash|shell|console)\n(.*?)```", re.S)

#: Examples that are not run here, by a prefix of the command, with the reason.
NOT_RUN = {
    "python3 tasks.py": "CI runs these itself (.ci/run: lint, then the test suite)",
    ".venv/bin/pytest": "the test suite runs them",
    ".venv/bin/python bench/": "benchmarks: minutes to hours, run by hand (docs/benchmarks.md)",
    ".venv/bin/zhengwen crawl sites/example.toml": "crawls a site on the internet",
    ".venv/bin/zhengwen schedule": "runs until stopped (tests/test_schedule.py covers it)",
    "zhengwen worker": "runs until stopped (tests/test_distributed_e2e.py runs workers)",
    "zhengwen enqueue": "needs the cluster's Redis and PostgreSQL (tests/test_distributed_e2e.py)",
    "zhengwen schedule --redis": "runs until stopped (tests/test_distributed_schedule.py)",
    "redis-server": "starts a server (docs/distributed.md, ops)",
    "zhengwen serve": "runs until stopped (tests/test_web_cli.py starts it on a demo archive)",
    ".venv/bin/zhengwen serve": "runs until stopped (tests/test_web_cli.py starts it)",
    "curl -s 'http://127.0.0.1:8080": "needs the server above (tests/test_web_cli.py)",
    ".venv/bin/warcio": "names the example site's WARC files (tests/test_raw_e2e.py runs warcio)",
}


def examples() -> list[tuple[str, str]]:
    """(doc, command line) for every line of every shell block."""
    out = []
    for doc in DOCS:
        for block in _BLOCK_RE.findall(doc.read_text(encoding="utf-8")):
            for line in block.splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    out.append((doc.relative_to(REPO).as_posix(), line))
    return out


def _skipped(command: str) -> str | None:
    return next((why for prefix, why in NOT_RUN.items() if command.startswith(prefix)), None)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder like the repository a user works in: a demo archive, sites/, a saved page, and
    ``zhengwen`` / ``.venv/bin/zhengwen`` running this checkout."""
    work = tmp_path_factory.mktemp("docs")
    bin_dir = work / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    shim = bin_dir / "zhengwen"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m crawler.cli "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    (work / "sites").symlink_to(REPO / "sites")
    portal = Portal.generate(n_articles=3, seed=7)
    page = route(portal, portal.articles()[0].path)
    (work / "saved-page.html").write_bytes(page.body)
    result = _run_in(
        work, [str(shim), "demo", "--archive", "archive", "--articles", "24", "--quiet"]
    )
    assert result.returncode == 0, result.stderr
    yield work


def _run_in(work: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """`args` run in the work folder, with its ``zhengwen`` first on the PATH."""
    return subprocess.run(
        args, cwd=work, env=_env(work), capture_output=True, text=True, timeout=300, check=False
    )


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ZHENGWEN_DB_URL"}
    env["PATH"] = f"{work / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO)
    return env


@pytest.mark.parametrize(("doc", "command"), examples())
def test_every_documented_command_runs_as_printed(workdir: Path, doc: str, command: str) -> None:
    why = _skipped(command)
    if why is not None:
        pytest.skip(f"not run here: {why}")
    result = _run_in(workdir, ["bash", "-c", command])
    assert result.returncode == 0, f"{doc}: `{command}` exited {result.returncode}: {result.stderr}"
    assert "Traceback" not in result.stderr


_PY_BLOCK_RE = re.compile(r"```python\n(.*?)```", re.S)
#: Python blocks that are API sketches with placeholders (a file name, an engine, ``...``).
PY_SKETCHES = {
    "docs/raw-archive.md": "a WARC file name of the example site",
    "docs/search.md": "placeholders (an engine, url_hash, ...)",
}


def python_examples() -> list[tuple[str, int, str]]:
    out = []
    for doc in DOCS:
        name = doc.relative_to(REPO).as_posix()
        for n, block in enumerate(_PY_BLOCK_RE.findall(doc.read_text(encoding="utf-8"))):
            out.append((name, n, block))
    return out


@pytest.mark.parametrize(("doc", "n", "code"), python_examples())
def test_every_documented_python_example_runs(workdir: Path, doc: str, n: int, code: str) -> None:
    if doc in PY_SKETCHES:
        pytest.skip(f"not run here: {PY_SKETCHES[doc]}")
    result = _run_in(workdir, [sys.executable, "-c", code])
    assert result.returncode == 0, f"{doc} block {n}: {result.stderr}"


def test_every_exception_names_a_documented_example() -> None:
    commands = [c for _doc, c in examples()]
    for prefix in NOT_RUN:
        assert any(c.startswith(prefix) for c in commands), f"{prefix!r} is in no doc any more"
