"""Safe surfaces (issue 7, point 5): what a hostile site name, URL, SQL statement or config file
can reach, and where a database password may appear.

- Paths: every file zhengwen writes from a site name or a URL lies inside the archive folder.
- ``zhengwen sql``: one read-only SELECT; no write, no ATTACH, no extension, no file read.
- Config files: parsed as data (tomllib), never executed.
- Secrets: a password in a database URL never reaches a log, a run record, stats, an error
  message or a ``repr``.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from crawler.config import NAME_RE, ConfigError, parse_site
from crawler.demo.server import PortalServer
from crawler.lock import lock_path
from storage.article import Article
from storage.db import Database
from storage.export import targets
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths, db_url_problem, redact_url
from storage.query import SqlError, read_only_sql
from storage.raw import Exchange, RawArchiveWriter, site_dir_name
from storage.validation import validate_site
from tests.conftest import REPO
from tests.test_cli import zhengwen
from tests.test_crawl_e2e import crawl, site_config

CHECK = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# --- paths ---------------------------------------------------------------------------------------

#: Names that try to leave a folder or to look like another name.
HOSTILE_NAMES = [
    "",
    ".",
    "..",
    "../x",
    "../../etc/passwd",
    "x/../../y",
    "/etc/passwd",
    "/tmp",
    "a/b",
    "a\\b",
    "..\\..\\x",
    "a\x00b",
    "x\x00/../../etc",
    "x" * 65,
    "x" * 4096,
    "ABC",
    " abc",
    "-abc",
    "_abc",
    "a:b",
    "~root",
    "%2e%2e",
    "%2fetc",
    "ａｂｃ",  # fullwidth letters
    "аbc",  # Cyrillic а
    "abc\u202e",  # right-to-left override
    "ab\u0301c",  # combining accent
    "abc\u200b",  # zero-width space
    "ﬁle",  # ligature (NFKC: "file")
    "a\u2215b",  # division slash
    "a\uff0fb",  # fullwidth solidus
    "\u2024\u2024",  # one-dot leaders
    "\ud800",  # lone surrogate
    "demo\n",  # a trailing newline ("$" in a pattern accepts it)
]


def inside(root: Path, path: Path) -> bool:
    """``path`` is ``root`` or below it, with every ``..`` and symlink resolved."""
    return path.resolve().is_relative_to(root.resolve())


def site_toml(name: str) -> dict[str, Any]:
    return {"name": name, "start_urls": ["https://news.example.cn/"], "urls": {"article": ["/a/"]}}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_site_config_refuses_hostile_names(name: str) -> None:
    with pytest.raises(ConfigError, match="name"):
        parse_site(site_toml(name), "x.toml")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_every_site_path_refuses_hostile_names(name: str, tmp_path: Path) -> None:
    """The stores check the name themselves, not only the config: a notebook calling storage
    directly gets the same refusal."""
    with pytest.raises(ValueError):
        validate_site(name)
    with pytest.raises(ValueError):
        ParquetDataset(tmp_path).partition_dir(name, "2024-01-01")
    with pytest.raises(ValueError):
        lock_path(tmp_path, name)


@CHECK
@given(st.text(max_size=80) | st.from_regex(NAME_RE, fullmatch=True))
def test_names_that_pass_stay_inside_the_archive(name: str) -> None:
    """Any string: refused, or every path built from it lies one level inside its folder."""
    root = Path("/srv/archive")
    paths = ArchivePaths(root)
    try:
        site = parse_site(site_toml(name), "x.toml").name
    except ConfigError:
        site = None
    if site is not None:
        part = ParquetDataset(paths.parquet_dir).partition_dir(site, "2024-01-01")
        assert part.parent.parent == paths.parquet_dir and inside(paths.parquet_dir, part)
        lock = lock_path(root, site)
        assert lock.parent == root / "locks" and inside(root / "locks", lock)
    # The raw archive takes any site string (a record's header), made safe.
    folder = site_dir_name(name)
    assert folder not in ("", ".", "..") and "/" not in folder and "\x00" not in folder
    assert (paths.raw_dir / folder).parent == paths.raw_dir
    assert len(folder) <= 64


def test_parquet_write_refuses_a_hostile_site(tmp_path: Path) -> None:
    root = tmp_path / "archive" / "parquet"
    article = Article(
        url="https://news.example.cn/a/1.html", site="../../escape", title="t", body="正文"
    )
    with pytest.raises(ValueError):
        ParquetDataset(root).write_batch([article])
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize(
    "url",
    [
        "http://news.example.cn/../../../../etc/passwd",
        "file:///etc/passwd",
        "http://news.example.cn/%2e%2e/%2e%2e/x",
        "http://news.example.cn/a\x00b/../c",
        "http://news.example.cn/" + "x/" * 3000,
    ],
)
@pytest.mark.parametrize("site", ["demo", "../../raw-escape", "/tmp/abs", "a\x00b"])
def test_raw_archive_files_stay_in_the_raw_folder(tmp_path: Path, url: str, site: str) -> None:
    """WARC file names come from the (made safe) site name, a time and a random id: a URL is a
    record's header, never a path."""
    raw = tmp_path / "archive" / "raw"
    writer = RawArchiveWriter(raw)
    written = writer.write(
        Exchange(
            url=url, site=site, status=200, body=b"<html></html>", fetched_at=datetime.now(UTC)
        )
    )
    writer.close()
    assert inside(raw, written.file)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and all(inside(raw, p) for p in files), files
    assert all(
        re.fullmatch(r"[a-z0-9_-]+-\d{8}T\d+Z-[0-9a-f]{8}\.warc\.gz", p.name)
        for p in files
        if p.suffix == ".gz"
    )


