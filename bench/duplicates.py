"""Simhash on real pages: how far apart copies and different articles land, and its speed.

    python bench/duplicates.py          # print the figures quoted in docs/duplicates.md

Copies of one story are (1) the hand-made truth body against the body zhengwen extracts from
the same page (what two crawls of differently dressed copies look like after extraction), (2)
against plain trafilatura's output, which keeps some chrome lines (a portal whose chrome our
cleanup misses), and (3) the truth body with small edits a syndicating portal makes: a
来源/责任编辑 line added, one sentence dropped, a few characters changed, punctuation
half-width. Different articles are every pair of distinct truth bodies of a set.
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.extraction import Case, load_cases  # noqa: E402
from storage.simhash import THRESHOLD, hamming, simhash  # noqa: E402

_SENTENCE = re.compile(r"(?<=[。！？!?.])")


def edits(body: str, rng: random.Random) -> dict[str, str]:
    lines = body.splitlines()
    sentences = [s for s in _SENTENCE.split(body) if s.strip()]
    dropped = sentences[:]
    if len(dropped) > 3:
        del dropped[rng.randrange(1, len(dropped) - 1)]
    chars = list(body)
    for _ in range(3):
        i = rng.randrange(len(chars))
        if not chars[i].isspace():
            chars[i] = "某" if "\u4e00" <= chars[i] <= "\u9fff" else "x"
    return {
        "chrome lines": "\n".join(
            ["来源：光明网 | 2024-05-01 09:30", *lines, "责任编辑：王法", "分享到："]
        ),
        "one sentence dropped": "".join(dropped),
        "3 characters changed": "".join(chars),
        "half-width punctuation": body.translate(str.maketrans("，。：；！？（）", ",.:;!?()")),
    }


def summary(values: Iterable[int]) -> str:
    vs = sorted(values)
    if not vs:
        return "n=0"
    q = statistics.quantiles(vs, n=20) if len(vs) > 1 else [vs[0]] * 19
    within = sum(1 for v in vs if v <= THRESHOLD)
    return (
        f"n={len(vs)} min={vs[0]} p5={q[0]:.0f} median={statistics.median(vs):.0f} "
        f"p95={q[-1]:.0f} max={vs[-1]} <= {THRESHOLD}: {within}"
    )


def extracted(cases: list[Case], run: Callable[[bytes, str], str]) -> list[int]:
    out = []
    for c in cases:
        body = run(c.html(), c.url)
        if body:
            out.append(hamming(simhash(c.body), simhash(body)))
    return out


def zhengwen_body(html: bytes, url: str) -> str:
    from bench.extraction import run_zhengwen

    return run_zhengwen(html, url).body


def trafilatura_body(html: bytes, url: str) -> str:
    from bench.extraction import run_trafilatura_body

    return run_trafilatura_body(html, url).body


def timing(bodies: list[str]) -> float:
    """µs per simhash of a 2,000-character body (best of 5 passes over the set)."""
    text = "\n".join(bodies)
    samples = [text[i : i + 2000] for i in range(0, len(text) - 2000, 2000)][:50]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for s in samples:
            simhash(s)
        best = min(best, (time.perf_counter() - start) / len(samples))
    return best * 1e6


def main() -> None:
    rng = random.Random(5)
    cases = [c for c in load_cases() if c.body.strip()]
    groups = {
        "zh": [c for c in cases if c.group.startswith("zh")],
        "en (aeb)": [c for c in cases if c.group == "aeb"],
    }
    for name, group in groups.items():
        print(f"## {name}: {len(group)} pages with a truth body")
        print(f"- extracted by zhengwen vs truth: {summary(extracted(group, zhengwen_body))}")
        print(f"- plain trafilatura vs truth:     {summary(extracted(group, trafilatura_body))}")
        by_kind: dict[str, list[int]] = {}
        for c in group:
            base = simhash(c.body)
            for kind, text in edits(c.body, rng).items():
                by_kind.setdefault(kind, []).append(hamming(base, simhash(text)))
        for kind, values in by_kind.items():
            print(f"- {kind}: {summary(values)}")
        hashes = [simhash(c.body) for c in group]
        print(
            f"- different articles (all pairs): {summary(hamming(a, b) for a, b in combinations(hashes, 2))}"
        )
        print()
    zh_bodies = [c.body for c in groups["zh"]]
    en_bodies = [c.body for c in groups["en (aeb)"]]
    print(
        f"simhash of a 2,000-character body: zh {timing(zh_bodies):.0f} µs, en {timing(en_bodies):.0f} µs"
    )


if __name__ == "__main__":
    main()
