"""What storage/ may depend on, the one-record-type rule, archive paths and URL redaction."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from storage import ArchivePaths, Database
from storage.article import field_names
from storage.models import ARTICLE_COLUMNS
from storage.parquet import SCHEMA
from storage.paths import redact_url

REPO = Path(__file__).resolve().parent.parent
STORAGE = REPO / "storage"
FORBIDDEN = ("scrapy", "trafilatura", "click", "twisted", "crawler", "pipelines")


def test_importing_storage_pulls_in_no_crawler_code() -> None:
    modules = sorted(f"storage.{p.stem}" for p in STORAGE.glob("*.py") if p.stem != "__init__")
    assert {"storage.db", "storage.raw", "storage.simhash"} <= set(modules)
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = json.loads(out.stdout)
    assert "storage.db" in loaded
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN] == []


def test_storage_sources_do_not_import_forbidden_packages() -> None:
    offenders = []
    for path in sorted(STORAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_one_record_type(tmp_path: Path) -> None:
    assert SCHEMA.names == field_names()
    assert list(ARTICLE_COLUMNS) == field_names()
    with Database(f"sqlite:///{tmp_path / 'z.sqlite'}") as db:
        db.create_schema()
        assert [c["name"] for c in inspect(db.engine).get_columns("articles")] == field_names()


def test_schema_doc_names_every_column() -> None:
    doc = (REPO / "docs" / "schema.md").read_text(encoding="utf-8")
    missing = [name for name in [*field_names(), "date"] if f"`{name}`" not in doc]
    assert missing == []


def test_archive_paths(tmp_path: Path) -> None:
    paths = ArchivePaths(tmp_path / "archive")
    assert not paths.root.exists()
    assert paths.sqlite_path == tmp_path / "archive" / "zhengwen.sqlite"
    assert paths.parquet_dir == tmp_path / "archive" / "parquet"
    assert paths.raw_dir == tmp_path / "archive" / "raw"
    assert paths.ensure() is paths
    assert paths.parquet_dir.is_dir() and paths.raw_dir.is_dir()
    paths.ensure()
    with Database(paths.default_db_url) as db:
        db.create_schema()
    assert paths.sqlite_path.is_file()


def test_default_db_url_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = ArchivePaths(Path("archive")).default_db_url
    assert url == f"sqlite:///{tmp_path / 'archive' / 'zhengwen.sqlite'}"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+psycopg://zw:s3cr%40t@db.internal:5432/zw",
            "postgresql+psycopg://zw:***@db.internal:5432/zw",
        ),
        (
            "postgresql://zw@h/zw?password=x&sslmode=require",
            "postgresql://zw@h/zw?password=***&sslmode=require",
        ),
        ("sqlite:////srv/archive/zhengwen.sqlite", "sqlite:////srv/archive/zhengwen.sqlite"),
        ("postgresql://zw@h/zw", "postgresql://zw@h/zw"),
        ("not a url://user:pw@host?token=abc", "not a url://user:***@host?token=***"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_the_cli_module_stays_light() -> None:
    """Extraction workers are spawned processes that re-import the main module (``crawler.cli``
    under ``python -m crawler.cli`` and the ``zhengwen`` script): it must not load the storage
    engines, Scrapy or the extractor, which would cost every worker tens of MB."""
    code = "import json, sys\nimport crawler.cli\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    heavy = ("pyarrow", "sqlalchemy", "scrapy", "twisted", "trafilatura", "lxml", "warcio")
    assert [m for m in json.loads(out.stdout) if m.split(".")[0] in heavy] == []
