"""End to end: ``zhengwen crawl URL`` and ``zhengwen new-site URL`` against real portals.

The portals (crawler/demo: the demo, and `shapes_portal`'s ``ids`` and ``misleading``) run in
this process on 127.0.0.1 and count their requests; the crawls run in subprocesses.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.demo.content import Portal
from crawler.demo.server import PortalServer, serve
from crawler.demo.shapes_portal import ShapesPortal, serve_shapes
from tests.test_crawl_e2e import crawl_cmd, crawl_env

REPO = Path(__file__).resolve().parent.parent


def zhengwen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [*crawl_cmd(Path("x"), Path("x"))[:3], *args]
    return subprocess.run(
        cmd, cwd=cwd, env=crawl_env(), capture_output=True, text=True, timeout=300, check=False
    )


def stored_urls(archive: Path) -> set[str]:
    with sqlite3.connect(archive / "zhengwen.sqlite") as con:
        return {url for (url,) in con.execute("SELECT url FROM articles")}


@pytest.fixture
def ids_portal() -> Iterator[tuple[PortalServer, set[str]]]:
    site = ShapesPortal.generate("ids", n_articles=120)
    with serve_shapes(site) as server:
        yield server, site.article_urls(server.url)


@pytest.fixture
def misleading_portal() -> Iterator[tuple[PortalServer, set[str]]]:
    site = ShapesPortal.generate("misleading", n_articles=120)
    with serve_shapes(site) as server:
        yield server, site.article_urls(server.url)


@pytest.fixture
def demo_portal() -> Iterator[tuple[PortalServer, set[str]]]:
    portal = Portal.generate(n_articles=48)
    with serve(portal) as server:
        yield server, {a.url(server.url) for a in portal.articles()}


def zero_config_crawl(
    tmp_path: Path, server: PortalServer, truth: set[str]
) -> tuple[set[str], float]:
    """Crawl the portal by URL; the stored articles and pages fetched per stored article."""
    archive = tmp_path / "archive"
    result = zhengwen("crawl", server.url + "/", "--archive", str(archive), "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    site = "127-0-0-1-" + str(server.port)
    assert result.stdout.startswith(f"{site}: ok"), result.stdout
    assert "allowed for this crawl because it was given on the command line" in result.stderr
    stored = stored_urls(archive)
    assert stored <= truth, f"not articles, stored as articles: {sorted(stored - truth)[:5]}"
    assert len(stored) >= 0.99 * len(truth), f"missed {sorted(truth - stored)[:5]}"
    return stored, len(server.requests) / len(stored)


def test_zero_config_ids_portal_finds_every_article_with_few_extra_pages(
    tmp_path: Path, ids_portal: tuple[PortalServer, set[str]]
) -> None:
    server, truth = ids_portal
    _, per_article = zero_config_crawl(tmp_path, server, truth)
    assert per_article <= 1.3
    with sqlite3.connect(tmp_path / "archive" / "zhengwen.sqlite") as con:
        assert {site for (site,) in con.execute("SELECT DISTINCT site FROM articles")} == {
            f"127-0-0-1-{server.port}"
        }


def test_zero_config_misleading_portal_stores_articles_only(
    tmp_path: Path, misleading_portal: tuple[PortalServer, set[str]]
) -> None:
    server, truth = misleading_portal
    zero_config_crawl(tmp_path, server, truth)
    # Printer-friendly copies stop being fetched once their shape is known for what it is (a
    # few per shape, and those already requested while the first answers were on their way).
    prints = [p for p in server.requests if "print=1" in p]
    assert len(prints) <= len(truth) // 10
    assert not any("utm_" in p or "spm=" in p for p in server.requests)


def test_zero_config_demo_portal(
    tmp_path: Path, demo_portal: tuple[PortalServer, set[str]]
) -> None:
    server, truth = demo_portal
    zero_config_crawl(tmp_path, server, truth)


@pytest.mark.parametrize("which", ["ids", "misleading"])
def test_new_site_config_passes_check_site_and_crawls_the_same_articles(
    tmp_path: Path,
    which: str,
    ids_portal: tuple[PortalServer, set[str]],
    misleading_portal: tuple[PortalServer, set[str]],
) -> None:
    server, truth = ids_portal if which == "ids" else misleading_portal
    sites = tmp_path / "sites"
    made = zhengwen(
        "new-site", server.url + "/", "--name", which, "--sites-dir", str(sites), cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    assert "title" in made.stdout.splitlines()[0] and "body" in made.stdout.splitlines()[0]
    config = sites / f"{which}.toml"
    checked = zhengwen("check-site", str(config), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    text = config.read_text(encoding="utf-8")
    assert 'timezone = "Asia/Shanghai"' in text
    if which == "ids":
        assert 'encoding = "gb18030"' in text  # declared gbk, read as its superset
    by_config = zhengwen("crawl", str(config), "--archive", str(tmp_path / "a1"), cwd=tmp_path)
    assert by_config.returncode == 0, by_config.stderr
    by_url = zhengwen("crawl", server.url + "/", "--archive", str(tmp_path / "a2"), cwd=tmp_path)
    assert by_url.returncode == 0, by_url.stderr
    assert stored_urls(tmp_path / "a1") == stored_urls(tmp_path / "a2")
    assert len(stored_urls(tmp_path / "a1")) >= 0.99 * len(truth)
    # An existing config is not overwritten without --force.
    again = zhengwen(
        "new-site", server.url + "/", "--name", which, "--sites-dir", str(sites), cwd=tmp_path
    )
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"error: {config} exists; pass --force to overwrite it"
    ]


def readme_demo_config() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- new-site demo -->\n```toml\n(.*?)```", text, re.S)
    assert m, "the README shows the config new-site writes for the demo portal"
    return m.group(1)


def test_readme_shows_the_config_new_site_writes_for_the_demo_portal(
    tmp_path: Path, demo_portal: tuple[PortalServer, set[str]]
) -> None:
    server, _ = demo_portal
    made = zhengwen(
        "new-site",
        server.url + "/",
        "--name",
        "demo-portal",
        "--sites-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    written = (tmp_path / "demo-portal.toml").read_text(encoding="utf-8")
    assert written.replace(f":{server.port}", ":8765") == readme_demo_config()


def test_bad_input_is_one_line_with_its_exit_code(
    tmp_path: Path, ids_portal: tuple[PortalServer, set[str]]
) -> None:
    server, _ = ids_portal
    cases = [
        (("crawl", "ftp://portal.example/"), 2, "expected an http(s) URL"),
        (("new-site", "not a url"), 2, "expected an http(s) URL"),
        (("crawl", "http://127.0.0.1:9/"), 1, "could not fetch any page"),
        (("new-site", "http://127.0.0.1:9/"), 1, "could not fetch"),
        (("crawl", server.url + "/feed.pdf"), 1, "is not an HTML page"),
        (("new-site", server.url + "/feed.pdf"), 1, "is not an HTML page"),
    ]
    for args, code, words in cases:
        extra = (
            ("--archive", str(tmp_path / "a"))
            if args[0] == "crawl"
            else ("--sites-dir", str(tmp_path / "s"))
        )
        result = zhengwen(
            *args, *extra, "--quiet" if args[0] == "crawl" else "--force", cwd=tmp_path
        )
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.returncode == code, (args, result.stderr)
        assert len(errors) == 1 and words in errors[0], (args, result.stderr)
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["sitemaps", "feeds"])
def test_zero_config_reads_sitemaps_and_feeds_and_new_site_writes_them(
    tmp_path: Path, kind: str
) -> None:
    """Portals whose articles no HTML page links (only a sitemap index of news sitemaps, or
    only RSS and Atom feeds): the crawl by URL finds them all there, and ``new-site`` writes
    the sitemaps or feeds it read into the config, which crawls the same articles."""
    from crawler.demo.discovery_portals import serve_discovery

    portal = Portal.generate(n_articles=30, seed=8080)
    with serve_discovery(portal, kind) as server:  # type: ignore[arg-type]
        truth = {a.url(server.url) for a in portal.articles()}
        by_url = zhengwen(
            "crawl", server.url + "/", "--archive", str(tmp_path / "a1"), "--quiet", cwd=tmp_path
        )
        assert by_url.returncode == 0, by_url.stderr
        assert stored_urls(tmp_path / "a1") == truth, by_url.stdout + by_url.stderr
        sites = tmp_path / "sites"
        made = zhengwen(
            "new-site", server.url + "/", "--name", kind, "--sites-dir", str(sites), cwd=tmp_path
        )
        assert made.returncode == 0, made.stderr
        text = (sites / f"{kind}.toml").read_text(encoding="utf-8")
        key = "sitemaps" if kind == "sitemaps" else "feeds"
        assert re.search(rf"^{key} = \[\"{re.escape(server.url)}/", text, re.M), text
        by_config = zhengwen(
            "crawl", str(sites / f"{kind}.toml"), "--archive", str(tmp_path / "a2"), cwd=tmp_path
        )
        assert by_config.returncode == 0, by_config.stderr
        assert stored_urls(tmp_path / "a2") == truth
