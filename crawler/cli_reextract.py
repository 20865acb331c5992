"""The ``zhengwen reextract`` command; the work is done by crawler.reextract.

Like crawler.cli_schedule, this module does not import crawler.cli (under ``python -m
crawler.cli`` that would load a second copy); crawler.cli hands over its shared options.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from crawler.cli_common import EXIT_FAILED, EXIT_STORAGE, EXIT_USAGE
from crawler.cli_common import fail as _fail
from storage.diskfull import store_error_line


def reextract_command(
    archive_option: Callable[[Any], Any], db_option: Callable[[Any], Any]
) -> click.Command:
    @click.command("reextract")
    @click.option(
        "--site",
        "site",
        default=None,
        metavar="NAME_OR_CONFIG",
        help="Only this site: a site name (sites/NAME.toml) or a path to its .toml config.",
    )
    @click.option(
        "--since",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        metavar="YYYY-MM-DD",
        help="Only pages whose newest fetch is on or after this date (UTC).",
    )
    @archive_option
    @db_option
    @click.option("--quiet", is_flag=True, help="No progress lines, only the summary.")
    def reextract(
        site: str | None, since: datetime | None, archive: Path, db_url: str | None, quiet: bool
    ) -> None:
        """Re-run the current extractor over the raw archive (no network); store what changed.

        Every article page in archive/raw/ is extracted again with today's extractor and the
        site's current config; an article whose text differs from the SQL archive gets a new
        version (SQL row updated, Parquet row added), a missing one is restored. Pages that
        fail are counted by reason; damaged WARC files are reported and skipped.

        Example: zhengwen reextract --site example --since 2024-01-01 --archive archive
        """
        from sqlalchemy.exc import SQLAlchemyError

        from crawler.config import ConfigError, resolve_site
        from crawler.reextract import reextract as run
        from storage.paths import ArchivePaths

        config = None
        name = None
        if site is not None:
            try:
                config = resolve_site(site)
            except ConfigError as exc:
                if site.endswith(".toml") or "/" in site or "\\" in site:
                    _fail(str(exc), EXIT_USAGE)
                name = site  # a site known only from the archive: its recorded options
        paths = ArchivePaths(archive)
        if not paths.root.is_dir():
            _fail(f"no archive at {archive} (no such folder)", EXIT_STORAGE)
        if not paths.raw_dir.is_dir():
            _fail(f"no raw archive at {paths.raw_dir}; crawl first", EXIT_FAILED)
        if name is not None:
            from crawler.reextract import recorded_options

            if recorded_options(paths, name) is None:
                # Defaults would undo the config's selectors: refuse instead.
                _fail(
                    f"no site config for {name!r} (sites/{name}.toml) and no options recorded "
                    f"by its crawls in {paths.configs_dir}; pass --site path/to/{name}.toml",
                    EXIT_USAGE,
                )

        def progress(done: int, total: int) -> None:
            click.echo(f"reextract: {done}/{total} pages", err=True)

        try:
            summary = run(
                archive,
                db_url,
                site=name,
                config=config,
                since=since.date() if since is not None else None,
                progress=None if quiet else progress,
            )
        except (SQLAlchemyError, OSError) as exc:  # the stores: one line, not a traceback
            line = store_error_line(exc, archive)
            _fail(f"cannot store re-extracted articles: {line}", EXIT_STORAGE)
        for message in summary.warnings:
            prefixed = message.startswith("note: ")
            click.echo(message if prefixed else f"warning: {message}", err=True)
        for problem in summary.problems:
            click.echo(f"warning: {problem.file}: {problem.message}", err=True)
        click.echo(summary.line())

    return reextract
