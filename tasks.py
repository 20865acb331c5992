#!/usr/bin/env python3
"""Project tasks that work on a fresh machine with only Python 3.11 (no make, no pre-made venv).

    python3 tasks.py demo     # create .venv, install zhengwen, crawl the bundled demo portal
    python3 tasks.py test     # create .venv, install zhengwen[dev], run the test suite
    python3 tasks.py lint     # ruff + mypy --strict on the packages

Extra arguments go to the underlying command (`python3 tasks.py test -k seed`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".zhengwen-installed"
#: The installer itself, pinned: Python 3.11's bundled pip (23.2) fails to resolve two spellings
#: of one extra (``lxml[html_clean]`` from readability-lxml beside ``lxml[html-clean]``) with an
#: internal AssertionError; later releases normalise extra names.
PIP = "pip==25.3"


def ensure_venv() -> None:
    """(Re)install when pyproject.toml changed since the last install, else do nothing."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(
            f"zhengwen needs Python 3.11 (this is {sys.version.split()[0]}); run: python3.11 tasks.py ..."
        )
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text() == digest:
        return
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing zhengwen and its pinned dependencies into .venv ...", flush=True)
    run([str(PY), "-m", "pip", "install", "-q", "--disable-pip-version-check", PIP])
    run([str(PY), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", ".[dev]"])
    STAMP.write_text(digest)


def run(cmd: list[str]) -> None:
    code = subprocess.call(cmd, cwd=ROOT)
    if code:
        sys.exit(code)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in {"demo", "test", "lint"}:
        sys.exit(__doc__)
    task, extra = argv[0], argv[1:]
    ensure_venv()
    if task == "demo":
        run([str(BIN / "zhengwen"), "demo", *extra])
    elif task == "test":
        run([str(PY), "-m", "pytest", *extra])
    else:
        names = ("crawler", "pipelines", "storage", "tests", "bench", "tasks.py")
        paths = [name for name in names if (ROOT / name).exists()]
        run([str(BIN / "ruff"), "check", *paths])
        run([str(BIN / "ruff"), "format", "--check", *paths])
        run([str(BIN / "mypy")])


if __name__ == "__main__":
    main(sys.argv[1:])
