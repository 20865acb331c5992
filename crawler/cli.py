"""The ``zhengwen`` command: a thin layer over the importable API.

Exit codes (documented in the README):
  0  success
  1  the crawl ran but failed (no page of the site could be fetched), an input file is bad, or
     a command ran but could not finish (a `sql` query over its budget, an export write)
  2  usage or site-config error (nothing was fetched)
  3  the archive/database cannot be opened (nothing was fetched)
  4  another run of this site is in progress (nothing was fetched; see crawler.lock)
  141  the reader of the output closed it (``zhengwen query | head``): quiet, as cat or grep
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

if len(sys.argv) > 1 and sys.argv[1] == "crawl":
    # Before the heavy imports: a signal while the crawl starts is remembered, not fatal.
    from crawler import early_signals

    early_signals.install()
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from crawler.cli_common import (
    EXIT_BROKEN_PIPE,
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_STORAGE,
    EXIT_USAGE,
    fail,
)
from crawler.config import NUMERIC_KEYS, ConfigError, resolve_site

if TYPE_CHECKING:
    from storage.db import Database

F = TypeVar("F", bound=Callable[..., Any])


def archive_option(f: F) -> F:
    return click.option(
        "--archive",
        "archive",
        type=click.Path(path_type=Path),
        default=Path("archive"),
        show_default=True,
        help="Archive folder (SQLite file, Parquet dataset, logs).",
        callback=_checked_archive,
    )(f)


def _checked_archive(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """An --archive that exists but is no folder is an archive that cannot be opened (exit 3,
    as for every other archive that cannot be opened), whichever command meets it."""
    if value.exists() and not value.is_dir():
        fail(
            f"no archive at {value}: it is not a folder (--archive names the archive folder)",
            EXIT_STORAGE,
        )
    return value


def db_option(f: F) -> F:
    return click.option(
        "--db",
        "db_url",
        default=None,
        envvar="ZHENGWEN_DB_URL",
        metavar="URL",
        help="SQLAlchemy database URL (e.g. postgresql+psycopg://user@host/db). "
        "Default: $ZHENGWEN_DB_URL, else the SQLite file inside the archive folder.",
        callback=_checked_db_url,
    )(f)


def _checked_db_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A malformed URL is a one-line error (exit 3) naming it with its password masked."""
    if value is not None:
        from storage.paths import db_url_problem

        problem = db_url_problem(value)
        if problem is not None:
            fail(problem, EXIT_STORAGE)
    return value


