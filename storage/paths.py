"""Where an archive lives on disk, and how to name a database in a log line.

The embedded archive is one folder (``zhengwen.sqlite``, ``parquet/``, ``raw/``) so that it can
be copied, backed up or deleted as a unit; every component receives an `ArchivePaths` (or a
plain path / URL) instead of reading settings itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

SQLITE_NAME = "zhengwen.sqlite"
PARQUET_DIR = "parquet"
RAW_DIR = "raw"

_MASK = "***"
# Query parameters that carry secrets in libpq / driver URLs (``?password=...``).
_SECRET_KEYS = frozenset({"password", "passwd", "pwd", "secret", "token", "sslpassword"})
_USERINFO = re.compile(r"(?P<head>://[^:/?#@]*):(?P<secret>[^@/?#]*)@")


@dataclass(frozen=True, slots=True)
class ArchivePaths:
    """The folder layout of one archive; building it creates nothing (see `ensure`)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def sqlite_path(self) -> Path:
        return self.root / SQLITE_NAME

    @property
    def parquet_dir(self) -> Path:
        return self.root / PARQUET_DIR

    @property
    def raw_dir(self) -> Path:
        return self.root / RAW_DIR

    @property
    def default_db_url(self) -> str:
        """Absolute, so the URL still names the same file if the process changes directory."""
        return f"sqlite:///{self.sqlite_path.absolute()}"

    @property
    def configs_dir(self) -> Path:
        """``configs/<site>/<run id>.json``: the extraction options each crawl ran with, so a
        re-extraction uses what the articles were crawled with (`crawler.reextract`)."""
        return self.root / "configs"

    def config_snapshot(self, site: str, run_id: str) -> Path:
        from storage.validation import validate_site

        return self.configs_dir / validate_site(site) / f"{run_id}.json"

    def ensure(self) -> ArchivePaths:
        """Create the folders (idempotent); returns self so it can be chained."""
        for folder in (self.root, self.parquet_dir, self.raw_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def redact_url(url: str) -> str:
    """The URL with its password (user-info or query parameter) masked, for logs and errors.

    Falls back to a regular expression for strings SQLAlchemy cannot parse, because a log line
    must never leak a secret just because the URL was malformed.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return _redact_text(url)
    if any(k.lower() in _SECRET_KEYS for k in parsed.query):
        parsed = parsed.set(
            query={k: (_MASK if k.lower() in _SECRET_KEYS else v) for k, v in parsed.query.items()}
        )
    # The renderer percent-encodes our mask in the query; keep it readable.
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", _MASK)


#: The databases the archive runs on, as a message names them.
SUPPORTED_DATABASES = "SQLite (sqlite:///PATH) or PostgreSQL (postgresql+psycopg://USER@HOST/DB)"
_BACKENDS = frozenset({"sqlite", "postgresql"})


def db_url_problem(url: str) -> str | None:
    """Why ``url`` is not a database URL zhengwen can use (its password masked), or None.

    Checked before anything opens the database: SQLAlchemy's own errors for a malformed URL, a
    database kind it does not know (``foo://``), one zhengwen does not support (``mysql://``) or
    a driver that is not installed come from deep inside ``create_engine`` or the first connect,
    which a command would show as a traceback.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return f"not a database URL: {redact_url(url)}"
    shown = redact_url(url)
    if parsed.get_backend_name() not in _BACKENDS:
        return (
            f"unsupported database URL scheme {parsed.drivername!r} in {shown}: "
            f"zhengwen stores its archive in {SUPPORTED_DATABASES}"
        )
    try:
        dialect = parsed.get_dialect()
        dialect.import_dbapi()
    except (NoSuchModuleError, ImportError):
        return (
            f"the database driver {parsed.get_driver_name()!r} of {shown} is not installed: "
            f"zhengwen stores its archive in {SUPPORTED_DATABASES}"
        )
    if dialect.is_async:
        return (
            f"the database driver {parsed.get_driver_name()!r} of {shown} is asynchronous: "
            f"zhengwen stores its archive in {SUPPORTED_DATABASES}"
        )
    return None


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///PATH`` URL; None for another database, memory or a bad URL."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    return path


def _redact_text(url: str) -> str:
    masked = _USERINFO.sub(lambda m: f"{m.group('head')}:{_MASK}@", url)
    if "?" not in masked:
        return masked
    head, _, query = masked.partition("?")
    pairs = [
        (k, _MASK if k.lower() in _SECRET_KEYS else v)
        for k, v in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{head}?{urlencode(pairs, safe='*')}"
