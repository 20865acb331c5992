"""Leave-one-site-out report of bench/extraction.py (``--loso``), on synthetic scores.

The selection must never let a site's own pages pick the value it is scored with: otherwise the
LOSO F1 is just the in-sample F1 again and cannot reveal an overfit threshold. These tests run no
extraction; `loso` itself is exercised with a stand-in `evaluate` reading a fake threshold.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import bench.extraction as bx
from bench.extraction import Case, Evaluation, choose_loso, default_grid, in_sample_best

# Site A's pages want 0.2 badly; B's and C's pages mildly prefer 0.4 (the shipped value).
SITES = {"a/1": "A", "a/2": "A", "b/1": "B", "c/1": "C"}
PER_VALUE = {
    0.2: {"a/1": 1.0, "a/2": 1.0, "b/1": 0.7, "c/1": 0.7},
    0.4: {"a/1": 0.0, "a/2": 0.0, "b/1": 0.8, "c/1": 0.8},
}


def test_site_is_scored_with_value_chosen_on_other_sites() -> None:
    # All pages: 0.2 averages 0.85, 0.4 averages 0.4, so a tuner seeing every page picks 0.2 ...
    assert in_sample_best(PER_VALUE, shipped=0.4) == 0.2
    choices = choose_loso(PER_VALUE, SITES, shipped=0.4)
    # ... but without A's pages 0.4 wins (0.8 vs 0.7), so A is scored with 0.4, not its own 0.2.
    assert choices["A"] == 0.4
    # B and C, held out in turn, see A's pages, which pull the choice to 0.2.
    assert choices["B"] == 0.2
    assert choices["C"] == 0.2


def test_own_pages_never_change_own_choice() -> None:
    base = choose_loso(PER_VALUE, SITES, shipped=0.4)
    for site in ("A", "B", "C"):
        for flipped in ((1.0, 0.0), (0.0, 1.0)):
            scores = {v: dict(f1) for v, f1 in PER_VALUE.items()}
            for key, s in SITES.items():
                if s == site:
                    scores[0.2][key], scores[0.4][key] = flipped
            assert choose_loso(scores, SITES, shipped=0.4)[site] == base[site]


def test_ties_go_to_shipped_then_to_smaller() -> None:
    sites = {"a/1": "A", "b/1": "B", "c/1": "C"}
    flat = {v: {k: 0.5 for k in sites} for v in (0.1, 0.3, 0.5)}
    assert set(choose_loso(flat, sites, shipped=0.3).values()) == {0.3}
    assert in_sample_best(flat, shipped=0.3) == 0.3
    # The shipped value is not among the best: the smaller of the tied best values wins.
    worse = {**flat, 0.3: {k: 0.4 for k in sites}}
    assert set(choose_loso(worse, sites, shipped=0.3).values()) == {0.1}
    assert in_sample_best(worse, shipped=0.3) == 0.1


def test_single_site_keeps_shipped_value() -> None:
    sites = {"a/1": "A", "a/2": "A"}
    scores = {0.1: {"a/1": 1.0, "a/2": 1.0}, 0.3: {"a/1": 0.0, "a/2": 0.0}}
    assert choose_loso(scores, sites, shipped=0.3) == {"A": 0.3}


def test_default_grid_spans_half_to_one_and_a_half_within_unit_interval() -> None:
    assert default_grid(0.4) == [0.2, 0.3, 0.4, 0.5, 0.6]
    grid = default_grid(0.8)
    assert 0.8 in grid and min(grid) == 0.4 and max(grid) == 1.0
    assert all(0.0 <= v <= 1.0 for v in grid)


def _case(group: str, id: str, host: str) -> Case:
    return Case(
        id, group, Path("/nonexistent"), f"https://{host}/{id}.html", None, None, None, None, ""
    )


def test_loso_patches_restores_and_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("zw_loso_fake.thresholds")
    fake.T = 0.4  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "zw_loso_fake.thresholds", fake)
    cases = [
        _case("aeb", "1", "a.example"),
        _case("aeb", "2", "a.example"),
        _case("cwce-dev", "1", "b.example"),
        _case("cwce-dev", "2", "c.example"),
    ]
    # The same scores as PER_VALUE, keyed by the cases' group/id.
    table = {
        0.2: {"aeb/1": 1.0, "aeb/2": 1.0, "cwce-dev/1": 0.7, "cwce-dev/2": 0.7},
        0.4: {"aeb/1": 0.0, "aeb/2": 0.0, "cwce-dev/1": 0.8, "cwce-dev/2": 0.8},
    }
    seen: list[float] = []

    def fake_evaluate(name: str, cs: list[Case]) -> Evaluation:
        assert name == "zhengwen"
        seen.append(fake.T)
        return Evaluation({}, dict(table[fake.T]), {})

    monkeypatch.setattr(bx, "evaluate", fake_evaluate)
    report = bx.loso(
        cases, {"zw_loso_fake.thresholds:T": [0.2], "candidates:NO_SUCH_THRESHOLD": [0.1]}, False
    )

    assert fake.T == 0.4  # restored
    assert sorted(seen) == [0.2, 0.4]  # one pass per value, the shipped value added to the grid
    entry = report["zw_loso_fake.thresholds:T"]
    assert entry.values == [0.2, 0.4] and entry.best == 0.2
    assert entry.best_f1 == pytest.approx(0.85)
    assert entry.moved == {0.2: 4, 0.4: 0}
    assert entry.choices == {"a.example": 0.4, "b.example": 0.2, "c.example": 0.2}
    aeb = entry.sets["aeb"]
    assert (aeb.pages, aeb.sites, aeb.chosen) == (2, 1, {0.4: 1})
    assert aeb.shipped_f1 == 0.0 and aeb.loso_f1 == 0.0  # held out, site a cannot pick its 0.2
    cwce = entry.sets["cwce-dev"]
    assert cwce.shipped_f1 == pytest.approx(0.8) and cwce.loso_f1 == pytest.approx(0.7)
    assert entry.sets["all"].loso_f1 == pytest.approx(0.35)
    assert "zh" not in entry.sets  # no pages in it
    missing = report["candidates:NO_SUCH_THRESHOLD"]
    assert missing.note is not None and "no such attribute" in missing.note
    text = bx.loso_table(report)
    assert "`zw_loso_fake.thresholds:T`" in text and "0.4×1" in text
    assert "NO_SUCH_THRESHOLD" in text


def test_loso_restores_threshold_when_a_run_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("zw_loso_fake.failing")
    fake.T = 0.4  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "zw_loso_fake.failing", fake)

    def boom(name: str, cs: list[Case]) -> Evaluation:
        raise RuntimeError(f"extraction failed at T={fake.T}")

    monkeypatch.setattr(bx, "evaluate", boom)
    with pytest.raises(RuntimeError, match=r"T=0\.2"):
        bx.loso([_case("aeb", "1", "a.example")], {"zw_loso_fake.failing:T": [0.2]}, False)
    assert fake.T == 0.4
