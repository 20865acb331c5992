"""``zhengwen history URL``: the stored versions of one article and what changed between them."""

from __future__ import annotations

import difflib
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    # Types only: `crawler.cli` is re-imported by every extraction worker (multiprocessing
    # spawn), which must not pay for SQLAlchemy.
    from storage.db import ArticleVersion, Database

#: Exit code when the archive has no such article (the same as a usage error of a filter).
EXIT_NOT_FOUND = 1


def diff_versions(old: ArticleVersion, new: ArticleVersion) -> list[str]:
    """A unified diff of title and body, one paragraph per line, as a reader would compare."""
    before = [f"# {old.title or ''}", *old.body.splitlines()]
    after = [f"# {new.title or ''}", *new.body.splitlines()]
    return list(
        difflib.unified_diff(
            before, after, f"version {old.version}", f"version {new.version}", lineterm="", n=1
        )
    )


def history_command(
    archive_option: Callable[[Any], Any],
    db_option: Callable[[Any], Any],
    open_existing: Callable[[Path, str | None], Database],
) -> click.Command:
    """The command, given the CLI's shared options and its `_open_existing` (the one-line
    errors for a missing archive or an unreachable database)."""

    @click.command("history")
    @click.argument("url")
    @archive_option
    @db_option
    @click.option("--no-diff", is_flag=True, help="List the versions without the diffs.")
    @click.option("--json", "as_json", is_flag=True, help="Versions as JSON (full records).")
    def history(url: str, archive: Path, db_url: str | None, no_diff: bool, as_json: bool) -> None:
        """Show every stored version of an article and a diff between consecutive versions.

        URL is the article's `url`: the URL it was crawled from, or its canonical URL on the
        same site. `zhengwen query --format jsonl` and exports show it; `zhengwen sql "SELECT
        url FROM articles LIMIT 5"` lists some. A pasted variant finds it too: a #fragment,
        HTTP:// or an upper-case host, the default port, spaces around it, the path
        percent-encoded or not; the stored URL is shown. A page that was removed from the site (404/410
        on a re-check) is shown as removed; it stays archived.

        Example: zhengwen history https://news.example.com/2024/0601/123.html --archive archive
        """
        with open_existing(archive, db_url) as db:
            stored = db.find_url(url)  # the URL as stored, also for #top, HTTP://, spaces …
            versions = db.versions(stored) if stored is not None else []
            current = db.get_article(stored) if stored is not None else None
            state = db.fetch_state(current.fetched_url or stored) if current and stored else None
        if stored is None or not versions:
            shown = url if len(url) <= 300 else url[:300] + "…"
            click.echo(f"error: the archive has no article {shown}", err=True)
            sys.exit(EXIT_NOT_FOUND)
        url = stored
        gone = state.get("gone_at") if state else None
        if as_json:
            out = {
                "url": url,
                "removed_at": gone.isoformat() if gone else None,
                "versions": [
                    {
                        "version": v.version,
                        "content_hash": v.content_hash,
                        "first_seen": v.first_seen.isoformat(),
                        "last_seen": v.last_seen.isoformat(),
                        "crawl_run_id": v.crawl_run_id,
                        "extraction_version": v.extraction_version,
                        "record": v.record,
                    }
                    for v in versions
                ],
            }
            click.echo(json.dumps(out, ensure_ascii=False, indent=2))
            return
        click.echo(url)
        if gone:
            click.echo(f"removed from the site: {gone:%Y-%m-%d %H:%M} UTC (archived versions kept)")
        for v in versions:
            click.echo(
                f"version {v.version}: seen {v.first_seen:%Y-%m-%d %H:%M} – "
                f"{v.last_seen:%Y-%m-%d %H:%M} UTC, {len(v.body)} characters, "
                f"hash {v.content_hash[:12]}, extractor v{v.extraction_version}: {v.title or ''}"
            )
        if no_diff:
            return
        for old, new in itertools.pairwise(versions):
            click.echo("")
            for line in diff_versions(old, new):
                click.echo(line)

    return history
