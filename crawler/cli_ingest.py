"""``zhengwen ingest``: web-archive files (WARC, ARC, WACZ) into the archive (crawler.ingest)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crawler.bounds import NumberRange
from crawler.cli_common import EXIT_STORAGE, EXIT_USAGE
from crawler.cli_common import fail as _fail
from storage.diskfull import store_error_line

if TYPE_CHECKING:
    from crawler.config import SiteConfig
    from crawler.ingest import IngestSummary

_DAY = click.DateTime(formats=["%Y-%m-%d"])


def _configs(site: tuple[str, ...], sites_dir: Path | None) -> list[SiteConfig]:
    from crawler.config import ConfigError, load_site_file, resolve_site

    configs: list[SiteConfig] = []
    try:
        for name in site:
            configs.append(resolve_site(name))
        if sites_dir is not None:
            files = sorted(sites_dir.glob("*.toml"))
            if not files:
                _fail(f"--sites {sites_dir}: no .toml site config in it", EXIT_USAGE)
            configs += [load_site_file(f) for f in files]
    except ConfigError as exc:
        _fail(str(exc), EXIT_USAGE)
    return configs


def ingest_command(
    archive_option: Callable[[Any], Any], db_option: Callable[[Any], Any]
) -> click.Command:
    @click.command("ingest")
    @click.argument("files", nargs=-1, required=True, metavar="FILES_OR_GLOBS...")
    @click.option(
        "--site",
        "site",
        multiple=True,
        metavar="NAME_OR_CONFIG",
        help="Keep only this site's article pages: a site name (sites/NAME.toml) or a path to "
        "its .toml config. Repeatable. With no --site nor --sites: every page that extracts as "
        "a dated article, its site named after its domain.",
    )
    @click.option(
        "--sites",
        "sites_dir",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        default=None,
        metavar="DIR",
        help="Every site config (*.toml) in this folder.",
    )
    @click.option(
        "--since",
        type=_DAY,
        default=None,
        metavar="YYYY-MM-DD",
        help="Only captures on or after this date (the record's WARC-Date, UTC).",
    )
    @click.option(
        "--until",
        type=_DAY,
        default=None,
        metavar="YYYY-MM-DD",
        help="Only captures on or before this date (UTC).",
    )
    @archive_option
    @db_option
    @click.option(
        "--workers",
        type=NumberRange(1, 64, integer=True).click_type(),
        default=None,
        metavar="N",
        help="Extraction processes (default: one per CPU).",
    )
    @click.option(
        "--readers",
        type=NumberRange(1, 16, integer=True).click_type(),
        default=1,
        show_default=True,
        metavar="N",
        help="Files read at once, each by a process of its own. One reader keeps a few "
        "extraction processes busy; more help on many cores with many files.",
    )
    @click.option("--quiet", is_flag=True, help="No progress lines, only the summary.")
    def ingest(
        files: tuple[str, ...],
        site: tuple[str, ...],
        sites_dir: Path | None,
        since: datetime | None,
        until: datetime | None,
        archive: Path,
        db_url: str | None,
        workers: int | None,
        readers: int,
        quiet: bool,
    ) -> None:
        """Store the articles of web-archive files (WARC, ARC, WACZ): Common Crawl's CC-NEWS,
        Heritrix or browsertrix crawls, older crawls of your own.

        Each 2xx HTML capture on a given site (its domains and article patterns) is
        extracted and stored as a crawl would store it, with fetched_at = the record's
        WARC-Date; revisit records count as captures of the payload they repeat. Ingesting a
        file again adds nothing; an interrupted ingest resumes where it stopped. Records not
        used and pages that failed are counted by reason in the summary line.

        Example: zhengwen ingest 'cc-news/*.warc.gz' --site example --archive archive
        """
        from sqlalchemy.exc import SQLAlchemyError

        from crawler.ingest import IngestError, expand
        from crawler.ingest import ingest as run

        if since is not None and until is not None and until < since:
            _fail(f"--until {until:%Y-%m-%d} is before --since {since:%Y-%m-%d}", EXIT_USAGE)
        try:
            paths = expand(files)
        except IngestError as exc:
            _fail(str(exc), EXIT_USAGE)
        configs = _configs(site, sites_dir)
        started = time.monotonic()

        def progress(s: IngestSummary, name: str) -> None:
            spent = max(time.monotonic() - started, 1e-9)
            articles = s.articles + s.pending  # stored, or extracted and waiting for a store
            click.echo(
                f"ingest: {name}: {s.records:,} records ({s.records / spent:,.0f}/s), "
                f"{articles:,} articles ({articles / spent:,.1f}/s, {s.articles:,} stored), "
                f"file {s.files}/{len(paths)}",
                err=True,
            )

        try:
            summary = run(
                paths,
                archive=archive,
                db_url=db_url,
                sites=configs,
                since=since.date() if since is not None else None,
                until=until.date() if until is not None else None,
                workers=workers,
                readers=readers,
                progress=None if quiet else progress,
            )
        except (SQLAlchemyError, OSError) as exc:  # the stores: one line, not a traceback
            _fail(f"cannot store ingested articles: {store_error_line(exc, archive)}", EXIT_STORAGE)
        click.echo(summary.line())

    return ingest