@CHECK
@given(st.text(alphabet=st.characters(blacklist_characters="/\x00"), min_size=1, max_size=60))
def test_export_card_lies_beside_the_data(name: str) -> None:
    """``--out`` is the user's choice; the dataset card derived from it never leaves that folder."""
    folder = Path("/srv/exports")
    for fmt in ("csv", "jsonl", "parquet"):
        data, card = targets(folder / name, fmt)
        assert card.parent == data.parent
        if name not in (".", ".."):
            assert data.parent in (folder, folder / name)


# --- zhengwen sql --------------------------------------------------------------------------------

#: Statements that write, attach, load code or change the connection: refused before they run.
WRITES = [
    "COPY (SELECT 1) TO '{out}/copy.csv'",
    "COPY articles TO '{out}/copy.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{out}/export'",
    "ATTACH '{out}/attached.db' AS x",
    "ATTACH ':memory:' AS x",
    "DETACH memory",
    "INSTALL httpfs",
    "LOAD httpfs",
    "LOAD '{out}/evil.duckdb_extension'",
    "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')",
    "CREATE MACRO m(x) AS x",
    "INSERT INTO articles SELECT * FROM articles",
    "DROP VIEW articles",
    "PRAGMA database_list",
    "PRAGMA enable_profiling",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET enable_external_access",
    "USE memory",
    "CALL pragma_version()",
    "CHECKPOINT",
    "VACUUM",
    "SELECT 1; SELECT 2",
    "SELECT 1; COPY (SELECT 1) TO '{out}/second.csv'",
    "SET enable_external_access = true; SELECT * FROM read_csv('/etc/passwd')",
]

#: SELECTs that would read a file or the network: they parse, and DuckDB refuses the access.
READS = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_csv(['/etc/passwd'])",
    "SELECT * FROM read_csv('/etc/pass' || 'wd')",
    "FROM read_csv('/etc/passwd')",
    "DESCRIBE SELECT * FROM read_csv('/etc/passwd')",
    "SUMMARIZE SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM read_json('/etc/passwd')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM read_parquet('{parquet}/**/*.parquet')",
    "SELECT * FROM parquet_metadata('/etc/passwd')",
    "SELECT * FROM read_csv('https://example.com/x.csv')",
    "SELECT * FROM query('COPY (SELECT 1) TO ''{out}/inner.csv''')",
    "SELECT * FROM duckdb_secrets()",
    "SELECT getenv('HOME')",
]


@pytest.fixture(scope="module")
def sql_archive(tmp_path_factory: pytest.TempPathFactory) -> ArchivePaths:
    paths = ArchivePaths(tmp_path_factory.mktemp("sql") / "archive").ensure()
    ParquetDataset(paths.parquet_dir).write_batch(
        [
            Article(
                url=f"https://news.example.cn/a/{i}.html",
                site="demo",
                title=f"标题{i}",
                body=f"正文{i}",
            )
            for i in range(3)
        ]
    )
    return paths


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_sql_reads_the_archive(sql_archive: ArchivePaths) -> None:
    """The control: the same function does answer a SELECT over ``articles``."""
    result = read_only_sql(sql_archive.parquet_dir, "SELECT title FROM articles ORDER BY title")
    assert [r[0] for r in result.rows] == ["标题0", "标题1", "标题2"]


