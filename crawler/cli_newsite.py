"""The ``zhengwen new-site`` command; the work is done by crawler.discovery.newsite.

Like crawler.cli_reextract, this module does not import crawler.cli (under ``python -m
crawler.cli`` that would load a second copy); crawler.cli hands over what it shares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import click

EXIT_FAILED, EXIT_USAGE, EXIT_STORAGE = 1, 2, 3  # as in crawler.cli


#: Pages a sample may fetch: at least the start page, at most a small crawl.
SAMPLE_RANGE = click.IntRange(min=1, max=10_000)


class _Failed(click.ClickException):
    """One ``error:`` line and the exit code (the command group prints it)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click declares it on the class


def new_site_command(echo_table: Callable[[Sequence[tuple[str, ...]]], None]) -> click.Command:
    @click.command("new-site")
    @click.argument("url")
    @click.option("--name", default=None, help="Site name. Default: the host (dots as '-').")
    @click.option("--sample", type=SAMPLE_RANGE, default=30, help="Pages to learn from [30].")
    @click.option(
        "--sites-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("sites"),
        show_default=True,
        help="Folder the config is written to (NAME.toml).",
    )
    @click.option("--force", is_flag=True, help="Overwrite an existing config.")
    def new_site(url: str, name: str | None, sample: int, sites_dir: Path, force: bool) -> None:
        """Write a site config for a portal from a small sample of its pages.

        Crawls at most --sample pages of URL as `zhengwen crawl URL` does (nothing goes into
        an archive), learns what its article, list and pagination URLs look like, guesses its
        encoding and time zone, and writes SITES_DIR/NAME.toml. Prints the sample's articles
        (title, time, source, body length) to check before the first crawl.

        Example: zhengwen new-site https://news.example.com/ --name example --sample 50
        """
        from crawler.discovery.newsite import (
            NewSiteError,
            config_text,
            crawl_sample,
            guess_timezone,
            preview_rows,
            write_atomically,
        )
        from crawler.discovery.zeroconfig import UrlProblem, zero_config_site
        from crawler.runner import StorageUnavailable

        try:
            site, note = zero_config_site(url, name)
        except UrlProblem as exc:
            raise _Failed(str(exc), EXIT_USAGE) from None
        target = sites_dir / f"{site.name}.toml"
        if target.exists() and not force:
            raise _Failed(f"{target} exists; pass --force to overwrite it", EXIT_USAGE)
        if note:
            click.echo(f"note: {note}", err=True)
        try:
            result = crawl_sample(site, sample)
        except StorageUnavailable as exc:
            raise _Failed(str(exc), EXIT_STORAGE) from None
        c = result.result.counters
        if c.pages_fetched == 0:
            errors = ", ".join(f"{k} {v}" for k, v in c.errors.items()) or "no answer"
            raise _Failed(f"could not fetch {site.start_urls[0]}: {errors}", EXIT_FAILED)
        if c.errors.get("not_html"):
            raise _Failed(f"{site.start_urls[0]} is not an HTML page", EXIT_FAILED)
        try:
            text = config_text(site, result)
        except NewSiteError as exc:
            raise _Failed(str(exc), exc.code) from None
        try:
            write_atomically(target, text)
        except OSError as exc:
            raise _Failed(f"cannot write {target}: {exc.strerror or exc}", EXIT_USAGE) from None
        if result.articles:
            timezone = guess_timezone(result.report, result.articles)
            echo_table(preview_rows(result.articles, timezone))
        click.echo(
            f"wrote {target}: {len(result.articles)} articles in a sample of {c.pages_fetched} "
            f"pages; next: zhengwen check-site {target} && zhengwen crawl {target}"
        )

    return new_site
