"""Drift detection over run records."""

from __future__ import annotations

from storage.quality import MIN_PAGES, drift, quality


def test_quality_shares() -> None:
    assert quality(20, 20, 19, 10) == {"pages": 20, "body": 1.0, "title": 0.95, "date": 0.5}
    assert quality(0, 0, 0, 0) == {"pages": 0}


def test_redesign_is_flagged() -> None:
    usual = [quality(50, 50, 50, 49)] * 3
    assert drift(quality(40, 40, 40, 12), usual) == ["date 0.30 (usual 0.98)"]
    assert drift(quality(40, 10, 9, 12), usual) == [
        "body 0.25 (usual 1.00)",
        "title 0.23 (usual 1.00)",
        "date 0.30 (usual 0.98)",
    ]


def test_small_dips_small_runs_and_no_history_are_not_flagged() -> None:
    usual = [quality(50, 50, 50, 49)] * 3
    assert drift(quality(40, 40, 38, 36), usual) == []  # within the margin
    assert drift(quality(MIN_PAGES - 1, 0, 0, 0), usual) == []  # too few pages to judge
    assert drift(quality(40, 0, 0, 0), []) == []  # first run: nothing is usual yet
    assert drift(quality(40, 0, 0, 0), [quality(3, 3, 3, 3), None]) == []  # only tiny runs before
