"""Keep a long crawl's memory flat on glibc: fewer malloc arenas, free memory handed back.

A crawl allocates and frees tens of kilobytes per page (response bodies, pickled tasks and
results, SQL and Parquet batches). glibc serves those from its heap and keeps freed chunks for
reuse; with pages of varying sizes the heap fragments and its resident size creeps up although
the live data does not grow (measured: the crawler's heap grew about 3 MB per 1,000 articles,
and ``malloc_trim(0)`` brought it back to the level of the first thousand, docs/benchmarks.md).
Both functions are no-ops off glibc (musl, macOS) and cost a few milliseconds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any

#: glibc malloc arenas for the crawler process. Its threads (reactor, DNS pool, the batch
#: writers, the extraction pool's manager) would each get an arena of their own (up to 8 per
#: core), and memory freed in one arena is not reused by another: a long crawl's RSS creeps up.
#: Two arenas keep it flat at no measurable cost (the threads rarely allocate at the same time).
MALLOC_ARENAS = 2

_libc: Any = None


def _glibc() -> Any:
    """The C library if it is glibc (has ``malloc_trim``), else None; looked up once."""
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        lib: Any = False
        if name:
            try:
                candidate = ctypes.CDLL(name)
                if hasattr(candidate, "malloc_trim") and hasattr(candidate, "mallopt"):
                    lib = candidate
            except OSError:
                pass
        _libc = lib
    return _libc or None


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """``mallopt(M_ARENA_MAX, arenas)`` on glibc, before threads start; False elsewhere or when
    the user chose a value with ``MALLOC_ARENA_MAX``."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _glibc()
    if libc is None:
        return False
    m_arena_max = -8  # from glibc's malloc.h
    return bool(libc.mallopt(m_arena_max, arenas))


def release_free_memory() -> bool:
    """``malloc_trim(0)``: give the heap's free pages back to the system. True if any was."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