@pytest.mark.parametrize("statement", WRITES + READS)
def test_sql_function_refuses(statement: str, sql_archive: ArchivePaths, tmp_path: Path) -> None:
    before = _files(sql_archive.root)
    query = statement.format(out=tmp_path, parquet=sql_archive.parquet_dir)
    with pytest.raises(SqlError):
        list(read_only_sql(sql_archive.parquet_dir, query).rows)
    assert _files(tmp_path) == [] and _files(sql_archive.root) == before


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (SELECT 1) TO '{out}/copy.csv'",
        "ATTACH '{out}/attached.db' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "CREATE TABLE t AS SELECT 1",
        "PRAGMA database_list",
        "SET enable_external_access = true",
        "SELECT 1; COPY (SELECT 1) TO '{out}/second.csv'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
    ],
)
def test_sql_command_refuses(statement: str, sql_archive: ArchivePaths, tmp_path: Path) -> None:
    before = _files(sql_archive.root)
    done = zhengwen(
        "sql", statement.format(out=tmp_path), "--archive", str(sql_archive.root), cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "root:" not in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _files(tmp_path) == [] and _files(sql_archive.root) == before


def test_sql_command_answers_a_select(sql_archive: ArchivePaths, tmp_path: Path) -> None:
    done = zhengwen(
        "sql",
        "SELECT count(*) AS n FROM articles",
        "--archive",
        str(sql_archive.root),
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 3}]


# --- config loaders --------------------------------------------------------------------------------

#: Calls that run code or build arbitrary objects from a file's content.
UNSAFE_CALLS = {
    ("yaml", "load"),
    ("yaml", "unsafe_load"),
    ("yaml", "full_load"),
    ("yaml", "load_all"),
    ("pickle", "load"),
    ("pickle", "loads"),
    ("marshal", "loads"),
    ("shelve", "open"),
    ("jsonpickle", "decode"),
}


def _project_sources() -> list[Path]:
    files = [REPO / "tasks.py"]
    for package in ("crawler", "storage", "pipelines", "bench"):
        files += sorted((REPO / package).rglob("*.py"))
    return files


def test_no_loader_runs_code_from_a_file() -> None:
    """Every user file (site configs with their schedules, lock files, bench data) is read with
    tomllib or json: no yaml (whose ``load`` builds arbitrary objects), pickle, marshal, shelve,
    eval or exec anywhere in the project's code."""
    found = []
    for path in _project_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] in ("yaml", "ruamel", "jsonpickle", "dill") for n in names):
                    found.append(f"{path}:{node.lineno} imports {names}")
            if isinstance(node, ast.Call):
                fn = node.func
                if isinstance(fn, ast.Name) and fn.id in ("eval", "exec"):
                    found.append(f"{path}:{node.lineno} calls {fn.id}")
                if (
                    isinstance(fn, ast.Attribute)
                    and isinstance(fn.value, ast.Name)
                    and (fn.value.id, fn.attr) in UNSAFE_CALLS
                ):
                    found.append(f"{path}:{node.lineno} calls {fn.value.id}.{fn.attr}")
    assert found == []
    config = (REPO / "crawler" / "config.py").read_text(encoding="utf-8")
    assert "tomllib.loads(" in config


def test_site_config_is_data(tmp_path: Path) -> None:
    """A config that tries to be more than TOML is a one-line config error, and runs nothing."""
    marker = tmp_path / "ran"
    bad = tmp_path / "evil.toml"
    bad.write_text(
        f"!!python/object/apply:os.system ['touch {marker}']\nname = \"evil\"\n", encoding="utf-8"
    )
    done = zhengwen("check-site", str(bad), cwd=tmp_path)
    assert done.returncode == 2 and "expected valid TOML" in done.stderr
    assert not marker.exists()


# --- secrets in database URLs -------------------------------------------------------------------

SECRET = "Zw-s3cret_9f4e"


def secret_forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), quote(secret)]


def assert_no_secret(where: str, content: str, secret: str = SECRET) -> None:
    for form in secret_forms(secret):
        assert form not in content, f"the password shows in {where}"


@CHECK
@given(
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(
        [
            "postgresql+psycopg://zhengwen:{q}@db.internal:5432/news",
            "postgresql://zhengwen:{q}@db.internal/news?sslmode=require",
            "postgresql+psycopg://zhengwen@db.internal/news?password={q}",
            "postgresql+psycopg://zhengwen@db.internal/news?sslmode=require&PASSWORD={q}",
            "postgresql+psycopg://zhengwen:{q}@[::1/news",  # malformed: SQLAlchemy cannot parse it
            "mysql://root:{q}@localhost/x",
        ]
    ),
)
def test_redact_url_masks_any_password(password: str, form: str) -> None:
    secret = "Zw" + password  # a prefix no other part of the URL contains
    url = form.format(q=quote(secret, safe=""))
    assert_no_secret("redact_url", redact_url(url), secret)
    assert_no_secret("db_url_problem", db_url_problem(url) or "", secret)


