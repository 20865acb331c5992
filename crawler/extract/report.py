"""What one extraction did, for ``zhengwen extract --explain`` and the crawl's stats.

The extractor chooses among body candidates and removes lines by named rules; a user who sees a
wrong body (or a missing one) needs to know which candidate won, why, and which rule took which
line. The report is a plain, picklable record, so extraction workers can send its counters back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Report:
    codec: str = ""
    """The charset the page was decoded with."""
    replaced: int = 0
    """Characters replaced by U+FFFD while decoding (bytes the charset could not decode)."""
    candidate: str = ""
    """The body candidate chosen: ``trafilatura``, ``dom``, ``readability`` or ``selector``."""
    reason: str = ""
    """Why that candidate (`crawler.extract.candidates.choose`)."""
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per candidate: characters, prose characters, lines, agreement with the others."""
    dom_note: str = ""
    """The container the DOM scorer picked."""
    removed: list[tuple[str, str]] = field(default_factory=list)
    """(rule, line) for every line taken out of the chosen candidate's text."""
    kept_by_bound: list[str] = field(default_factory=list)
    """Rules not applied because they would have removed too much of the body."""
    unmatched_selectors: list[str] = field(default_factory=list)
    """Fields whose site selector matched no element with text on this page: the field fell
    back to the heuristics (the body: to nothing). A site whose selectors stop matching has
    usually been redesigned; counted so that a crawl shows it."""
    unusable_selectors: list[str] = field(default_factory=list)
    """Fields whose site selector matched text the field cannot use (a ``published_at`` that is
    not a date): the heuristics decided instead."""

    def counters(self) -> dict[str, int]:
        """What the crawl's stats count per page (``zhengwen/extract/<key>``)."""
        out = {f"body/{self.candidate or 'none'}": 1}
        if self.replaced:
            out["replaced_chars"] = self.replaced
            out["pages_with_replaced_chars"] = 1
        for rule in self.kept_by_bound:
            out[f"rule_bounded/{rule}"] = 1
        for name in self.unmatched_selectors:
            out[f"selector_unmatched/{name}"] = 1
        for name in self.unusable_selectors:
            out[f"selector_unusable/{name}"] = 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "codec": self.codec,
            "replaced_chars": self.replaced,
            "body_candidate": self.candidate,
            "reason": self.reason,
            "candidates": self.scores,
            "dom_container": self.dom_note,
            "rules_not_applied": self.kept_by_bound,
            "unmatched_selectors": self.unmatched_selectors,
            "unusable_selectors": self.unusable_selectors,
            "removed": [{"rule": rule, "line": line} for rule, line in self.removed],
        }
