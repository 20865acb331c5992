"""``zhengwen query``, ``zhengwen sql`` and ``zhengwen export``: reading the archive.

Thin over `storage.query.Archive`, `storage.query.read_only_sql` and `storage.export`; the heavy
modules (SQLAlchemy, pyarrow, DuckDB) are imported inside the commands so that ``zhengwen
--help`` and the extraction workers that import `crawler.cli` stay light.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from csv import writer as csv_writer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.bounds import NumberRange
from crawler.cli_common import EXIT_FAILED, EXIT_STORAGE, EXIT_USAGE
from crawler.cli_common import fail as _fail
from storage.diskfull import first_line

if TYPE_CHECKING:
    from storage.query import Archive

#: Rows `zhengwen sql` shows as a table; more is a job for --format jsonl/csv or `export`.
TABLE_ROWS = 1000
#: Widest cell of a table (display cells) before it is cut with "…".
MAX_CELL = 60
OUTPUT_FORMATS = ("table", "json", "jsonl", "csv")


def output_format(help_text: str) -> Callable[[Any], Any]:
    """The ``--format table|json|jsonl|csv`` option that query and sql share."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(OUTPUT_FORMATS),
        default="table",
        show_default=True,
        help=help_text,
    )


@contextmanager
def _errors() -> Iterator[None]:
    """Our error types as one line and an exit code, never a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.export import ExportError
    from storage.query import ArchiveError, QueryError, SqlBudgetError, SqlError

    try:
        yield
    except BrokenPipeError:
        raise  # the reader closed our output (`| head`): crawler.cli ends quietly
    except ArchiveError as exc:
        _fail(str(exc), EXIT_STORAGE)
    except SqlBudgetError as exc:  # the query ran, and was stopped
        _fail(str(exc), EXIT_FAILED)
    except (QueryError, SqlError) as exc:  # SearchQueryError is a ValueError too
        _fail(str(exc), EXIT_USAGE)
    except ExportError as exc:  # --out names no folder, or a folder: a usage error
        _fail(str(exc), EXIT_USAGE)
    except SQLAlchemyError as exc:
        _fail(f"database error: {first_line(exc)}", EXIT_STORAGE)
    except OSError as exc:  # writing an export failed midway (disk full …)
        _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), EXIT_FAILED)
    except ValueError as exc:  # storage.search.SearchQueryError: an unsearchable --q
        _fail(str(exc), EXIT_USAGE)


class Stopped(BaseException):
    """A SIGTERM or SIGINT arrived while a command was writing (`_stopped_by_signals`); a
    BaseException, as KeyboardInterrupt, so that no ``except Exception`` on the way holds it."""


@contextmanager
def _stopped_by_signals(what: str) -> Iterator[None]:
    """SIGTERM and SIGINT raise `Stopped` where the command is, so that what it was writing
    unwinds (an export removes its temp files) and the command ends with one line, exit 1."""

    def stop(signum: int, _frame: Any) -> None:
        raise Stopped(signal.Signals(signum).name)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except Stopped as exc:
        _fail(f"{what} stopped by {exc}; its temp files were removed", EXIT_FAILED)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def filter_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The filters shared by query and export (see docs/query.md for the rules)."""
    options = [
        click.option("--site", default=None, help="Only this site (config name)."),
        click.option(
            "--since",
            default=None,
            metavar="DATE",
            help="Published at or after: 2020, 2020-10, 2020-10-03 or 2020-10-03T21:26+08:00.",
        ),
        click.option(
            "--until",
            default=None,
            metavar="DATE",
            help="Published up to the end of this year/month/day (or up to this time).",
        ),
        click.option(
            "--tz",
            default="UTC",
            show_default=True,
            help="Time zone of --since/--until dates without an offset (IANA name, e.g. "
            "Asia/Shanghai); `query --format table` also shows its dates in it. JSON, JSONL, CSV "
            "and exports always write UTC.",
        ),
        click.option("--source", default=None, help="Exact original publisher (来源)."),
        click.option("--author", default=None, help="Exact author."),
        click.option("--category", default=None, help="Exact category (section)."),
        click.option("--q", "q", default=None, metavar="TEXT", help="Full-text search."),
        click.option(
            "--exclude-duplicates", is_flag=True, help="Leave out copies of earlier articles."
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _check_filters(filters: dict[str, Any], fields: list[str] | None = None) -> None:
    """A bad filter value (or field name) is a usage error before the archive is opened: a
    search query past its length bound is refused the same way on every backend, and whether
    or not the archive is there."""
    from storage.query import Filters, check_fields

    Filters.build(**filters)
    check_fields(fields)


def _open(archive: Path, db_url: str | None) -> Archive:
    from storage.query import Archive

    return Archive(db_url or archive)


def query_commands(
    archive_option: Callable[[Any], Any], db_option: Callable[[Any], Any]
) -> list[click.Command]:
    """The three commands, given the CLI's shared ``--archive`` and ``--db`` options."""

    @click.command("query")
    @archive_option
    @db_option
    @filter_options
    @click.option(
        "--limit",
        type=click.IntRange(min=0),
        default=20,
        show_default=True,
        help="At most N articles (0: no limit).",
    )
    @click.option(
        "--order",
        type=click.Choice(["published", "site", "rank"]),
        default=None,
        help="Newest first (default), by site, or best match first (default with --q).",
    )
    @output_format(
        "A table for reading; json, jsonl or csv (whole records, UTC times) for programs."
    )
    def query(
        archive: Path,
        db_url: str | None,
        limit: int,
        order: Any,
        fmt: str,
        **filters: Any,
    ) -> None:
        """Find articles by site, date, source, author, category or words.

        The table shows date, site, title and source (and a snippet with --q); json, jsonl and
        csv give whole records. Dates are compared as instants: --since 2020-10 --tz
        Asia/Shanghai means from 2020-10-01 00:00 in Shanghai.

        Example: zhengwen query --q 驻点招商 --since 2020-10 --tz Asia/Shanghai
        """
        with _errors():
            _check_filters(filters)
            with _open(archive, db_url) as arch:
                found = arch.articles(limit=limit or None, order=order, **filters)
                _print_articles(found, fmt, filters["tz"], searched=filters["q"] is not None)

    @click.command("sql")
    @click.argument("statement", metavar="SELECT")
    @archive_option
    @output_format("A table for reading; json, jsonl or csv for programs.")
    @click.option(
        "--timeout",
        type=NumberRange(0, 86_400).click_type(),
        default=60.0,
        show_default=True,
        metavar="SECONDS",
        help="Stop the query after this long, its output included (0: no limit).",
    )
    @click.option(
        "--memory-limit",
        default="1GB",
        show_default=True,
        metavar="SIZE",
        help="DuckDB's memory for the query (500MB, 4GB, …); nothing spills to disk.",
    )
    def sql(statement: str, archive: Path, fmt: str, timeout: float, memory_limit: str) -> None:
        """Run one read-only SQL query (DuckDB) over the archive's Parquet dataset.

        The view ``articles`` holds every stored version of every article (usually one per URL)
        with the ``site`` and ``date`` partition columns. Only a single SELECT (WITH, FROM,
        DESCRIBE, SUMMARIZE) runs; writes and file access are refused. A query that runs out of
        its time or memory budget (--timeout, --memory-limit) is stopped with an error (exit 1).

        Example: zhengwen sql "SELECT site, count(*) AS n FROM articles GROUP BY site"
        """
        from storage.paths import ArchivePaths
        from storage.query import SqlError, read_only_sql

        paths = ArchivePaths(archive)
        if not paths.root.is_dir():
            _fail(f"no archive at {archive} (no such folder)", EXIT_STORAGE)
        with _errors():
            try:
                result = read_only_sql(
                    paths.parquet_dir,
                    statement,
                    timeout=timeout or None,
                    memory_limit=memory_limit,
                )
            except SqlError as exc:
                if str(exc).startswith("bad memory limit"):
                    _fail(f"--memory-limit: {exc}", EXIT_USAGE)
                raise
            _print_rows(result.columns, result.rows, fmt)

    @click.command("export")
    @archive_option
    @db_option
    @filter_options
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["parquet", "jsonl", "csv"]),
        required=True,
        help="Output format.",
    )
    @click.option(
        "--out",
        required=True,
        metavar="PATH",
        help="Output file; or a folder for articles.FORMAT + README.md: an existing one, or a "
        "path ending in / (created when its parent exists).",
    )
    @click.option(
        "--fields",
        default=None,
        metavar="A,B,C",
        help="Only these columns, in this order (default: all).",
    )
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    def export(
        archive: Path,
        db_url: str | None,
        fmt: Any,
        out: str,
        fields: str | None,
        quiet: bool,
        **filters: Any,
    ) -> None:
        """Export articles as a dataset file with a dataset card (README) beside it.

        Streamed in batches (memory stays flat), in a deterministic order (site, published_at,
        url_hash), written atomically. The card lists the schema, counts per site, the date
        range, the filters and the zhengwen version.

        Example: zhengwen export --format parquet --out news.parquet --site demo --exclude-duplicates
        """
        from storage.export import export as run_export
        from storage.export import targets

        folder = targets(out, fmt)[0].parent
        writable = folder if folder.is_dir() else folder.parent
        if writable.is_dir() and not os.access(writable, os.W_OK):
            _fail(f"cannot write to {writable}: permission denied (--out {out})", EXIT_USAGE)
        chosen = None if fields is None else fields.split(",")
        with _errors(), _stopped_by_signals("export"):
            _check_filters(filters, chosen)
            with _open(archive, db_url) as arch, _progress(quiet) as progress:
                result = run_export(arch, out, fmt, fields=chosen, progress=progress, **filters)
        click.echo(f"wrote {result.rows} articles to {result.path} (dataset card: {result.card})")

    return [query, sql, export]


