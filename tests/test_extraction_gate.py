"""Regression gate: zhengwen's extraction scores on the shared evaluation sets may not drop.

The pin (bench/extraction_pin.json) moves only through `python bench/extraction.py
--update-pin`, whose diff is reviewed like any code change.
"""

from __future__ import annotations

import json
import os

import pytest

from bench.extraction import PIN, SHARED, evaluate, load_cases, pin_metrics

#: Allowed drop from a pinned rate: below this it is noise from a changed tie, above it a loss.
TOLERANCE = 0.005


def test_extraction_scores_do_not_regress() -> None:
    if not (SHARED / "zh" / "truth.jsonl").exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"evaluation data missing at {SHARED} (CI=true)")
        pytest.skip(f"evaluation data not found at {SHARED}")
    pinned = json.loads(PIN.read_text(encoding="utf-8"))
    current = pin_metrics(evaluate("zhengwen", load_cases()).metrics)
    drops = [
        f"{group}.{key}: {current[group].get(key)} < pinned {value}"
        for group, metrics in pinned.items()
        for key, value in metrics.items()
        if key != "bad_pages"
        and (current[group].get(key) is None or current[group][key] < value - TOLERANCE)
    ]
    # Pages below 0.8 body F1 may not become more (issue #13: no page may fall apart).
    drops += [
        f"{group}.bad_pages: {current[group]['bad_pages']} > pinned {metrics['bad_pages']}"
        for group, metrics in pinned.items()
        if "bad_pages" in metrics and current[group]["bad_pages"] > metrics["bad_pages"]
    ]
    assert not drops, "extraction regressed:\n" + "\n".join(drops)