def pg_with_password(pg_url: str, secret: str = SECRET) -> str:
    return pg_url.replace("postgres@", f"postgres:{quote(secret, safe='')}@", 1)


@pytest.mark.postgres
def test_database_repr_and_errors_hide_the_password(pg_url: str) -> None:
    url = pg_with_password(pg_url)
    with Database(url) as db:
        db.create_schema()
        assert_no_secret("repr(Database)", repr(db))
        assert_no_secret("str(Database)", str(db))
    bad = url.replace("127.0.0.1:5432", "127.0.0.1:1")
    with pytest.raises(Exception) as err:
        with Database(bad) as db:
            db.create_schema()
    assert_no_secret("the connection error", str(err.value))


@pytest.mark.postgres
def test_a_crawl_never_records_the_password(
    tmp_path: Path, pg_url: str, server: PortalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real crawl of the test portal into PostgreSQL with a password in ``--db`` (the service
    trusts local connections, so any password is accepted), then every place the URL could leak:
    the crawl's output, its log file, the run record, ``zhengwen runs``/``stats``, and the error
    of a command that cannot connect."""
    url = pg_with_password(pg_url)
    assert f"postgres:{SECRET}@" in url
    archive = tmp_path / "archive"
    config = site_config(tmp_path, server)
    done = crawl(tmp_path, config, archive, "--db", url, "--max-pages", "8", "--log-level", "DEBUG")
    assert_no_secret("the crawl's output", done.stdout + done.stderr)
    logs = sorted((archive / "logs").glob("*.log"))
    assert logs, "the crawl wrote its log"
    for log in logs:
        assert_no_secret(str(log), log.read_text(encoding="utf-8", errors="replace"))
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM crawl_runs")).mappings().all()
    engine.dispose()
    assert rows and rows[0]["counters"]["pages_fetched"] > 0
    assert_no_secret("crawl_runs", json.dumps([dict(r) for r in rows], default=str))
    for command in (["runs", "--json"], ["stats", "--json"], ["stats"], ["runs"]):
        out = zhengwen(*command, "--archive", str(archive), "--db", url, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert_no_secret(f"zhengwen {command}", out.stdout + out.stderr)
    # The same URL through the environment, as the README recommends, and unreachable.
    env_url = url.replace("127.0.0.1:5432", "127.0.0.1:1")
    monkeypatch.setenv("ZHENGWEN_DB_URL", env_url)
    failed = zhengwen("crawl", str(config), "--archive", str(archive), cwd=tmp_path)
    assert failed.returncode == 3, failed.stderr
    assert_no_secret("the error of an unreachable database", failed.stdout + failed.stderr)
    for command in (
        ["stats"],
        ["runs"],
        ["query", "--limit", "1"],
        ["export", "--format", "csv", "--out", str(tmp_path / "x.csv")],
    ):
        out = zhengwen(*command, "--archive", str(archive), "--db", env_url, cwd=tmp_path)
        assert out.returncode == 3, (command, out.stderr)
        assert_no_secret(f"zhengwen {command} on an unreachable database", out.stdout + out.stderr)


def test_malformed_url_is_one_masked_line(tmp_path: Path) -> None:
    """A URL SQLAlchemy cannot parse: every command exits 3 with one line naming it masked (it
    was a traceback from inside ``create_engine`` before issue 7), and creates nothing."""
    bad = f"postgresql+psycopg://u:{SECRET}@[::1/x"
    archive = tmp_path / "archive"
    for command in (
        ["crawl", str(REPO / "sites" / "example.toml")],
        ["stats"],
        ["runs"],
        ["history", "https://news.example.cn/a/1.html"],
        ["query", "--limit", "1"],
        ["reextract"],
    ):
        out = zhengwen(*command, "--archive", str(archive), "--db", bad, cwd=tmp_path)
        assert out.returncode == 3, (command, out.stderr)
        assert out.stderr.strip().splitlines() == [
            "error: not a database URL: postgresql+psycopg://u:***@[::1/x"
        ], command
        assert_no_secret(f"zhengwen {command} with a malformed URL", out.stdout + out.stderr)
    assert not archive.exists()