def _json_value(value: Any) -> Any:
    """JSON for what `json` cannot write: times as ISO 8601 with a ``T`` (as query and export
    write them), anything else as its string."""
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class _Zhengwen(click.Group):
    """The command group, with the README's error conventions for what click itself reports:
    a usage error is one ``error:`` line (exit 2), and a closed output pipe ends the command
    quietly (exit 141) instead of an error message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # Later writes (the interpreter's final flush included) go nowhere instead of
            # failing again with "Exception ignored ... BrokenPipeError".
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
            fail(exc.format_message() + where, EXIT_USAGE)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(EXIT_FAILED)
        # Non-standalone, click returns the command's value, or the code of an early exit
        # (--help, --version): our commands return nothing but a CrawlResult.
        sys.exit(code if isinstance(code, int) else EXIT_OK)


@click.group(cls=_Zhengwen, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zhengwen")
def cli() -> None:
    """zhengwen (正文): crawl news portals into a clean archive of articles (Parquet + SQL)."""


@cli.command()
@click.argument("site_or_config")
@archive_option
@db_option
@click.option(
    "--max-pages",
    type=NUMERIC_KEYS["max_pages"].click_type(),
    default=None,
    help="Stop after fetching N pages.",
)
@click.option("--quiet", is_flag=True, help="No progress line, only the summary.")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    default="INFO",
    show_default=True,
    help="Level of the run's log file (archive/logs/).",
)
@click.option(
    "--trigger",
    type=click.Choice(["manual", "schedule"]),
    default="manual",
    show_default=True,
    help="Recorded in the run record; `zhengwen schedule` passes 'schedule'.",
)
def crawl(
    site_or_config: str,
    archive: Path,
    db_url: str | None,
    max_pages: int | None,
    quiet: bool,
    log_level: str,
    trigger: str,
) -> None:
    """Crawl one site into the archive.

    SITE_OR_CONFIG is a site name (looked up as sites/NAME.toml), a path to a .toml config, or
    a portal's URL: a zero-config crawl within its host that learns what its articles look
    like, into a site named after the host (`zhengwen new-site URL` writes a config instead).

    Example: zhengwen crawl sites/example.toml --archive archive --max-pages 200
    """
    from crawler.discovery.zeroconfig import UrlProblem, is_url, zero_config_site

    try:
        if is_url(site_or_config):
            site, note = zero_config_site(site_or_config)
            if note:
                click.echo(f"note: {note}", err=True)
        else:
            site = resolve_site(site_or_config)
    except (ConfigError, UrlProblem) as exc:
        fail(str(exc), EXIT_USAGE)
    if _is_bundled_demo(site):
        fail(
            "the bundled demo portal is only served while `zhengwen demo` runs (its config names "
            "a placeholder address); run `zhengwen demo --archive DIR [--db URL]` instead",
            EXIT_USAGE,
        )
    result = _crawl_and_report(
        site,
        archive,
        db_url,
        max_pages=max_pages,
        progress=not quiet,
        log_level=log_level,
        trigger=trigger,
    )
    if result.counters.errors.get("not_html") and not result.counters.stored:
        fail(f"{site.start_urls[0]} is not an HTML page: nothing to discover", EXIT_FAILED)


def _is_bundled_demo(site: Any) -> bool:
    from crawler.config import load_site_file
    from crawler.demo import DEMO_TOML

    bundled = load_site_file(DEMO_TOML)
    return bool(site.name == bundled.name and list(site.start_urls) == list(bundled.start_urls))


def _crawl_and_report(
    site: Any,
    archive: Path,
    db_url: str | None,
    *,
    max_pages: int | None,
    progress: bool,
    log_level: str = "INFO",
    trigger: str = "manual",
) -> Any:
    from crawler.lock import SiteLockHeld
    from crawler.runner import StorageUnavailable, run_crawl

    try:
        result = run_crawl(
            site,
            archive,
            db_url,
            max_pages=max_pages,
            progress=progress,
            log_level=log_level,
            trigger=trigger,
        )
    except StorageUnavailable as exc:
        fail(str(exc), EXIT_STORAGE)
    except SiteLockHeld as exc:
        fail(str(exc), EXIT_BUSY)
    c = result.counters
    dropped = ", ".join(f"{k} {v}" for k, v in c.dropped.items()) or "none"
    errors = ", ".join(f"{k} {v}" for k, v in c.errors.items()) or "none"
    click.echo(
        f"{result.site}: {result.status} in {result.elapsed:.1f}s: fetched {c.pages_fetched} pages "
        f"({c.list_pages} list, {c.article_pages} article); articles {c.articles_new} new, "
        f"{c.articles_changed} changed, {c.articles_unchanged} unchanged"
        + (f" ({c.articles_not_modified} not modified)" if c.articles_not_modified else "")
        + (f", {c.articles_removed} removed" if c.articles_removed else "")
        + f"; dropped: {dropped}; errors: {errors}"
        + "".join(
            f"; {label}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
            for label, counts in (
                ("skipped", c.skipped),
                ("retried", c.retries),
                ("found by", c.discovered),
            )
            if counts
        )
    )
    if result.log_file is not None:
        click.echo(f"log: {result.log_file}")
    if result.drift:
        click.echo(
            f"warning: {site.name} extracts worse than usual (site redesign?): "
            + "; ".join(result.drift)
            + f". Check a page with `zhengwen extract PAGE.html --site {site.name}`.",
            err=True,
        )
    if result.status == "failed":
        start = ", ".join(site.start_urls)
        if c.pages_fetched == 0:
            hint = (
                "; the site is on a private or loopback address: allow it with "
                "`allow_private = true` (or a list of host:port) in its config"
                if c.errors.get("private_address")
                else ""
            )
            fail(f"could not fetch any page of {site.name} ({start}): {errors}{hint}", EXIT_FAILED)
        if result.halt:
            fail(f"crawl of {site.name} stopped: {result.halt}", EXIT_FAILED)
        if result.failure:
            fail(f"crawl of {site.name} failed: {result.failure}", EXIT_FAILED)
        fail(f"crawl of {site.name} failed ({result.finish_reason})", EXIT_FAILED)
    return result


@cli.command()
@archive_option
@click.option(
    "--articles",
    type=click.IntRange(min=1, max=5000),
    default=48,
    show_default=True,
    help="How many articles the demo portal publishes.",
)
@click.option("--quiet", is_flag=True, help="No progress line, only the summary.")
@db_option
def demo(archive: Path, articles: int, quiet: bool, db_url: str | None) -> None:
    """Serve the bundled demo portal on 127.0.0.1 and crawl it into the archive.

    No internet needed: the portal (a GBK-encoded Chinese news site) is generated and served by
    this process for the length of the crawl. With --db (or $ZHENGWEN_DB_URL) the articles go
    to that database, Parquet and raw files to the archive folder.

    Example: zhengwen demo --archive archive
    """
    from crawler.demo import demo_site
    from crawler.demo.content import Portal
    from crawler.demo.server import serve

    portal = Portal.generate(n_articles=articles)
    try:
        # The port of the bundled config when it is free: the articles' URLs, and so their
        # keys, are then the same from run to run (a second demo finds them unchanged).
        server = serve(portal, port=DEMO_PORT)
    except OSError:
        server = serve(portal)
    with server:
        click.echo(f"demo portal: {server.url}/ ({articles} articles)")
        _crawl_and_report(
            demo_site(server.url), archive, db_url, max_pages=None, progress=not quiet
        )
    _print_stats(archive, db_url)
    zhengwen, python = _commands()
    db = " --db $ZHENGWEN_DB_URL" if db_url else ""
    click.echo(
        "\nNext:\n"
        f"  {zhengwen} stats --archive {archive}{db}\n"
        f"  {zhengwen} query --archive {archive}{db} --q 扶贫 --limit 5\n"
        f'  {python} -c "import pyarrow.dataset as ds; '
        f"print(ds.dataset('{archive}/parquet', partitioning='hive').to_table(columns=['title']))\"\n"
        + "  "
        + (
            ""
            if db_url
            else f"SQLite: {archive}/zhengwen.sqlite (tables articles, article_versions, "
            "crawl_runs; docs/schema.md); "
        )
        + f"Parquet: {archive}/parquet/site=*/date=*/*.parquet"
    )


#: The port in the bundled demo config (crawler/demo/demo.toml).
DEMO_PORT = 8765


def _commands() -> tuple[str, str]:
    """How to run ``zhengwen`` and this Python as printed hints: the venv's own scripts (after
    ``python3 tasks.py demo`` neither ``zhengwen`` nor the system ``python`` with pyarrow is on
    the PATH), relative to the working directory when they are below it."""
    import os

    python = Path(sys.executable)
    script = python.parent / "zhengwen"

    def shown(path: Path) -> str:
        try:
            rel = path.relative_to(Path.cwd())
        except ValueError:
            return str(path)
        return str(rel) if rel.parts and rel.parts[0] == ".." else os.path.join(".", rel)

    return (shown(script) if script.exists() else "zhengwen"), shown(python)


@cli.command()
@archive_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stats(archive: Path, db_url: str | None, as_json: bool) -> None:
    """Show what the archive holds, per site.

    Example: zhengwen stats --archive archive
    """
    _print_stats(archive, db_url, as_json)


def _print_stats(archive: Path, db_url: str | None, as_json: bool = False) -> None:
    from storage.parquet import ParquetDataset
    from storage.paths import ArchivePaths

    db = _open_existing(archive, db_url)
    try:
        rows = db.site_stats()
    finally:
        db.dispose()
    paths = ArchivePaths(archive)
    parquet_rows = ParquetDataset(paths.parquet_dir).count()
    if as_json:
        click.echo(
            json.dumps(
                {"sites": rows, "parquet_rows": parquet_rows},
                default=_json_value,
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not rows:
        click.echo("the archive is empty")
        return
    header = ("site", "articles", "first published", "last published", "last crawl")
    table = [header] + [
        (
            str(r["site"]),
            str(r["articles"]),
            _short(r.get("first_published_at")),
            _short(r.get("last_published_at")),
            _short(r.get("last_run_started_at")),
        )
        for r in rows
    ]
    _echo_table(table)
    click.echo(f"Parquet rows (all versions): {parquet_rows}")


def _echo_table(rows: Sequence[tuple[str, ...]]) -> None:
    """Left-aligned columns; East Asian wide characters count two cells, as a terminal shows them."""
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    widths = [max(width(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell + " " * (w - width(cell)) for cell, w in zip(row, widths, strict=True)]
        click.echo("  ".join(cells).rstrip())


@cli.command()
@archive_option
@db_option
@click.option("--site", default=None, help="Only runs of this site.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="How many runs to show, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with all counters).")
def runs(archive: Path, db_url: str | None, site: str | None, limit: int, as_json: bool) -> None:
    """List crawl runs, newest first, with their counters and drift alerts.

    A run whose pages extract markedly worse than the site's usual (fewer bodies, titles or
    dates: often a redesign) is flagged in the DRIFT column.

    Example: zhengwen runs --site demo --limit 5
    """

    db = _open_existing(archive, db_url)
    try:
        rows = db.runs(site, limit=min(limit, 2**62))  # beyond any count: all of them
    finally:
        db.dispose()
    if as_json:
        from crawler.cli_query import print_json_array

        print_json_array((dataclasses.asdict(r) for r in rows), default=_json_value)
        return
    if not rows:
        click.echo("no runs recorded")
        return
    table: list[tuple[str, ...]] = [
        (
            "run",
            "site",
            "trigger",
            "started",
            "secs",
            "status",
            "pages",
            "new",
            "changed",
            "unchanged",
            "found by",
            "dropped",
            "errors",
            "drift",
        )
    ]
    for r in rows:
        c = r.counters or {}
        # One decimal, as the crawl's summary line shows the same duration.
        secs = f"{(r.finished_at - r.started_at).total_seconds():.1f}" if r.finished_at else "-"
        table.append(
            (
                r.id[:8],
                r.site,
                r.trigger,
                _short(r.started_at),
                secs,
                r.status,
                str(c.get("pages_fetched", "-")),
                str(c.get("articles_new", "-")),
                str(c.get("articles_changed", "-")),
                str(c.get("articles_unchanged", "-")),
                ", ".join(f"{k} {v}" for k, v in (c.get("discovered") or {}).items()) or "-",
                str(sum(c.get("dropped", {}).values())),
                str(sum(c.get("errors", {}).values())),
                "; ".join(c.get("drift") or []) or "-",
            )
        )
    _echo_table(table)


def _open_existing(archive: Path, db_url: str | None, *, write: bool = False) -> Database:
    """The archive's database, or a one-line error (exit 3) when there is none to open.

    Read-only unless ``write`` (``check-archive --repair``): a reader creates, migrates and
    writes nothing, so it works on an archive it may not write (read-only media, another
    user's) and leaves every byte of it as it was (`storage.query.open_read_only`).
    """
    from storage.paths import ArchivePaths
    from storage.query import ArchiveError, open_read_only

    try:
        db, _ = open_read_only(db_url or archive)
    except ArchiveError as exc:
        fail(str(exc), EXIT_STORAGE)
    if not write:
        return db
    db.dispose()
    from crawler.runner import StorageUnavailable, check_storage
    from storage.db import Database

    paths = ArchivePaths(archive)
    url = db_url or paths.default_db_url
    try:
        check_storage(paths, url)  # brings an older archive's schema up to date
    except StorageUnavailable as exc:
        fail(str(exc), EXIT_STORAGE)
    return Database(url)


def _short(value: Any) -> str:
    if value is None:
        return "-"
    text = value.isoformat(timespec="minutes") if hasattr(value, "isoformat") else str(value)
    return text


@cli.command()
@click.argument("page", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--url", default=None, help="The page's URL (resolves relative links). Default: file://PAGE."
)
@click.option(
    "--site", "site_name", default=None, help="Site name or config path whose rules to use."
)
@click.option(
    "--explain",
    is_flag=True,
    help="Say how the body was found: the candidates and their scores, the one chosen and why, "
    "and which rule removed which line.",
)
def extract(page: Path, url: str | None, site_name: str | None, explain: bool) -> None:
    """Print the Article extracted from one saved HTML page, as JSON.

    The tool for writing a site config: save a page, try selectors, see the fields. With
    --explain, a readable account of the extraction instead (also for a page that fails).

    Example: zhengwen extract saved/article.html --url https://news.example.com/a/1.html --site example
    """
    from crawler.extract import ExtractionError, ExtractOptions
    from crawler.extract.core import extract_with_report
    from crawler.extract.report import Report

    options = ExtractOptions()
    if site_name:
        try:
            options = ExtractOptions.from_site(resolve_site(site_name))
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
    # No more than the size limit plus one byte: a larger file is refused as too_large without
    # being read into memory whole.
    with page.open("rb") as f:
        html = f.read(options.max_bytes + 1)
    report = Report()
    try:
        article, _ = extract_with_report(
            html, url or page.resolve().as_uri(), options, report=report
        )
    except ExtractionError as exc:
        if explain:
            click.echo(explain_text(report, None))
        for warning in selector_warnings(report):
            click.echo(f"warning: {warning}", err=True)
        fail(f"{page}: {exc.reason}: {exc}", EXIT_FAILED)
    # A selector that matched nothing is not an error (the heuristics fill the field), but the
    # user writing the config must know it did nothing.
    for warning in selector_warnings(report):
        click.echo(f"warning: {warning}", err=True)
    if explain:
        click.echo(explain_text(report, article.to_json_dict()))
        return
    click.echo(json.dumps(article.to_json_dict(), ensure_ascii=False, indent=2))


#: Why a selector's text was of no use, per field (`Report.unusable_selectors`).
UNUSABLE_WHY = {"published_at": "not a date"}


def selector_warnings(report: Any) -> list[str]:
    """The site's selectors that did nothing on this page (`Report.unmatched_selectors`,
    `Report.unusable_selectors`), one line each kind."""
    out = []
    if report.unmatched_selectors:
        names = ", ".join(report.unmatched_selectors)
        out.append(f"selectors that matched nothing on this page: {names}")
    if report.unusable_selectors:
        names = ", ".join(
            f"{n} ({UNUSABLE_WHY.get(n, 'unusable')})" for n in report.unusable_selectors
        )
        out.append(f"selectors whose text could not be used on this page: {names}")
    return out


def explain_text(report: Any, article: dict[str, Any] | None) -> str:
    """``zhengwen extract --explain``: the extraction's `Report` for a reader."""
    out = []
    if article is not None:
        for key in ("title", "published_at", "source", "author", "editor", "lead", "category"):
            out.append(f"{key}: {article.get(key)}")
        out.append(
            f"body: {len(article['body'])} characters, {article['body'].count(chr(10)) + 1} lines"
        )
    out.append(f"decoded as {report.codec or '?'}, {report.replaced} characters replaced")
    out.append(f"body candidate: {report.candidate or '-'} ({report.reason or 'not chosen'})")
    if report.dom_note:
        out.append(f"  dom container: {report.dom_note}")
    for name, score in report.scores.items():
        details = ", ".join(f"{k} {v}" for k, v in score.items())
        out.append(f"  {name}: {details}")
    if report.unmatched_selectors:
        out.append(f"selectors that matched nothing: {', '.join(report.unmatched_selectors)}")
    if report.unusable_selectors:
        names = ", ".join(report.unusable_selectors)
        out.append(f"selectors whose text could not be used: {names}")
    for rule in report.kept_by_bound:
        out.append(f"rule not applied (it would remove too much of the body): {rule}")
    out.append(f"lines removed: {len(report.removed)}")
    for rule, line in report.removed:
        out.append(f"  [{rule}] {line[:100]}")
    return "\n".join(out)


