"""Extractor fuzzing: hostile and broken pages against `crawler.extract.extract`.

    .venv/bin/python bench/fuzz.py --examples 2000            # fixed seed: the same inputs each run
    .venv/bin/python bench/fuzz.py --examples 2000 --random   # new inputs
    .venv/bin/python bench/fuzz.py --examples 300 --json out.json
    .venv/bin/python bench/fuzz.py --shapes                   # the slowest known pages, timed once

Every input goes through ``extract`` with the default options (size limits and time budget of
`crawler.extract.limits`). The run prints how many inputs were tried, the outcomes by typed
reason, the failures (any exception that is not an `ExtractionError`: a bug, each printed with
the input's kind and size and saved under ``--save``), the timeouts, and the wall-clock and CPU
time per page (max, p99, median). Exit status 1 when there was a failure.

Inputs come from the generators the unit tests use (``tests/test_fuzz_extract.py``): random
bytes; pages of random markup (tags, attributes, JSON-LD, labelled dates, charsets); real pages
(the seed page, /work/shared/evaldata) cut, spliced with junk, byte-flipped, re-encoded under a
wrong charset label; real pages under random site selectors (CSS and XPath, valid and broken);
and, here only, pathological shapes at the size limits (tens of thousands of
paragraphs, multi-megabyte single lines and attribute values, deep nesting, thousands of
``</body>`` tags), which the unit tests only build small.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "evaldata"
SEED_PAGE = ROOT / "tests" / "golden" / "fazhi-chenbao" / "seed" / "page.html"
URL = "http://www.example.com.cn/news/2024/0101/1.html"

#: Every reason `extract` may give (crawler/extract): a new one must be added here on purpose.
REASONS = frozenset(
    {
        "not_article",
        "empty",
        "unparsable",
        "undecodable",
        "bad_selector",
        "too_large",
        "too_many_tags",
        "extract_timeout",
    }
)

#: Labels a page may carry, right or wrong for its bytes, and HTTP header charsets.
CHARSET_LABELS = ("utf-8", "gb2312", "gbk", "gb18030", "big5", "latin-1", "utf-16", "x-bogus", "")
CODECS = ("utf-8", "gb2312", "gbk", "gb18030", "big5", "latin-1", "utf-16", "shift_jis")
BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00")

_META_CHARSET = re.compile(rb"<meta[^>]*charset[^>]*>", re.I)


# --- pages ----------------------------------------------------------------------------------------


def _read(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def load_pages(limit_shared: int | None = None) -> list[tuple[str, bytes]]:
    """The seed page and evaluation pages, as ``(name, bytes)``. ``limit_shared`` keeps that many
    of the smallest evaluation pages, half Chinese and half from the English benchmark, so a unit
    test stays quick."""
    pages = [("seed", SEED_PAGE.read_bytes())]
    groups = []
    for group in ("zh", "aeb"):
        files = sorted((SHARED / group).glob("*.html*")) if (SHARED / group).is_dir() else []
        groups.append([(f"{group}/{f.name}", _read(f)) for f in files])
    if limit_shared is not None:
        half = limit_shared // 2
        groups = [sorted(g, key=lambda p: (len(p[1]), p[0]))[:half] for g in groups]
    for group_pages in groups:
        pages.extend(group_pages)
    return pages


def _as_text(html: bytes) -> str:
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        return html.decode("gb18030", "replace")


def _relabel(html: bytes, label: str) -> bytes:
    """The page with its charset declarations replaced by one for ``label`` (none when empty)."""
    stripped = _META_CHARSET.sub(b"", html)
    if not label:
        return stripped
    return b'<meta charset="' + label.encode() + b'">' + stripped


@st.composite
def _mutation(draw: st.DrawFn, html: bytes) -> bytes:
    n = len(html)
    kind = draw(
        st.sampled_from(
            ["cut", "slice", "splice", "flip", "reencode", "repeat", "strip", "bom", "relabel"]
        )
    )
    if kind == "cut":
        return html[: draw(st.integers(0, n))]
    if kind == "slice":
        i = draw(st.integers(0, n))
        return html[i : draw(st.integers(i, n))]
    if kind == "splice":
        at = draw(st.integers(0, n))
        return html[:at] + draw(st.binary(min_size=1, max_size=256)) + html[at:]
    if kind == "flip":
        out = bytearray(html)
        for pos, byte in draw(
            st.lists(st.tuples(st.integers(0, max(0, n - 1)), st.integers(0, 255)), max_size=64)
        ):
            if out:
                out[pos] = byte
        return bytes(out)
    if kind == "reencode":
        codec = draw(st.sampled_from(CODECS))
        encoded = _as_text(html).encode(
            codec, draw(st.sampled_from(["replace", "xmlcharrefreplace", "ignore"]))
        )
        return _relabel(encoded, draw(st.sampled_from(CHARSET_LABELS)))
    if kind == "repeat":
        i = draw(st.integers(0, n))
        segment = html[i : i + draw(st.integers(1, 2048))]
        return html[:i] + segment * draw(st.integers(2, 50)) + html[i:]
    if kind == "strip":
        return html.replace(
            draw(st.sampled_from([b">", b"<", b'"', b"</", b"\n", b"<p>", b"</div>"])), b""
        )
    if kind == "bom":
        return draw(st.sampled_from(BOMS)) + html
    return _relabel(html, draw(st.sampled_from(CHARSET_LABELS)))


@st.composite
def mangled_pages(
    draw: st.DrawFn, pages: list[tuple[str, bytes]]
) -> tuple[bytes, str | None, str | None]:
    """A real page after one to three mutations, with an HTTP charset and maybe a forced one."""
    _, html = draw(st.sampled_from(pages))
    for _ in range(draw(st.integers(1, 3))):
        html = draw(_mutation(html))
    http = draw(st.none() | st.sampled_from(CHARSET_LABELS))
    forced = draw(st.none() | st.none() | st.sampled_from(CHARSET_LABELS))
    return html, http, forced


# --- random markup --------------------------------------------------------------------------------

TAGS = (
    "html", "head", "body", "title", "meta", "link", "script", "style", "noscript", "template",
    "div", "p", "span", "a", "img", "br", "hr", "h1", "h2", "h3", "h6", "b", "strong", "font",
    "center", "table", "tr", "td", "th", "ul", "ol", "li", "article", "section", "main", "header",
    "footer", "nav", "aside", "figure", "figcaption", "time", "iframe", "textarea", "svg", "math",
    "pre", "code", "form", "input", "select", "option", "frameset", "frame", "x-y", "o:p", "blink",
)  # fmt: skip
ATTRS = (
    "class", "id", "style", "href", "src", "alt", "content", "name", "property", "itemprop",
    "datetime", "charset", "http-equiv", "align", "type", "lang", "rel",
)  # fmt: skip
#: Words the extractor's patterns key on (labels, bylines, dates), so that random text reaches
#: the date parser and the 来源/作者/责任编辑 rules, not only the tree walk.
WORDS = (
    "来源：", "作者：", "责任编辑：", "记者", "通讯员", "导读：", "发布时间：", "2024-01-01 10:00",
    "2024年13月45日 25:61", "9999年99月99日", "1970-01-01T00:00:00Z", "2024/02/30", "+08:00",
    "昨天 10:00", "3小时前", "原标题：", "（完）", "当前位置：首页 > 新闻 > 正文", "分享到",
    "Copyright ©", "京ICP备00000000号", "&nbsp;", "&#0;", "&#x110000;", "&#99999999;", "&amp",
    "\x00", "\x1b", "\x0b", "\ufffe", "\uffff", "\u200b", "\ufeff", "\u3000", "\ud7ff", "\U0001f600", "</body>", "</html>",
    "<!--", "-->", "<![CDATA[", "]]>", "<?xml version='1.0'?>", "。", "，", "\n", "\r",
)  # fmt: skip

_text = st.one_of(
    st.sampled_from(WORDS),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40),
    st.text(alphabet="正文新闻记者报道今日北京上海电。，、：“”（）ab1 ", min_size=5, max_size=120),
)

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | _text,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["@type", "@context", "headline", "datePublished", "author", "name", "@graph", "x"]
            ),
            kids,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@st.composite
def _element(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    tag = draw(st.sampled_from(TAGS))
    attrs = draw(st.dictionaries(st.sampled_from(ATTRS), _text, max_size=3))
    rendered = "".join(
        f' {k}="{v}"' if draw(st.booleans()) else f" {k}={v}" for k, v in attrs.items()
    )
    if tag == "script" and draw(st.booleans()):
        rendered = ' type="application/ld+json"'
        inner = json.dumps(draw(_json), ensure_ascii=draw(st.booleans()), allow_nan=True)
        if draw(st.booleans()):
            inner = inner[: draw(st.integers(0, len(inner)))]
    else:
        inner = "".join(draw(st.lists(children, max_size=5)))
    close = draw(st.sampled_from([f"</{tag}>", f"</{tag}>", "", f"</{tag.upper()} >"]))
    return f"<{tag}{rendered}>{inner}{close}"


_markup = st.recursive(_text, lambda kids: _element(kids), max_leaves=40)


@st.composite
def markup_pages(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A page of random markup, encoded in some codec and labelled with some charset."""
    body = "".join(draw(st.lists(_markup, min_size=1, max_size=8)))
    label = draw(st.sampled_from(CHARSET_LABELS))
    head = f'<meta charset="{label}">' if label else ""
    page = draw(st.sampled_from(["{h}{b}", "<html><head>{h}</head><body>{b}</body></html>", "{b}"]))
    text = page.format(h=head, b=body)
    codec = draw(st.sampled_from(CODECS))
    html = text.encode(codec, "replace")
    return html, draw(st.none() | st.sampled_from(CHARSET_LABELS))