# -- output ---------------------------------------------------------------------------------------


def _width(text: str) -> int:
    """Display cells: East Asian wide characters take two, combining marks none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def _fit(text: str, limit: int) -> str:
    """``text`` on one line, cut with "…" to at most ``limit`` display cells."""
    text = " ".join(text.split())
    if _width(text) <= limit:
        return text
    out, used = [], 0
    for c in text:
        w = _width(c)
        if used + w > limit - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def _around_mark(text: str, lead: int) -> str:
    """``text`` starting at most ``lead`` display cells before its first 【match】, so that a
    snippet cut to the terminal's width still shows the match."""
    text = " ".join(text.split())
    at = text.find("【")
    if at < 0 or _width(text[:at]) <= lead:
        return text
    start = at
    while start > 0 and _width(text[start - 1 : at]) < lead:
        start -= 1
    return "…" + text[start:].lstrip("…")


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned columns as lines; the last column is cut to the terminal's width."""
    cells = [[_fit(c, MAX_CELL) for c in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(cells[0]))]
    if len(widths) > 1:
        room = shutil.get_terminal_size((120, 24)).columns - sum(widths[:-1]) - 2 * len(widths)
        widths[-1] = max(10, min(widths[-1], room))
    lines = []
    for row in cells:
        row = [*row[:-1], _fit(row[-1], widths[-1])]
        padded = [c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)]
        lines.append("  ".join(padded).rstrip())
    return lines