@cli.command("check-site")
@click.argument("site_or_config")
def check_site(site_or_config: str) -> None:
    """Validate a site config without fetching anything.

    Every problem of the file is reported at once, also start URLs the crawl would refuse (a
    private address without allow_private, a host outside allowed_domains); host names are
    not resolved.

    Example: zhengwen check-site sites/example.toml
    """
    try:
        site = resolve_site(site_or_config, check_start_urls=True)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    click.echo(
        f"{site.path}: ok (site {site.name}, {len(site.start_urls)} start URLs, domains {', '.join(site.allowed_domains)})"
    )


def main() -> None:
    cli(prog_name="zhengwen")


# Commands kept in their own modules. They receive the shared options instead of importing this
# module, which under `python -m crawler.cli` would be loaded a second time as `crawler.cli`.
from crawler.cli_schedule import schedule_command  # noqa: E402

cli.add_command(schedule_command(archive_option, db_option))

# Commands kept in their own modules. They receive the shared options instead of importing this
# module, which under `python -m crawler.cli` would be loaded a second time as `crawler.cli`.
from crawler.cli_check import check_archive_command  # noqa: E402
from crawler.cli_reextract import reextract_command  # noqa: E402

cli.add_command(reextract_command(archive_option, db_option))
from crawler.cli_ingest import ingest_command  # noqa: E402

cli.add_command(ingest_command(archive_option, db_option))
from crawler.cli_history import history_command  # noqa: E402

cli.add_command(history_command(archive_option, db_option, _open_existing))
cli.add_command(check_archive_command(archive_option, db_option, _open_existing))
from crawler.cli_query import query_commands  # noqa: E402

for _command in query_commands(archive_option, db_option):
    cli.add_command(_command)
from crawler.cli_newsite import new_site_command  # noqa: E402

cli.add_command(new_site_command(_echo_table))
from crawler.cli_serve import serve_command  # noqa: E402

cli.add_command(serve_command(archive_option, db_option))
from crawler.cli_distributed import cluster_commands  # noqa: E402

for _command in cluster_commands(archive_option, db_option):
    cli.add_command(_command)


if __name__ == "__main__":
    main()