#: Pieces of CSS and XPath, valid and not, that site selectors are made of (``p::text`` is
#: parsel's, which Scrapy users write and lxml's cssselect cannot translate).
SELECTOR_PARTS = (
    "p", "div", ".content", "#main", "article p", "h1", "meta[name=author]", "::text",
    "::attr(href)", ":hover", ":first-letter", ":nth-child(2)", ":nth-child(x)", ":has(a)",
    ":contains('来源')", ":not(.x)", " > ", " ~ ", ", ", "[", "]", "(", ")", "//", "/", "//p",
    "/html/body", "//meta/@content", "/text()", "//*[@class='a']", "[position()=last()]",
    "count(//p)", "string(//h1)", "(//p)[1]", "//comment()", "|", "@", "*", "'", '"', "\\",
)  # fmt: skip


@st.composite
def site_selectors(draw: st.DrawFn) -> dict[str, str]:
    """A site's ``[selectors]`` table: one to three fields, each a selector made of pieces."""
    from crawler.config import SELECTOR_FIELDS

    parts = st.sampled_from(SELECTOR_PARTS)
    selector = st.one_of(
        st.tuples(st.sampled_from(["p", "div", "h1", ".content", "//p"]), parts).map("".join),
        st.lists(parts | _text, min_size=1, max_size=5).map("".join),
    )
    return draw(st.dictionaries(st.sampled_from(SELECTOR_FIELDS), selector, min_size=1, max_size=3))