def _print_articles(found: Iterable[Any], fmt: str, tz: str, *, searched: bool) -> None:
    from storage.export import csv_value, json_value
    from storage.query import FIELDS, SearchHit

    def record(item: Any) -> dict[str, Any]:
        if isinstance(item, SearchHit):
            out = item.article.to_dict()
            out.update(rank=item.rank, snippet=item.snippet)
            return out
        return dict(item.to_dict())

    columns = [*FIELDS, "rank", "snippet"] if searched else list(FIELDS)
    if fmt == "table":
        _article_table(found, tz, searched=searched)
    elif fmt == "json":
        print_json_array({k: json_value(v) for k, v in record(i).items()} for i in found)
    elif fmt == "jsonl":
        for item in found:
            row = {k: json_value(v) for k, v in record(item).items()}
            click.echo(json.dumps(row, ensure_ascii=False, default=str))
    else:
        _print_csv(columns, ([csv_value(record(i)[c]) for c in columns] for i in found))


def _article_table(found: Iterable[Any], tz: str, *, searched: bool) -> None:
    from storage.query import SearchHit, parse_tz

    zone = parse_tz(tz)
    rows: list[list[str]] = [["date", "site", "title", "source"]]
    snippets: list[str] = []
    for item in found:
        article = item.article if isinstance(item, SearchHit) else item
        when = article.published_at
        rows.append(
            [
                when.astimezone(zone).strftime("%Y-%m-%d %H:%M") if when else "-",
                article.site,
                article.title or "-",
                article.source or "-",
            ]
        )
        if isinstance(item, SearchHit):
            snippets.append(item.snippet)
    if len(rows) == 1:
        click.echo("no articles match")
        return
    lines = _table(rows)
    click.echo(lines[0])
    # With --q each snippet goes on its own indented line: it is long, and the match is the point.
    width = shutil.get_terminal_size((120, 24)).columns - 4
    for i, line in enumerate(lines[1:]):
        click.echo(line)
        if searched:
            click.echo("    " + _fit(_around_mark(snippets[i], width // 3), width))


def _print_rows(columns: list[str], rows: Iterator[tuple[Any, ...]], fmt: str) -> None:
    from storage.export import csv_value, json_value

    if fmt == "table":
        shown: list[list[str]] = [columns]
        more = 0
        for row in rows:
            if len(shown) > TABLE_ROWS:
                more += 1
                continue
            shown.append(["NULL" if v is None else str(json_value(v)) for v in row])
        for line in _table(shown):
            click.echo(line)
        if more:
            click.echo(f"… {more} more rows (add LIMIT, or use --format jsonl/csv)", err=True)
    elif fmt == "json":
        print_json_array(dict(zip(columns, [json_value(v) for v in r], strict=True)) for r in rows)
    elif fmt == "jsonl":
        for r in rows:
            obj = dict(zip(columns, [json_value(v) for v in r], strict=True))
            click.echo(json.dumps(obj, ensure_ascii=False, default=str))
    else:
        _print_csv(columns, ([csv_value(v) for v in r] for r in rows))


def print_json_array(
    objects: Iterable[dict[str, Any]], default: Callable[[Any], Any] = str
) -> None:
    """What ``json.dumps(list(objects), indent=2)`` prints, one object at a time: memory stays
    flat however many rows a query returns (and a closed pipe is noticed at the next row)."""
    first = True
    for obj in objects:
        text = json.dumps(obj, ensure_ascii=False, indent=2, default=default)
        click.echo(("[\n  " if first else ",\n  ") + text.replace("\n", "\n  "), nl=False)
        first = False
    click.echo("[]" if first else "\n]")


def _print_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    writer = csv_writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(row)


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal; else a line every few seconds."""
    if quiet:
        yield None
        return
    if sys.stderr.isatty():
        state: dict[str, Any] = {}

        def bar(done: int, total: int) -> None:
            if "bar" not in state:
                state["bar"] = click.progressbar(
                    length=total, label="exporting", file=sys.stderr, show_pos=True
                )
                state["bar"].__enter__()
                state["done"] = 0
            state["bar"].update(done - state["done"])
            state["done"] = done

        try:
            yield bar
        finally:
            if "bar" in state:
                state["bar"].__exit__(None, None, None)
        return
    last = [time.monotonic()]

    def lines(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 5.0 or done == total:
            last[0] = now
            click.echo(f"exported {done}/{total} articles", err=True)

    yield lines
