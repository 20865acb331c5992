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
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
#: The installer itself, pinned: Python 3.11's bundled pip (23.2) fails to resolve two spellings
#: of one extra (``lxml[html_clean]`` from justext, trafilatura's dependency, beside
#: ``lxml[html-clean]`` from readability-lxml) with an internal AssertionError, and warns that
#: "lxml 6.1.3 does not provide the extra 'html_clean'"; pip >= 24 normalises extra names
#: (PEP 685), so neither happens once the venv has this pip.
PIP = "pip==25.3"
#: What each task needs installed: the demo runs the product only; tests and lint add the dev
#: extras (pytest, ruff, mypy, and pandas, polars, datasets for the export-reader tests).
NEEDS = {"demo": "product", "test": "dev", "lint": "dev"}
#: Each kind of install is stamped with the digest of the pyproject.toml it installed.
#: A dev install holds the product as well.
STAMPS = {"product": ".zhengwen-installed", "dev": ".zhengwen-installed-dev"}


def pyproject_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def stamp(kind: str) -> Path:
    return VENV / STAMPS[kind]


def installed(kind: str, digest: str) -> bool:
    """This kind of install (or one that holds it) is done for this pyproject.toml."""
    kinds = ("product", "dev") if kind == "product" else ("dev",)
    return any(stamp(k).exists() and stamp(k).read_text() == digest for k in kinds)


def pip_commands(kind: str) -> list[list[str]]:
    """The pip commands of one install, without -q: a first install downloads for a minute or
    more, and pip's own lines (Collecting …, Downloading …) show that it is moving."""
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check"]
    return [[*pip, PIP], [*pip, "-e", ".[dev]" if kind == "dev" else "."]]


def ensure_venv(task: str) -> None:
    """(Re)install what the task needs when pyproject.toml changed since it was last installed
    (or it never was), else do nothing."""
    if sys.version_info[:2] != (3, 11):
        sys.exit(
            f"zhengwen needs Python 3.11 (this is {sys.version.split()[0]}); run: python3.11 tasks.py ..."
        )
    kind = NEEDS[task]
    digest = pyproject_digest()
    if PY.exists() and installed(kind, digest):
        return
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    what = (
        "zhengwen with its dev extras (tests, lint)"
        if kind == "dev"
        else "zhengwen and its pinned dependencies (the test task adds the dev extras)"
    )
    steps = pip_commands(kind)
    labels = [f"the installer, {PIP}", what]
    started = time.monotonic()
    for n, (label, cmd) in enumerate(zip(labels, steps, strict=True), start=1):
        print(f"[{n}/{len(steps)}] installing {label} into .venv ...", flush=True)
        run(cmd)
    print(f"installed in {time.monotonic() - started:.0f}s", flush=True)
    stamp(kind).write_text(digest)
    if kind == "dev":
        stamp("product").write_text(digest)


def run(cmd: list[str]) -> None:
    code = subprocess.call(cmd, cwd=ROOT)
    if code:
        sys.exit(code)


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in NEEDS:
        sys.exit(__doc__)
    task, extra = argv[0], argv[1:]
    ensure_venv(task)
    if task == "demo":
        run([str(BIN / "zhengwen"), "demo", *extra])
    elif task == "test":
        run([str(PY), "-m", "pytest", *extra])
    else:
        names = ("crawler", "pipelines", "storage", "web", "tests", "bench", "tasks.py")
        paths = [name for name in names if (ROOT / name).exists()]
        run([str(BIN / "ruff"), "check", *paths])
        run([str(BIN / "ruff"), "format", "--check", *paths])
        run([str(BIN / "mypy")])


if __name__ == "__main__":
    main(sys.argv[1:])
