"""Bytes to text for HTML pages whose declared encoding is often wrong.

Chinese portals are the worst case: pages declared GB2312 use GBK/GB18030 characters, templates
converted to UTF-8 keep their old GB2312 ``<meta>``, and servers send a default header that
contradicts both. So a declaration is a hint that we check by decoding strictly, never a fact.
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

from charset_normalizer import from_bytes

from crawler.extract.errors import NotAnArticle, UndecodableError
from crawler.extract.patterns import (
    GB_FAMILY,
    MAX_CONTROL_RATIO,
    MAX_REPLACED_SHARE,
    META_CHARSET_RE,
    META_SNIFF_BYTES,
    MIN_REPLACED_ALLOWED,
    WEAK_DECLARATIONS,
)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def normalize_codec(name: str | None) -> str | None:
    """A Python codec name for a declared charset, or None when Python does not know it.

    The GB family maps to gb18030 (see `GB_FAMILY`); anything else goes through
    `codecs.lookup` so aliases such as ``x-sjis`` or ``UTF8`` compare equal.
    """
    if not name:
        return None
    key = name.strip().strip("\"'").lower()
    if key in GB_FAMILY:
        return "gb18030"
    try:
        return codecs.lookup(key).name
    except LookupError:
        return None


def declared_charsets(html: bytes) -> list[str]:
    """Charsets named by ``<meta>`` tags near the top of the page, in document order."""
    found: list[str] = []
    for match in META_CHARSET_RE.finditer(html[:META_SNIFF_BYTES]):
        codec = normalize_codec(match.group(1).decode("ascii", "ignore"))
        if codec and codec not in found:
            found.append(codec)
    return found


def _strict(html: bytes, codec: str) -> str | None:
    try:
        return html.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _looks_binary(text: str) -> bool:
    """Real HTML has (almost) no C0 control characters; binary decoded as text has many."""
    if not text:
        return False
    sample = text[:65536]
    return len(_CONTROL_RE.findall(sample)) > MAX_CONTROL_RATIO * len(sample)


_GB_HIGH_TRAIL_RE = re.compile(rb"[\x81-\xfe][\x81-\xfe]")
_GB_ASCII_TRAIL_RE = re.compile(rb"[\x81-\xfe][\x40-\x7e]")


def _plausible_gb(html: bytes) -> bool:
    """Latin-1 text (``été``) also decodes as gb18030, one accented letter plus the next ASCII
    letter making a "character". Real GB text mostly pairs two high bytes (all of GB2312 does),
    so more high-byte + ASCII pairs than high + high pairs means it is not GB."""
    return len(_GB_HIGH_TRAIL_RE.findall(html)) >= len(_GB_ASCII_TRAIL_RE.findall(html))


def _is_weak(codec: str) -> bool:
    return codec in WEAK_DECLARATIONS or codec in {normalize_codec(w) for w in WEAK_DECLARATIONS}


def _detect(html: bytes) -> str | None:
    """charset_normalizer's best guess, with the GB family widened to gb18030."""
    best = from_bytes(html[:200_000]).best()
    if best is None:
        return None
    return normalize_codec(best.encoding)


class Decoded(NamedTuple):
    text: str
    codec: str
    replaced: int = 0
    """Characters replaced by U+FFFD: bytes the chosen charset could not decode (a damaged page
    shown the way a browser shows it). Counted in the crawl's stats."""


def decode_html(
    html: bytes, forced: str | None = None, http_encoding: str | None = None
) -> tuple[str, str]:
    """Decode page bytes; returns ``(text, codec)`` (`decode` also says how many characters were
    replaced)."""
    text, codec, _replaced = decode(html, forced, http_encoding)
    return text, codec


def _replaced(html: bytes, codec: str) -> tuple[str, int]:
    """The bytes decoded with replacement, and how many U+FFFD that added (a page may hold the
    character itself, which is not a decoding error)."""
    text = html.decode(codec, "replace")
    try:
        literal = html.count("\ufffd".encode(codec))
    except (UnicodeEncodeError, LookupError):
        literal = 0
    return text, max(0, text.count("\ufffd") - literal)


