"""The ``zhengwen check-archive`` command; the work is done by storage.check.

Like crawler.cli_reextract, this module does not import crawler.cli (under ``python -m
crawler.cli`` that would load a second copy); crawler.cli hands over its shared options and its
one-line opener of an existing archive.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

EXIT_FAILED = 1  # as in crawler.cli: differences found (and not repaired)


def check_archive_command(
    archive_option: Callable[[Any], Any],
    db_option: Callable[[Any], Any],
    open_existing: Callable[..., Any],
) -> click.Command:
    @click.command("check-archive")
    @archive_option
    @db_option
    @click.option("--site", default=None, help="Only this site.")
    @click.option(
        "--repair",
        is_flag=True,
        help="Restore what one store can give the other: a missing Parquet version from SQL, "
        "a missing SQL article from its newest Parquet row.",
    )
    @click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
    @click.option("--quiet", is_flag=True, help="Only the summary line (and the exit code).")
    def check_archive(
        archive: Path,
        db_url: str | None,
        site: str | None,
        repair: bool,
        as_json: bool,
        quiet: bool,
    ) -> None:
        """Check that SQL, Parquet and the raw archive agree; report every difference.

        Every version SQL holds must have a Parquet row under the article's site, every URL
        in Parquet must be a SQL article, and (where a site has a raw archive) every article's
        fetched URL must have a WARC record. Exit 0 when they agree (after --repair:
        when everything left agrees), 1 when differences remain.

        Example: zhengwen check-archive --archive archive --repair
        """
        from storage.check import as_dict
        from storage.check import check_archive as run
        from storage.parquet import ParquetDataset
        from storage.paths import ArchivePaths

        paths = ArchivePaths(archive)
        db = open_existing(archive, db_url, write=repair)  # read-only unless repairing
        try:

            def progress(message: str) -> None:
                if not quiet and not as_json:
                    click.echo(f"check-archive: {message}", err=True)

            result = run(
                db,
                ParquetDataset(paths.parquet_dir),
                paths.raw_dir,
                site=site,
                repair=repair,
                progress=progress,
            )
        finally:
            db.dispose()
        if as_json:
            click.echo(json.dumps(as_dict(result), ensure_ascii=False, indent=2))
        else:
            if not quiet:
                for difference in result.differences:
                    click.echo(difference.line())
            click.echo(result.line())
        if result.differences:
            sys.exit(EXIT_FAILED)

    return check_archive