# --- shapes that cost time ------------------------------------------------------------------------


def deep_page(tag: str, depth: int) -> bytes:
    """Text at the bottom of ``depth`` nested ``tag`` elements."""
    return (
        "<html><head><title>深</title></head><body>"
        + f"<{tag}>" * depth
        + "正文第一段，内容完整。" * 20
        + f"</{tag}>" * depth
        + "</body></html>"
    ).encode()


def paragraphs_page(n: int) -> bytes:
    """A page of ``n`` short paragraphs: work grows with the number of elements."""
    return (
        "<html><head><title>很多段落</title></head><body><div>"
        + "".join(f"<p>第{i}段正文，内容完整。</p>" for i in range(n))
        + "</div></body></html>"
    ).encode()


def long_line_page(chars: int, unit: str) -> bytes:
    return (
        f"<html><head><title>长行</title></head><body><p>{unit * (chars // len(unit))}</p></body></html>"
    ).encode()


def huge_attribute_page(size: int, attr: str) -> bytes:
    value = "x" * size
    return (
        f'<html><head><title>属性</title></head><body><div {attr}="{value}">'
        f"<p>正文第一段，内容完整。</p></div></body></html>"
    ).encode()


def end_tags_page(n: int) -> bytes:
    return ("<html><body><p>头部</p>" + "</body>" * n + "<p>正文在此。</p></html>").encode()


@st.composite
def pathological_pages(draw: st.DrawFn) -> bytes:
    """Pages at (and past) the limits of `crawler.extract.limits`: the slowest inputs we know."""
    kind = draw(st.sampled_from(["paragraphs", "line", "attribute", "deep", "end_tags"]))
    if kind == "paragraphs":
        return paragraphs_page(draw(st.integers(1_000, 26_000)))
    if kind == "line":
        return long_line_page(
            draw(st.integers(100_000, 10_000_000)),
            draw(st.sampled_from(["a ", "字", "。", "<b>x</b>"])),
        )
    if kind == "attribute":
        return huge_attribute_page(
            draw(st.integers(100_000, 10_000_000)), draw(st.sampled_from(ATTRS))
        )
    if kind == "deep":
        return deep_page(
            draw(st.sampled_from(["div", "span", "font", "table", "b"])),
            draw(st.integers(200, 60_000)),
        )
    return end_tags_page(draw(st.integers(1_000, 100_000)))