def _tolerable(text: str, replaced: int) -> bool:
    """A few replaced characters among many decoded ones is a damaged page of this charset; a
    wrong charset replaces a large share of the non-ASCII text (or makes it binary)."""
    wide = sum(1 for ch in text if ord(ch) > 127)
    return replaced <= MAX_REPLACED_SHARE * wide or (
        replaced <= MIN_REPLACED_ALLOWED and replaced * 10 <= wide
    )


def _lenient(html: bytes, codecs_: list[str]) -> Decoded | None:
    """The codec that decodes the page with the fewest replacements (the earlier in `codecs_` on
    a tie: the declared charset first), if that number is tolerable: a page shown the way a
    browser shows it. None when every codec breaks the text."""
    best: Decoded | None = None
    for codec in codecs_:
        try:
            text, replaced = _replaced(html, codec)
        except LookupError:
            continue
        if best is None or replaced < best.replaced:
            best = Decoded(text, codec, replaced)
    if best is None or not _tolerable(best.text, best.replaced) or _looks_binary(best.text):
        return None
    return best


def decode(html: bytes, forced: str | None = None, http_encoding: str | None = None) -> Decoded:
    """Decode page bytes the way a browser would.

    Order: BOM (unambiguous), a forced site encoding (the user knows better), the ``<meta>``
    declaration, the HTTP header, then detection. Every declaration is tried strictly first so a
    wrong one falls through instead of producing mojibake; when no charset decodes the page
    strictly, the declared one (else UTF-8 or GB18030) is taken with replacement characters if
    only a few bytes are broken, as browsers do, instead of dropping the page or guessing another
    script. Raises `UndecodableError` for binary bodies and `NotAnArticle` for empty ones.
    """
    if not html.strip():
        raise NotAnArticle("empty page", reason="empty")
    for bom, codec in _BOMS:
        if html.startswith(bom):
            text, replaced = _replaced(html[len(bom) :], codec)
            return Decoded(*_checked(text, codec), replaced)

    forced_codec = normalize_codec(forced)
    if forced_codec:
        text, replaced = _replaced(html, forced_codec)
        return Decoded(*_checked(text, forced_codec), replaced)

    # Valid UTF-8 with non-ASCII bytes is practically never anything else (GBK text is not valid
    # UTF-8 beyond a few bytes), so it wins over a stale GB2312 declaration. Checked first because
    # UTF-8 bytes can also pass a strict gb18030 decode by accident.
    utf8 = _strict(html, "utf-8")
    if utf8 is not None:
        return Decoded(*_checked(utf8, "utf-8"))

    candidates = declared_charsets(html)
    http_codec = normalize_codec(http_encoding)
    if http_codec and http_codec not in candidates:
        candidates.append(http_codec)
    weak: str | None = None
    strong: list[str] = []
    for codec in candidates:
        if _is_weak(codec):
            weak = weak or codec
            continue
        strong.append(codec)
        declared = _strict(html, codec)
        if declared is not None:
            return Decoded(*_checked(declared, codec))

    # Declarations failed or were missing. gb18030 is the dominant legacy encoding of the pages
    # this project targets and rarely decodes non-GB bytes strictly over a whole page.
    plausible_gb = _plausible_gb(html)
    gb = _strict(html, "gb18030")
    if gb is not None and plausible_gb and not _looks_binary(gb):
        return Decoded(gb, "gb18030")
    # A page a few bytes short of its charset: the declared one first, then the two families
    # that cover the pages we target (UTF-8 is self-checking, so it goes before GB18030).
    fallbacks = [*strong, "utf-8", *(["gb18030"] if plausible_gb else [])]
    lenient = _lenient(html, list(dict.fromkeys(fallbacks)))
    if lenient is not None:
        return lenient
    if weak:
        return Decoded(*_checked(html.decode(weak, "replace"), weak))
    detected = _detect(html)
    if detected:
        text, replaced = _replaced(html, detected)
        return Decoded(*_checked(text, detected), replaced)
    raise UndecodableError("no encoding decodes these bytes as text")


def _checked(text: str, codec: str) -> tuple[str, str]:
    if _looks_binary(text):
        raise UndecodableError(f"bytes decoded as {codec} are binary, not text")
    return text, codec
