"""End to end: two portals carry the same stories; both crawled into one archive over HTTP.

The second portal is a syndicating site: other chrome (site name), one story with a small edit,
and one story it published *before* the first portal, so that story's group is re-linked to
the second portal's copy when it is crawled later. Crawls run in subprocesses (see
test_crawl_e2e.py).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from crawler.demo import DEMO_TOML
from crawler.demo.content import Portal
from crawler.demo.server import PortalServer, serve
from storage.article import url_hash
from storage.db import Database
from storage.parquet import ParquetDataset
from storage.paths import ArchivePaths
from tests.test_crawl_e2e import crawl

REPO = Path(__file__).resolve().parent.parent
N = 6
SEED = 515151


def config(tmp_path: Path, server: PortalServer, name: str) -> Path:
    text = DEMO_TOML.read_text(encoding="utf-8").replace("http://127.0.0.1:8765/", server.url + "/")
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace('name = "demo"', f'name = "{name}"'), encoding="utf-8")
    return path


def test_syndicated_copies_link_to_the_earliest_copy_across_sites(tmp_path: Path) -> None:
    first, second = Portal.generate(N, seed=SEED), Portal.generate(N, seed=SEED)
    second.site_name = "联合转载网"
    stories = first.articles()
    edited = stories[1]
    body = list(edited.body)
    body[0] = body[0][:-1] + "！"  # a small edit: the first paragraph's last character
    second.edit_article(edited.path, body=body)
    scoop = stories[2]  # the second portal had this story an hour before the first
    earlier = scoop.published_at - timedelta(hours=1)
    second.edit_article(scoop.path, body=scoop.body, published_at=earlier)

    archive = tmp_path / "archive"
    with serve(first) as server_a, serve(second) as server_b:
        crawl(tmp_path, config(tmp_path, server_a, "first"), archive)
        crawl(tmp_path, config(tmp_path, server_b, "second"), archive)
        a = {s.path: url_hash(s.url(server_a.url)) for s in stories}
        b = {s.path: url_hash(s.url(server_b.url)) for s in stories}

    paths = ArchivePaths(archive)
    with Database(paths.default_db_url) as db:
        stored = {x.url_hash: x for x in db.iter_articles()}
        assert len(stored) == 2 * N
        assert db.count_articles(exclude_duplicates=True) == N
        kept = {x.url_hash for x in db.iter_articles(exclude_duplicates=True)}
    for path in a:
        if path == scoop.path:
            assert stored[b[path]].duplicate_of is None
            assert stored[a[path]].duplicate_of == b[path]  # re-linked in SQL
        else:
            assert stored[a[path]].duplicate_of is None
            assert stored[b[path]].duplicate_of == a[path]
    assert stored[b[edited.path]].content_hash != stored[a[edited.path]].content_hash
    assert kept == {b[scoop.path]} | {a[p] for p in a if p != scoop.path}

    # Parquet rows keep the link known when written: the first site's rows were originals then.
    table = ParquetDataset(paths.parquet_dir).read_table(exclude_duplicates=True)
    assert sorted(table.column("url_hash").to_pylist()) == sorted([*a.values(), b[scoop.path]])
