"""`zhengwen check-site` and `zhengwen extract --site`: what a user writing a site config is told
(issue 14, items 13 to 15), through the real `zhengwen` process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import zhengwen

PARAS = "".join(
    f"<p>这是第{i}段正文，讲述了一个完整的新闻事件，内容足够长，可以被识别为文章的一部分。</p>"
    for i in range(4)
)
PAGE = (
    "<html><head><meta charset='utf-8'><title>测试新闻标题_示例网</title></head><body>"
    "<h1 class='headline'>测试新闻标题</h1><p class='info'>来源：新华网 2021-05-06 07:08</p>"
    f"<div class='content'>{PARAS}</div></body></html>"
).encode()


def config(tmp_path: Path, body: str, name: str = "site") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(body, encoding="utf-8")
    return path


def site_with(tmp_path: Path, selectors: str) -> Path:
    return config(
        tmp_path,
        'name = "site"\nstart_urls = ["https://news.example.com/"]\n'
        f'[urls]\narticle = ["/a/"]\n[selectors]\n{selectors}',
    )


# --- item 13: selectors that matched nothing --------------------------------------------------


def test_extract_site_warns_of_selectors_that_matched_nothing(tmp_path: Path) -> None:
    site = site_with(tmp_path, 'title = "h1.title"\nbody = "div.content"\nauthor = "span.byline"\n')
    page = tmp_path / "page.html"
    page.write_bytes(PAGE)
    result = zhengwen("extract", str(page), "--site", str(site), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "warning: selectors that matched nothing on this page: title, author"
    ]
    assert json.loads(result.stdout)["title"] == "测试新闻标题"

    result = zhengwen("extract", str(page), "--site", str(site), "--explain", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "selectors that matched nothing: title, author" in result.stdout


def test_extract_site_is_quiet_when_every_selector_matched(tmp_path: Path) -> None:
    site = site_with(tmp_path, 'title = "h1.headline"\nbody = "div.content"\n')
    page = tmp_path / "page.html"
    page.write_bytes(PAGE)
    result = zhengwen("extract", str(page), "--site", str(site), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_extract_site_names_a_body_selector_that_matched_nothing(tmp_path: Path) -> None:
    site = site_with(tmp_path, 'body = "div.article-body"\npublished_at = "h1.headline"\n')
    page = tmp_path / "page.html"
    page.write_bytes(PAGE)
    result = zhengwen("extract", str(page), "--site", str(site), cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "warning: selectors that matched nothing on this page: body"
    assert lines[-1].startswith("error: ") and "body selector" in lines[-1]
    assert "Traceback" not in result.stderr


def test_extract_site_warns_of_a_date_selector_that_picks_no_date(tmp_path: Path) -> None:
    site = site_with(tmp_path, 'published_at = "h1.headline"\n')
    page = tmp_path / "page.html"
    page.write_bytes(PAGE)
    result = zhengwen("extract", str(page), "--site", str(site), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "warning: selectors whose text could not be used on this page: published_at (not a date)"
    ]


# --- item 14: start URLs the crawl will refuse --------------------------------------------------

MINIMAL = '[urls]\narticle = ["/a/"]\n'


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "http://localhost/news/",
        "http://10.0.0.5/",
        "http://169.254.169.254/latest/",
        "http://[::1]:8000/",
    ],
)
def test_check_site_refuses_a_private_start_url_and_names_allow_private(
    tmp_path: Path, url: str
) -> None:
    path = config(tmp_path, f'name = "site"\nstart_urls = ["{url}"]\n{MINIMAL}')
    result = zhengwen("check-site", str(path), cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: start_urls[0]: ")
    assert "allow_private" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "allow", ["true", '["127.0.0.1:8080"]', '["127.0.0.1"]', '["10.0.0.1", "127.0.0.1:8080"]']
)
def test_check_site_accepts_a_private_start_url_that_is_allowed(tmp_path: Path, allow: str) -> None:
    path = config(
        tmp_path,
        f'name = "site"\nstart_urls = ["http://127.0.0.1:8080/"]\nallow_private = {allow}\n{MINIMAL}',
    )
    result = zhengwen("check-site", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok (site site" in result.stdout


def test_check_site_refuses_a_private_start_url_outside_the_allowed_list(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        'name = "site"\nstart_urls = ["http://127.0.0.1:8080/", "http://127.0.0.1:9090/"]\n'
        f'allow_private = ["127.0.0.1:8080"]\n{MINIMAL}',
    )
    result = zhengwen("check-site", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {path}: start_urls[1]: ")
    assert "allow_private" in result.stderr and "start_urls[0]" not in result.stderr


def test_check_site_does_not_resolve_host_names(tmp_path: Path) -> None:
    # localhost.example.invalid would not resolve; check-site must not try.
    path = config(
        tmp_path, f'name = "site"\nstart_urls = ["http://intranet.example.invalid/"]\n{MINIMAL}'
    )
    result = zhengwen("check-site", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_check_site_refuses_a_start_url_outside_allowed_domains(tmp_path: Path) -> None:
    # The same class: a crawl that can fetch nothing (Scrapy filters the start URL as offsite).
    path = config(
        tmp_path,
        'name = "site"\nstart_urls = ["https://www.example.com/", "https://news.other.cn/"]\n'
        f'allowed_domains = ["example.com"]\n{MINIMAL}',
    )
    result = zhengwen("check-site", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {path}: start_urls[1]: ")
    assert "allowed_domains" in result.stderr


def test_a_refused_private_start_url_names_allow_private_in_the_crawl_log(tmp_path: Path) -> None:
    path = config(tmp_path, f'name = "site"\nstart_urls = ["http://127.0.0.1:9/"]\n{MINIMAL}')
    archive = tmp_path / "archive"
    result = zhengwen("crawl", str(path), "--archive", str(archive), "--quiet", cwd=tmp_path)
    assert result.returncode == 1
    assert "private_address" in result.stderr
    (log,) = (archive / "logs").glob("*.log")
    refused = [line for line in log.read_text().splitlines() if "Refused request" in line]
    assert refused and "allow_private" in refused[0]


# --- item 15: every error of a file at once -----------------------------------------------------


def test_check_site_reports_every_error_of_the_file_on_one_line(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        'name = "Bad Name"\nstart_urls = ["https://x.example/"]\nmax_depth = 0\ncolour = 1\n'
        '[urls]\narticle = ["(unclosed"]\n[selectors]\ntitle = "//h1["\n'
        "[politeness]\nconcurrency = 0\n",
    )
    for line in refused_by_check_site_and_crawl(tmp_path, path, f"error: {path}: "):
        for key in (
            "name",
            "max_depth",
            "colour",
            "urls.article[0]",
            "selectors.title",
            "politeness.concurrency",
        ):
            assert f"; {key}: " in line or f"{path}: {key}: " in line, key


def refused_by_check_site_and_crawl(tmp_path: Path, path: Path, start: str) -> list[str]:
    """The error line of `check-site` and of `crawl` for a bad config: each one line starting
    with ``start``, exit 2, and the crawl created no archive."""
    lines = []
    for command in (["check-site", str(path)], ["crawl", str(path), "--archive", "a"]):
        result = zhengwen(*command, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr.splitlines()[-3:]
        assert result.stderr.startswith(start), result.stderr
        lines.append(result.stderr.rstrip("\n"))
    assert not (tmp_path / "a").exists()
    return lines


# --- issue 15, item 8: a config nested past every sane depth ------------------------------------


def test_a_deeply_nested_config_is_one_line_for_every_command(tmp_path: Path) -> None:
    path = config(tmp_path, 'name = "site"\nstart_urls = ' + "[" * 5000 + "]" * 5000 + "\n")
    for line in refused_by_check_site_and_crawl(tmp_path, path, f"error: {path}: (syntax): "):
        assert "nested" in line


# --- issue 15, item 7: numbers past their range -------------------------------------------------


@pytest.mark.parametrize(
    ("table", "line", "key"),
    [
        ("[politeness]", "download_delay = inf", "politeness.download_delay"),
        ("[politeness]", "download_delay = nan", "politeness.download_delay"),
        ("[incremental]", "recheck_days = inf", "incremental.recheck_days"),
        ("[incremental]", "recheck_days = 1e300", "incremental.recheck_days"),
        ("[incremental]", "recheck_days = nan", "incremental.recheck_days"),
        ("", "max_pages = 100_000_000", "max_pages"),
        ("", "max_depth = true", "max_depth"),
    ],
)
def test_a_number_past_its_range_is_refused_by_check_site_and_crawl(
    tmp_path: Path, table: str, line: str, key: str
) -> None:
    head, tail = (line, "") if not table else ("", f"{table}\n{line}\n")
    path = config(
        tmp_path,
        f'name = "site"\nstart_urls = ["https://news.example.com/"]\n{head}\n{MINIMAL}{tail}',
    )
    for line in refused_by_check_site_and_crawl(tmp_path, path, f"error: {path}: {key}: "):
        assert "expected " in line and " from " in line


@pytest.mark.parametrize(
    "args",
    [
        ["crawl", "demo", "--max-pages", "100000000"],
        ["runs", "--limit", "0"],
        ["query", "--limit", "-1"],
        ["sql", "SELECT 1", "--timeout", "nan"],
        ["sql", "SELECT 1", "--timeout", "inf"],
        ["sql", "SELECT 1", "--timeout", "-1"],
        ["schedule", "--stop-timeout", "nan"],
        ["schedule", "--stop-timeout", "1e300"],
        ["schedule", "--max-parallel", "65"],
    ],
)
def test_a_numeric_option_past_its_range_is_one_usage_line(tmp_path: Path, args: list[str]) -> None:
    result = zhengwen(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: Invalid value for '--")
    assert not (tmp_path / "archive").exists()


# --- issue 15, item 9: selectors and domains that cannot work -----------------------------------


def test_an_xpath_that_fails_on_every_page_is_refused_by_check_site_and_crawl(
    tmp_path: Path,
) -> None:
    path = site_with(tmp_path, "body = \"//p[php:function('system','id')]\"\n")
    start = f"error: {path}: selectors.body: not a usable selector (namespace prefix 'php:'"
    refused_by_check_site_and_crawl(tmp_path, path, start)


@pytest.mark.parametrize("domain", ["*", "com.cn", ""])
def test_allowed_domains_that_cover_the_web_are_refused_by_check_site_and_crawl(
    tmp_path: Path, domain: str
) -> None:
    path = config(
        tmp_path,
        'name = "site"\nstart_urls = ["https://news.example.com/"]\n'
        f'allowed_domains = ["{domain}"]\n{MINIMAL}',
    )
    refused_by_check_site_and_crawl(tmp_path, path, f"error: {path}: allowed_domains[0]: expected")


def test_check_site_refuses_bad_sitemaps_and_feeds(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        'name = "site"\nstart_urls = ["https://news.example.com/"]\n'
        'sitemaps = ["ftp://news.example.com/s.xml"]\nfeeds = ["https://elsewhere.org/rss"]\n'
        f"discover = 1\n{MINIMAL}",
    )
    result = zhengwen("check-site", str(path), cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {path}: sitemaps[0]: expected an absolute http(s) URL")
    assert "; feeds[0]: https://elsewhere.org/rss is outside allowed_domains" in line
    assert "; discover: expected true or false, got int 1" in line
