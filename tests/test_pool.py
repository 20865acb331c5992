"""The extraction pool: same results as in-process extraction, whatever the worker count; a page
that hangs or crashes its worker fails alone, with a reason, and the pool goes on."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from dataclasses import replace

import pytest

from crawler.demo.content import Portal
from crawler.demo.render import route
from crawler.extract import ExtractionError, ExtractOptions, extract
from crawler.pool import ExtractionPool, PoolClosed, Task
from storage.article import Article

BASE = "http://127.0.0.1:8765"


def demo_tasks(n: int = 12) -> list[Task]:
    portal = Portal.generate(n_articles=n, seed=99)
    return [Task(route(portal, a.path).body, a.url(BASE)) for a in portal.articles()]


@pytest.mark.parametrize("workers", [1, 2])
def test_results_equal_in_process_extraction(workers: int) -> None:
    options = ExtractOptions(site="demo")
    tasks = demo_tasks()
    expected = [extract(t.html, t.url, options) for t in tasks]
    with ExtractionPool(options, workers=workers) as pool:
        futures = [pool.submit(t) for t in tasks]
        got = [f.result(timeout=60) for f in futures]
    assert got == expected
    assert pool.stats.done == len(tasks)
    assert pool.stats.restarts == 0


def test_one_pool_serves_several_sites_with_their_own_options_and_counters() -> None:
    """A cluster worker keeps one pool for every run it joins: each page is extracted with
    its own site's options, and each caller gets the report counters of its own pages."""
    tasks = demo_tasks(4)
    with ExtractionPool(ExtractOptions(site="pool-default"), workers=1) as pool:
        mine: Counter[str] = Counter()
        theirs: Counter[str] = Counter()
        a = [pool.submit(replace(t, options=ExtractOptions(site="a")), notes=mine) for t in tasks]
        b = pool.submit(replace(tasks[0], options=ExtractOptions(site="b")), notes=theirs)
        plain = pool.submit(tasks[1])
        assert {f.result(timeout=60).site for f in a} == {"a"}
        assert b.result(timeout=60).site == "b"
        assert plain.result(timeout=60).site == "pool-default"
    assert sum(mine.values()) > 0 and sum(theirs.values()) > 0
    assert mine + theirs <= pool.stats.notes  # the pool's sums hold every caller's
    assert sum(pool.stats.notes.values()) > sum((mine + theirs).values())  # and the plain page's


def outcome(future: Future[Article]) -> str:
    try:
        future.result(timeout=60)
    except ExtractionError as exc:
        return exc.reason
    return "ok"


def test_hanging_and_crashing_pages_fail_alone() -> None:
    tasks = demo_tasks(6)
    bad = [
        Task(tasks[0].html, BASE + "/hang.html"),
        Task(tasks[1].html, BASE + "/crash.html"),
        Task(tasks[2].html, BASE + "/bug.html"),
        Task(b"", BASE + "/empty.html"),
    ]
    with ExtractionPool(
        ExtractOptions(), workers=2, timeout=2.0, target="tests.pool_targets:hang_or_crash"
    ) as pool:
        futures = [pool.submit(t) for t in [*bad, *tasks]]
        outcomes = [outcome(f) for f in futures]
    assert outcomes[:4] == ["extract_timeout", "extract_crash", "extract_bug", "empty"]
    assert outcomes[4:] == ["ok"] * len(tasks)
    assert pool.stats.restarts == 2
    assert pool.stats.failed == {
        "extract_timeout": 1,
        "extract_crash": 1,
        "extract_bug": 1,
        "empty": 1,
    }


def test_processes_start_only_when_pages_wait_for_them() -> None:
    tasks = demo_tasks(4)
    with ExtractionPool(
        ExtractOptions(), workers=3, target="tests.pool_targets:hang_or_crash"
    ) as pool:
        for task in tasks:  # one page at a time: one process is enough
            pool.submit(task).result(timeout=60)
        assert pool.processes == 1
        slow = [pool.submit(Task(t.html, BASE + f"/slow-{i}.html")) for i, t in enumerate(tasks)]
        assert [outcome(f) for f in slow] == ["ok"] * 4
        assert pool.processes == 3  # four pages waited: grown to the limit, not past it
    assert pool.stats.restarts == 0


def test_closed_pool_refuses_work() -> None:
    pool = ExtractionPool(ExtractOptions(), workers=1)
    pool.close()
    with pytest.raises(PoolClosed):
        pool.submit(Task(b"<html></html>", BASE + "/x.html"))


def test_reports_are_counted_for_the_crawl_stats() -> None:
    # One page with two bytes its GB charset cannot decode, and a clean one: the pool sums the
    # extraction reports' counters (the crawl's zhengwen/extract/* stats).
    paras = "".join(
        f"<p>这是第{i}段正文，讲述了一个完整的新闻事件，内容足够长，可以被识别为文章的一部分。</p>"
        for i in range(6)
    )
    clean = (
        f"<html><head><meta charset='gb2312'><title>标题</title></head><body><h1>标题</h1>"
        f"<div class='content'>{paras}</div></body></html>"
    ).encode("gb18030")
    damaged = clean.replace("第3段".encode("gb18030"), "第3段".encode("gb18030") + b"\x81\x20", 1)
    damaged = damaged.replace("第4段".encode("gb18030"), "第4段".encode("gb18030") + b"\x81\x20", 1)
    with ExtractionPool(ExtractOptions(), workers=1) as pool:
        results = [
            pool.submit(Task(p, f"http://x.example/{i}.html"))
            for i, p in enumerate((clean, damaged))
        ]
        for f in results:
            f.result(timeout=60)
    notes = pool.stats.notes
    assert notes["replaced_chars"] == 2 and notes["pages_with_replaced_chars"] == 1
    assert sum(n for k, n in notes.items() if k.startswith("body/")) == 2
