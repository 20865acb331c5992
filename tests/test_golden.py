"""Golden files: ``tests/golden/<site>/<case>/page.html`` (original bytes) -> ``expected.json``.

Each case may carry ``options.json`` with ``{"url": ..., "options": {ExtractOptions fields}}``;
without it the site is the folder name and the URL a placeholder. ``expected.json`` changes only
through ``pytest --update-golden``, whose diff is reviewed like code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.extract import ExtractOptions, extract

GOLDEN = Path(__file__).resolve().parent / "golden"
#: Crawl-time fields and the extractor version: not a property of the page.
VOLATILE = ("fetched_at", "first_seen", "last_seen", "crawl_run_id", "extraction_version")
CASES = sorted(p.parent for p in GOLDEN.glob("*/*/page.html"))


def load_case(case: Path) -> tuple[str, ExtractOptions]:
    site = case.parent.name
    url = f"https://{site}.example/{case.name}.html"
    opts: dict[str, Any] = {"site": site}
    options_file = case / "options.json"
    if options_file.is_file():
        data = json.loads(options_file.read_text(encoding="utf-8"))
        url = data.get("url", url)
        opts.update(data.get("options", {}))
    return url, ExtractOptions(**opts)


def article_json(case: Path) -> dict[str, Any]:
    url, options = load_case(case)
    article = extract((case / "page.html").read_bytes(), url, options)
    out = article.to_json_dict()
    for key in VOLATILE:
        out.pop(key, None)
    return out


def test_there_are_golden_cases() -> None:
    assert CASES, "no golden cases found"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_golden(case: Path, update_golden: bool) -> None:
    got = article_json(case)
    expected_file = case / "expected.json"
    if update_golden:
        expected_file.write_text(
            json.dumps(got, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    assert expected_file.is_file(), f"{expected_file} missing: run pytest --update-golden"
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    assert got == expected