#: The slowest pages we know, each at (or just past) a limit: ``--shapes`` times each once.
SHAPES: tuple[tuple[str, Callable[[], bytes]], ...] = (
    ("24,990 paragraphs (49,988 '<', under the tag limit)", lambda: paragraphs_page(24_990)),
    ("25,100 paragraphs (over the tag limit)", lambda: paragraphs_page(25_100)),
    ("9.9 MB line of 'a ' (5 million words)", lambda: long_line_page(9_900_000, "a ")),
    ("9.9 MB line of 字 (3.3 million characters)", lambda: long_line_page(3_300_000, "字")),
    (
        "10.4 MB line of 'a ' (libxml2 caps a text node at 10 MB)",
        lambda: long_line_page(10_400_000, "a "),
    ),
    ("9.9 MB class attribute", lambda: huge_attribute_page(9_900_000, "class")),
    ("9.9 MB style attribute", lambda: huge_attribute_page(9_900_000, "style")),
    ("9.9 MB alt attribute", lambda: huge_attribute_page(9_900_000, "alt")),
    ("24,990 nested div", lambda: deep_page("div", 24_990)),
    ("24,990 nested font", lambda: deep_page("font", 24_990)),
    ("49,990 </body> tags", lambda: end_tags_page(49_990)),
    ("11 MB page (over the byte limit)", lambda: long_line_page(11_000_000, "a ")),
)


def time_shapes() -> list[dict[str, Any]]:
    """Each of `SHAPES` through ``extract`` once, with its outcome and CPU and wall time."""
    from crawler.extract import ExtractionError, extract

    extract(paragraphs_page(10), URL)  # imports are not charged to the first shape
    rows = []
    for name, build in SHAPES:
        html = build()
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            extract(html, URL)
            result = "ok"
        except ExtractionError as exc:
            result = exc.reason
        rows.append(
            {
                "shape": name,
                "bytes": len(html),
                "outcome": result,
                "cpu_s": round(time.thread_time() - cpu, 2),
                "wall_s": round(time.perf_counter() - start, 2),
            }
        )
        print(
            f"| {name} | {len(html):,} | {result} | {rows[-1]['cpu_s']:.2f} | {rows[-1]['wall_s']:.2f} |",
            flush=True,
        )
    return rows


# --- the run --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    slowest: list[tuple[float, str, int]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def run(
        self,
        kind: str,
        html: bytes,
        http: str | None = None,
        forced: str | None = None,
        selectors: dict[str, str] | None = None,
    ) -> None:
        from crawler.extract import ExtractionError, ExtractOptions, extract

        start, cpu = time.perf_counter(), time.thread_time()
        try:
            extract(
                html,
                URL,
                ExtractOptions(encoding=forced, selectors=selectors or {}),
                http_encoding=http,
            )
            result = "ok"
        except ExtractionError as exc:
            result = exc.reason if exc.reason in REASONS else f"unknown reason {exc.reason}"
        except Exception as exc:  # the point of the run: anything untyped is a bug
            result = "FAILURE"
            self.failures.append(
                {
                    "kind": kind,
                    "bytes": len(html),
                    "error": repr(exc),
                    "trace": traceback.format_exc(),
                    "html": html,
                }
            )
        wall = time.perf_counter() - start
        self.wall.append(wall)
        self.cpu.append(time.thread_time() - cpu)
        self.outcomes[f"{kind}: {result}"] += 1
        self.slowest = sorted([*self.slowest, (wall, kind, len(html))], reverse=True)[:5]


