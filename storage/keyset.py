"""Sets and maps of 64-bit keys (storage.article.key64) at 8-16 bytes an entry.

A long crawl remembers every URL it issued, every page it stored and every text it saw. In a
Python ``set`` of ints each key costs 70-90 bytes (the int object plus the hash-table slot), a
``dict`` of int to int about 120: at 50,000 articles the crawler's six such structures grew by
about 30 MB, most of what made its memory creep. Here the keys live in sorted ``array('Q')``
columns (8 bytes a key, found by binary search in C) plus a small hash table of recent keys,
merged into the arrays every ``MERGE_AT`` additions (amortised O(log n) a key).
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator

#: Recent keys kept in a plain set/dict before they are merged into the sorted arrays.
MERGE_AT = 4096

_MASK = (1 << 64) - 1


def _check(key: int) -> int:
    if not 0 <= key <= _MASK:
        raise ValueError(f"key out of the unsigned 64-bit range: {key}")
    return key


class KeySet:
    """A set of unsigned 64-bit ints: ``add``, ``in``, ``len``, iteration (unordered)."""

    def __init__(self, keys: Iterable[int] = ()) -> None:
        self._sorted = array("Q", sorted({_check(k) for k in keys}))
        self._recent: set[int] = set()

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int) or not 0 <= key <= _MASK:
            return False
        if key in self._recent:
            return True
        i = bisect_left(self._sorted, key)
        return i < len(self._sorted) and self._sorted[i] == key

    def add(self, key: int) -> None:
        if key in self:
            return
        self._recent.add(_check(key))
        if len(self._recent) >= MERGE_AT:
            self._merge()

    def update(self, keys: Iterable[int]) -> None:
        for key in keys:
            self.add(key)

    def _merge(self) -> None:
        # Streamed: no list of every key as Python ints, even for a moment.
        self._sorted = array("Q", heapq.merge(self._sorted, sorted(self._recent)))
        self._recent = set()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def __iter__(self) -> Iterator[int]:
        yield from self._sorted
        yield from self._recent


class KeyMap:
    """A mapping of unsigned 64-bit int keys to unsigned 64-bit int values: ``[]``, ``get``,
    ``in``, ``len``, ``items`` (unordered)."""

    def __init__(self, items: Iterable[tuple[int, int]] = ()) -> None:
        pairs = sorted({_check(k): _check(v) for k, v in items}.items())
        self._keys = array("Q", (k for k, _ in pairs))
        self._values = array("Q", (v for _, v in pairs))
        self._recent: dict[int, int] = {}

    def _index(self, key: int) -> int:
        i = bisect_left(self._keys, key)
        return i if i < len(self._keys) and self._keys[i] == key else -1

    def get(self, key: int, default: int | None = None) -> int | None:
        if not 0 <= key <= _MASK:
            return default
        value = self._recent.get(key)
        if value is not None:
            return value
        i = self._index(key)
        return self._values[i] if i >= 0 else default

    def __getitem__(self, key: int) -> int:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, int) and self.get(key) is not None

    def __setitem__(self, key: int, value: int) -> None:
        _check(key)
        _check(value)
        if key not in self._recent:
            i = self._index(key)
            if i >= 0:
                self._values[i] = value
                return
        self._recent[key] = value
        if len(self._recent) >= MERGE_AT:
            self._merge()

    def _merge(self) -> None:
        keys, values = array("Q"), array("Q")
        old = zip(self._keys, self._values, strict=True)
        for key, value in heapq.merge(old, sorted(self._recent.items())):
            keys.append(key)
            values.append(value)
        self._keys, self._values = keys, values
        self._recent = {}

    def __len__(self) -> int:
        return len(self._keys) + len(self._recent)

    def items(self) -> Iterator[tuple[int, int]]:
        yield from zip(self._keys, self._values, strict=True)
        yield from self._recent.items()
