"""`python3 tasks.py`: what each task installs, checked without installing (issue 14, item 16).

The demo needs the product's dependencies only; the test and lint tasks add the dev extras. Each
install is stamped with the pyproject digest it installed, so `demo` after `test` installs
nothing and `test` after `demo` adds only the extras.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


def load_tasks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("zhengwen_tasks", REPO / "tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[list[str]]]:
    """tasks.py on a fake venv in tmp_path, its commands recorded instead of run."""
    module = load_tasks()
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    monkeypatch.setattr(module, "VENV", venv)
    monkeypatch.setattr(module, "BIN", venv / "bin")
    monkeypatch.setattr(module, "PY", venv / "bin" / "python")
    # The stamp of the tasks.py before this change, kept away from the real venv.
    monkeypatch.setattr(module, "STAMP", venv / ".zhengwen-installed", raising=False)
    ran: list[list[str]] = []
    monkeypatch.setattr(module, "run", lambda cmd: ran.append([str(c) for c in cmd]))
    return module, ran


def installs(ran: list[list[str]]) -> list[str]:
    """What each `pip install` asked for (its last argument)."""
    return [cmd[-1] for cmd in ran if cmd[1:4] == ["-m", "pip", "install"]]


def test_demo_installs_the_product_only_and_shows_pip_progress(tasks: tuple) -> None:
    module, ran = tasks
    module.main(["demo"])
    assert installs(ran) == [module.PIP, "."], ran
    assert all("-q" not in cmd and "--quiet" not in cmd for cmd in ran), "pip's progress is shown"
    assert ran[-1][-1] == "demo", "then the demo runs"


def test_test_after_demo_adds_the_dev_extras_and_demo_after_test_installs_nothing(
    tasks: tuple,
) -> None:
    module, ran = tasks
    module.main(["demo"])
    ran.clear()
    module.main(["test", "-k", "x"])
    assert installs(ran) == [module.PIP, ".[dev]"]
    assert ran[-1][-3:] == ["pytest", "-k", "x"]
    ran.clear()
    module.main(["demo"])
    module.main(["test"])
    module.main(["lint"])
    assert installs(ran) == [], "both installs are stamped"


def test_a_changed_pyproject_installs_again(tasks: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    module, ran = tasks
    module.main(["test"])
    monkeypatch.setattr(module, "pyproject_digest", lambda: "changed")
    ran.clear()
    module.main(["demo"])
    assert installs(ran) == [module.PIP, "."]
    ran.clear()
    module.main(["test"])
    assert installs(ran) == [module.PIP, ".[dev]"]


def test_the_demo_plan_has_no_dev_extras() -> None:
    module = load_tasks()
    demo = module.pip_commands("product")
    assert not any("[dev]" in arg for cmd in demo for arg in cmd)
    assert any(arg.endswith("[dev]") for cmd in module.pip_commands("dev") for arg in cmd)
    assert sys.version_info[:2] == (3, 11)
