"""``zhengwen serve`` in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright. A demo portal is crawled twice (one article edited in between, so that it has two
versions); the tests load the search page, type a Chinese query, open an article and its diff,
assert on the rendered DOM and save screenshots (``docs/img/``, shown in the README). A hostile
stored page must not run its scripts.

Skipped when Chromium or Playwright is missing, except under CI (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.demo.content import Portal
from crawler.demo.server import serve
from tests.conftest import IN_CI
from tests.test_crawl_e2e import crawl_cmd, crawl_env, site_config
from tests.test_web_cli import kill_all, start_serve

REPO = Path(__file__).resolve().parent.parent
#: Screenshots go to a temporary folder; with ZHENGWEN_UPDATE_SCREENSHOTS=1 to docs/img (the
#: README's), like --update-golden: committed files change only when asked.
SHOTS = (
    REPO / "docs" / "img"
    if os.environ.get("ZHENGWEN_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="zhengwen-screenshots-"))
)
CHROMIUM = os.environ.get("ZHENGWEN_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
QUERY = "扶贫"


def _browser_or_skip() -> Any:
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        problem = f"playwright is not installed ({exc})"
    if problem is None and not Path(CHROMIUM).is_file():
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if problem is not None:
        if IN_CI:
            pytest.fail(problem + " (CI=true: .ci/run installs it)")
        pytest.skip(problem)
    return sync_playwright


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo portal crawled twice, one article edited between the crawls."""
    folder = tmp_path_factory.mktemp("browser")
    archive = folder / "archive"
    portal = Portal.generate(n_articles=30, seed=424242)
    with serve(portal) as server:
        config = site_config(folder, server)
        config.write_text(
            config.read_text(encoding="utf-8").replace('name = "testportal"', 'name = "demo"'),
            encoding="utf-8",
        )
        for round_ in range(2):
            if round_ == 1:
                portal.edit_body(portal.articles()[3].path)
            done = subprocess.run(
                crawl_cmd(config, archive, "--quiet"),
                env=crawl_env(),
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert done.returncode == 0, done.stderr
    return archive


@pytest.fixture(scope="module")
def base(archive: Path) -> Iterator[str]:
    url, proc = start_serve(archive)
    try:
        yield url
    finally:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
        finally:
            kill_all(proc)


#: Messages of every alert/confirm/prompt a page opened (none may open).
DIALOGS: list[str] = []


@pytest.fixture(scope="module")
def page(base: str) -> Iterator[Any]:
    sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        tab = context.new_page()
        tab.on("dialog", lambda d: (DIALOGS.append(d.message), d.dismiss()))
        yield tab
        browser.close()


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=False)
    assert (SHOTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_search_article_and_diff_in_a_browser(base: str, page: Any) -> None:
    page.goto(base + "/")
    assert page.locator("table.sites").inner_text().count("demo") >= 1
    page.fill("#q", QUERY)
    page.press("#q", "Enter")
    page.wait_for_selector("#results")
    total = page.inner_text("#total")
    assert "article" in total
    hits = page.locator("#results li.hit")
    assert hits.count() > 0
    assert page.locator("#results mark").first.inner_text() == QUERY
    assert f"q={QUERY}" in urllib.parse.unquote(page.url)  # the search has its own URL
    _shot(page, "search.png")

    hits.first.locator("a.title").click()
    page.wait_for_selector("#article")
    assert page.inner_text("#title").strip()
    assert page.locator("#body p").count() > 0
    assert page.locator("#fields dt").count() >= 5
    _shot(page, "article.png")

    # The edited article: its diff from the versions table.
    edited = _edited_article(base)
    page.goto(base + f"/article/{edited}")
    page.locator("#versions a.diff-link").first.click()
    page.wait_for_selector("#diff")
    assert page.locator("#diff tr.changed, #diff tr.added, #diff tr.removed").count() > 0
    _shot(page, "diff.png")

    page.goto(base + "/sites/demo")
    assert page.locator("#chart svg rect.bar").count() == 90
    _shot(page, "site.png")
    assert DIALOGS == []


def _edited_article(base: str) -> str:
    import json

    with urllib.request.urlopen(base + "/?site=demo&format=json", timeout=30) as r:
        total = json.loads(r.read())["pages"]
    for n in range(1, total + 1):
        with urllib.request.urlopen(base + f"/?site=demo&page={n}&format=json", timeout=30) as r:
            for hit in json.loads(r.read())["results"]:
                with urllib.request.urlopen(base + f"/article/{hit['id']}?format=json") as a:
                    if len(json.loads(a.read())["versions"]) == 2:
                        return str(hit["id"])
    raise AssertionError("no article with two versions")


def test_a_hostile_stored_page_runs_no_script(page: Any, tmp_path: Path) -> None:
    from tests import web_archive
    from tests.test_web import _serve

    url = f"sqlite:///{tmp_path / 'zhengwen.sqlite'}"
    ids = web_archive.build(url)
    before = len(DIALOGS)
    for base, _archive in _serve(url):
        page.goto(base + f"/article/{ids['hostile']}")
        assert page.inner_text("#title").startswith("<script>")
        assert page.locator("#body img").count() == 0  # the <img onerror> is text, not an image
        page.goto(base + "/?q=恶意")
        assert page.locator("#results a.title").first.inner_text().startswith("<script>")
        assert "pwned" not in page.title()
    assert DIALOGS[before:] == []
