"""A 64-bit simhash of article text, for finding syndicated copies across portals.

Why simhash: a story from 光明网 reappears on many portals with other chrome, a dropped
sentence, another 来源 line or a fixed typo, so the content hash differs while the text is
nearly the same. Simhash (Charikar 2002) maps similar texts to fingerprints that differ in few
bits, so "near copy" becomes "Hamming distance <= `THRESHOLD`", and a banded index
(`BANDS` slices of `BAND_BITS`, see `bands`) finds candidates with equality lookups.

Features are pairs of consecutive tokens (`SHINGLE`). A token is one Han character (Chinese
has no spaces) or one run of letters/digits in other scripts, lower-cased. Punctuation and
whitespace are not tokens, so a portal that renders half-width punctuation, other line breaks
or extra spaces does not move the fingerprint. Pairs rather than triples: one edited character
then touches two features instead of three, which keeps small edits within fewer bits, while
different articles stay far apart (single tokens would not: different English articles came
to 6 bits). Every occurrence votes, so repeated phrases weigh more.

Feature hashes are stable across processes and machines (Python's ``hash`` is salted per
process): tabulation hashing over blake2b keys per token, see `features`. The per-bit vote runs
on byte columns as big integers (``int.bit_count`` in C), not 64 Python steps per feature.
About 0.5-1 ms per 2,000-character body.

The fingerprint is a *signed* 64-bit integer so that it fits Parquet ``int64`` and SQL
``BIGINT`` unchanged; `hamming` works on signed and unsigned forms alike.

Threshold, measured on real pages (``python bench/duplicates.py``; table in
``docs/duplicates.md``): different articles of /work/shared/evaldata never came closer than 16
bits (English pairs; Chinese 25), while the same text re-extracted from its page, with chrome
lines around it, a sentence dropped or three characters changed lands at a median of 0-3 bits
(59-100% of cases within 3). Three bits keeps a wide margin from different articles and lets
four 16-bit bands find every near copy by pigeonhole (3 differing bits cannot touch all four
bands).
"""

from __future__ import annotations

import hashlib
import re
import sys
from array import array
from itertools import pairwise
from typing import Final

BITS: Final = 64
THRESHOLD: Final = 3
"""Largest Hamming distance at which two bodies are the same story (see module docstring)."""
BANDS: Final = 4
BAND_BITS: Final = BITS // BANDS
SHINGLE: Final = 2
"""Tokens per shingle: 2 Han characters or 2 words (`features` is written for pairs)."""

_MASK: Final = (1 << BITS) - 1
_SIGN: Final = 1 << (BITS - 1)
# One Han character (CJK unified ideographs incl. extension A and compatibility forms), or a
# run of other letters/digits. `\w` includes "_", which is chrome (file names), not words.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN: Final = re.compile(rf"([{_HAN}]+)|([^\W_{_HAN}]+)")
# token -> its SHINGLE position keys. Bounded: Han characters in use are a few thousand, and
# Latin words repeat; clearing now and then keeps a long crawl's memory flat. At about 250 bytes
# an entry, 20,000 entries are ~5 MB per extraction worker (200,000 cost ~25 MB each in the
# 50,000-page crawl benchmark, whose memory target is 400 MB for all processes).
_KEYS: dict[str, tuple[int, ...]] = {}
_KEYS_MAX: Final = 20_000


def tokens(text: str) -> list[str]:
    """Han characters and lower-cased words, without punctuation or whitespace."""
    out: list[str] = []
    for han, word in _TOKEN.findall(text.lower()):
        if han:
            out.extend(han)
        else:
            out.append(word)
    return out


def _keys(token: str) -> tuple[int, ...]:
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8 * SHINGLE).digest()
    keys = tuple(int.from_bytes(digest[i : i + 8], "little") for i in range(0, len(digest), 8))
    if len(_KEYS) >= _KEYS_MAX:
        _KEYS.clear()
    _KEYS[token] = keys
    return keys


def features(text: str) -> list[int]:
    """One 64-bit hash per shingle occurrence.

    Tabulation hashing: each token has one random 64-bit key per shingle position (a blake2b
    digest, cached per token), and a shingle's hash is the XOR of its tokens' keys. That is
    pairwise independent, as good as hashing each pair for simhash's votes, and costs
    one blake2b call per *distinct* token instead of one per shingle.
    """
    toks = tokens(text)
    if not toks:
        return []
    get = _KEYS.get
    keys = [get(t) or _keys(t) for t in toks]
    if len(keys) < SHINGLE:
        value = 0
        for pos, k in enumerate(keys):
            value ^= k[pos]
        return [value]
    return [a[0] ^ b[1] for a, b in pairwise(keys)]


def simhash(text: str) -> int:
    """The 64-bit simhash of `text` as a signed integer; 0 when the text has no tokens.

    A text shorter than one shingle is hashed as a single feature, so two different short
    texts still differ. The votes are counted per bit on byte columns turned into big integers
    (``int.bit_count`` in C) rather than with 64 Python operations per feature.
    """
    hashes = features(text)
    if not hashes:
        return 0
    packed = array("Q", hashes)
    if sys.byteorder != "little":  # the same fingerprint on every machine
        packed.byteswap()
    blob = packed.tobytes()
    n = len(hashes)
    low_bits = int.from_bytes(b"\x01" * n, "little")
    value = 0
    for byte in range(8):
        column = int.from_bytes(blob[byte::8], "little")
        for bit in range(8):
            # A bit is set when more than half of the features have it.
            if 2 * ((column >> bit) & low_bits).bit_count() > n:
                value |= 1 << (byte * 8 + bit)
    return to_signed(value)


def to_signed(value: int) -> int:
    """An unsigned 64-bit value as the signed integer Parquet and SQL store."""
    value &= _MASK
    return value - (1 << BITS) if value & _SIGN else value


def to_unsigned(value: int) -> int:
    return value & _MASK


def hamming(a: int, b: int) -> int:
    """Number of differing bits of two fingerprints (signed or unsigned)."""
    return ((a ^ b) & _MASK).bit_count()


def is_near(a: int, b: int, threshold: int = THRESHOLD) -> bool:
    return hamming(a, b) <= threshold


def bands(value: int) -> tuple[int, ...]:
    """The `BANDS` 16-bit slices of a fingerprint, lowest first.

    Pigeonhole: if two fingerprints differ in at most ``BANDS - 1`` bits, at least one slice
    is equal, so looking up equal (band index, slice) pairs finds every near copy.
    """
    unsigned = value & _MASK
    part = (1 << BAND_BITS) - 1
    return tuple((unsigned >> (i * BAND_BITS)) & part for i in range(BANDS))
