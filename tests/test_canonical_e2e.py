"""A canonical URL on another host (issue #14, item 1): syndicated copies name the original
publisher's URL as canonical. The article belongs to the site and URL it was crawled from; the
foreign canonical is kept beside it and links the copies, and SQL and Parquet agree.

Two sites on a real HTTP server on 127.0.0.1 carry the same six stories, each page naming
``https://original.example.com/…`` as canonical, crawled by the real ``zhengwen`` process.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from crawler.extract import ExtractOptions, extract
from storage.db import Database
from storage.paths import ArchivePaths
from tests.test_crawl_e2e import crawl, run

N = 6
PARA = (
    "据介绍，今年全市将新建改建道路一百二十公里，进一步完善城市路网结构，缓解交通拥堵，"
    "方便群众出行，这是第{n}篇报道的第{p}段。"
)


def article_page(site: str, n: int) -> bytes:
    body = "".join(f"<p>{PARA.format(n=n, p=p)}</p>" for p in range(4))
    return (
        "<html><head><meta charset='utf-8'>"
        f"<title>第{n}篇报道的标题_{site}网</title>"
        f"<link rel='canonical' href='https://original.example.com/news/{n}.html'>"
        f"</head><body><h1>第{n}篇报道的标题</h1>"
        f"<div class='info'>来源：原始日报 发布时间：2021-03-0{n % 9 + 1} 09:30</div>"
        f"<div class='content'>{body}</div></body></html>"
    ).encode()


def list_page(site: str) -> bytes:
    links = "".join(f"<li><a href='/{site}/article/{n}.html'>第{n}篇</a></li>" for n in range(N))
    return f"<html><head><meta charset='utf-8'></head><body><ul>{links}</ul></body></html>".encode()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = self.path.strip("/").split("/")
        if self.path == "/robots.txt":
            payload = b""
        elif len(parts) == 1 and parts[0] in ("a", "b"):
            payload = list_page(parts[0])
        elif len(parts) == 3 and parts[1] == "article":
            payload = article_page(parts[0], int(parts[2].split(".")[0]))
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def config(tmp_path: Path, base: str, site: str) -> Path:
    path = tmp_path / f"syn{site}.toml"
    path.write_text(
        f'name = "syn{site}"\nstart_urls = ["{base}/{site}/"]\nallow_private = true\n'
        f'[urls]\narticle = ["/{site}/article/\\\\d+\\\\.html$"]\n'
        "[politeness]\ndownload_delay = 0\n",
        encoding="utf-8",
    )
    return path


def test_a_foreign_canonical_is_kept_beside_the_crawled_url() -> None:
    url = "https://news.sina.example.cn/a/1.html"
    html = article_page("a", 1)
    article = extract(html, url, ExtractOptions(site="sina", domains=("sina.example.cn",)))
    assert article.url == url
    assert article.canonical_url == "https://original.example.com/news/1.html"


def test_a_canonical_on_the_site_still_merges_url_variants() -> None:
    html = article_page("a", 1).replace(
        b"https://original.example.com/news/1.html", b"https://www.sina.example.cn/a/1.html"
    )
    article = extract(
        html,
        "https://m.sina.example.cn/a/1.html?from=app",
        ExtractOptions(domains=("sina.example.cn",)),
    )
    assert article.url == "https://www.sina.example.cn/a/1.html"


def test_syndicated_pages_stay_under_their_site_and_url(tmp_path: Path, base: str) -> None:
    archive = tmp_path / "archive"
    for site in ("a", "b"):
        crawl(tmp_path, config(tmp_path, base, site), archive)
    paths = ArchivePaths(archive)
    with Database(paths.default_db_url) as db:
        stored = list(db.iter_articles())
    by_site: dict[str, set[str]] = {}
    for a in stored:
        by_site.setdefault(a.site, set()).add(a.url)
    # Each site holds its own six articles, under the URLs it was crawled from.
    assert by_site == {
        f"syn{s}": {f"{base}/{s}/article/{n}.html" for n in range(N)} for s in ("a", "b")
    }
    assert {a.canonical_url for a in stored} == {
        f"https://original.example.com/news/{n}.html" for n in range(N)
    }
    # SQL and Parquet agree, site by site.
    table = ds.dataset(paths.parquet_dir, partitioning="hive").to_table(columns=["site", "url"])
    parquet = {(s, u) for s, u in zip(*table.to_pydict().values(), strict=True)}
    assert parquet == {(a.site, a.url) for a in stored}
    # The second site's copies are linked to the first site's (same text): duplicates.
    firsts = {a.url_hash for a in stored if a.site == "syna"}
    assert all(a.duplicate_of in firsts for a in stored if a.site == "synb")

    # The crawled URL is what `history` knows, and a rerun finds nothing new.
    crawled = f"{base}/a/article/1.html"
    result = run(
        [
            sys.executable,
            "-m",
            "crawler.cli",
            "history",
            crawled,
            "--archive",
            str(archive),
            "--json",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["url"] == crawled
    again = crawl(tmp_path, config(tmp_path, base, "a"), archive)
    assert "articles 0 new" in again.stderr + again.stdout