def _p99(values: list[float]) -> float:
    if len(values) < 2:
        return max(values, default=0.0)
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def fuzz(examples: int, derandomize: bool, with_pathological: bool = True) -> Tally:
    """Run ``examples`` inputs, shared between the generators (pathological ones: one in ten)."""
    from crawler.extract import ExtractionError, extract

    pages = load_pages()
    # Imports and caches (the parser, trafilatura, charset detection) are not charged to the
    # first input.
    for warm_up in (pages[0][1], b"\x81\xff\x00binary", b"abc"):
        try:
            extract(warm_up, URL)
        except ExtractionError:
            pass
    tally = Tally()
    mangled = mangled_pages(pages)
    # (share in tenths, generator, how to run one value)
    kinds: list[tuple[int, st.SearchStrategy[Any], Callable[[Tally, Any], None]]] = [
        (2, st.binary(max_size=65536), lambda t, h: t.run("random bytes", h)),
        (3, markup_pages(), lambda t, c: t.run("markup", c[0], c[1])),
        (3, mangled, lambda t, c: t.run("mangled page", c[0], c[1], c[2])),
        (
            1,
            st.tuples(st.sampled_from(pages), site_selectors()),
            lambda t, c: t.run("site selectors", c[0][1], selectors=c[1]),
        ),
    ]
    if with_pathological:
        kinds.append((1, pathological_pages(), lambda t, h: t.run("pathological", h)))
    tenths = sum(k[0] for k in kinds)
    shares = [examples * k[0] // tenths for k in kinds]
    shares[2] += examples - sum(shares)
    for (_, strategy, call), share in zip(kinds, shares, strict=True):
        if share > 0:
            _drive(strategy, call, tally, share, derandomize)
    return tally


def _drive(
    strategy: st.SearchStrategy[Any],
    call: Callable[[Tally, Any], None],
    tally: Tally,
    examples: int,
    derandomize: bool,
) -> None:
    """Feed ``examples`` values of ``strategy`` to ``call``: hypothesis as a generator only (no
    shrinking, since the run records failures instead of stopping at the first)."""

    @settings(
        max_examples=examples,
        derandomize=derandomize,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one(value: Any) -> None:
        call(tally, value)

    one()


def report(tally: Tally, examples: int, seconds: float) -> dict[str, Any]:
    from bench import machine

    timeouts = sum(n for k, n in tally.outcomes.items() if k.endswith("extract_timeout"))
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine.describe(),
        "examples": examples,
        "inputs_tried": len(tally.wall),
        "failures": len(tally.failures),
        "timeouts": timeouts,
        "seconds": round(seconds, 1),
        "wall_max_s": round(max(tally.wall, default=0.0), 3),
        "wall_p99_s": round(_p99(tally.wall), 3),
        "wall_median_s": round(statistics.median(tally.wall) if tally.wall else 0.0, 4),
        "cpu_max_s": round(max(tally.cpu, default=0.0), 3),
        "cpu_p99_s": round(_p99(tally.cpu), 3),
        "slowest": [{"wall_s": round(w, 3), "kind": k, "bytes": b} for w, k, b in tally.slowest],
        "outcomes": dict(sorted(tally.outcomes.items())),
        "failure_list": [{k: v for k, v in f.items() if k != "html"} for f in tally.failures],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=1000, help="inputs to try (default 1000)")
    parser.add_argument(
        "--random", action="store_true", help="new inputs instead of the fixed seed"
    )
    parser.add_argument(
        "--no-pathological", action="store_true", help="leave out the shapes at the limits"
    )
    parser.add_argument(
        "--shapes", action="store_true", help="only time the slowest known shapes, once each"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--save", type=Path, help="folder for the inputs that failed")
    args = parser.parse_args(argv)
    if args.shapes:
        print("| shape | bytes | outcome | CPU s | wall s |\n|---|---:|---|---:|---:|")
        rows = time_shapes()
        if args.json:
            args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return 0

    start = time.perf_counter()
    tally = fuzz(
        args.examples, derandomize=not args.random, with_pathological=not args.no_pathological
    )
    figures = report(tally, args.examples, time.perf_counter() - start)
    for key in ("date", "machine", "inputs_tried", "failures", "timeouts", "seconds"):
        print(f"{key}: {figures[key]}")
    print(
        f"time per page: wall max {figures['wall_max_s']} s, p99 {figures['wall_p99_s']} s, "
        f"median {figures['wall_median_s']} s; CPU max {figures['cpu_max_s']} s, p99 {figures['cpu_p99_s']} s"
    )
    print(
        "slowest:",
        ", ".join(f"{s['kind']} {s['bytes']:,} B {s['wall_s']} s" for s in figures["slowest"]),
    )
    for outcome, n in figures["outcomes"].items():
        print(f"  {n:6d}  {outcome}")
    for i, failure in enumerate(tally.failures):
        print(
            f"FAILURE {i}: {failure['kind']}, {failure['bytes']} bytes: {failure['error']}\n{failure['trace']}"
        )
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / f"failure-{i}.html").write_bytes(failure["html"])
    if args.json:
        args.json.write_text(
            json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
