"""Memory housekeeping of the crawler process (crawler.memory, settings): free heap handed back
on glibc, the user's MALLOC_ARENA_MAX respected, Scrapy's unused extensions never imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from scrapy.utils.test import get_crawler

from crawler import memory
from crawler.extensions import MemoryTrim

needs_glibc = pytest.mark.skipif(memory._glibc() is None, reason="malloc_trim is glibc-only")


@needs_glibc
def test_trim_hands_freed_heap_back_and_is_counted() -> None:
    crawler = get_crawler(settings_dict={"ZHENGWEN_MALLOC_TRIM_SECONDS": 5.0})
    ext = MemoryTrim.from_crawler(crawler)
    assert ext.interval == 5.0
    # 40 MB of 20 KB chunks: glibc serves them from the heap (under the mmap threshold) and
    # keeps the pages after they are freed until trimmed.
    chunks = [bytearray(20_000) for _ in range(2_000)]
    del chunks
    ext.trim()
    assert crawler.stats.get_value("zhengwen/memory/trims") == 1


def test_trim_interval_zero_switches_it_off() -> None:
    from scrapy.exceptions import NotConfigured

    with pytest.raises(NotConfigured):
        MemoryTrim.from_crawler(get_crawler(settings_dict={"ZHENGWEN_MALLOC_TRIM_SECONDS": 0}))


def test_users_malloc_arena_max_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.limit_malloc_arenas() is False


def test_crawl_settings_skip_remote_control_and_telnet() -> None:
    """Scrapy imports every extension it lists, enabled or not; the remote-control one runs
    code sent over HTTP and pulls in aiohttp. A fresh interpreter shows what loading costs."""
    code = """
import json, sys
from pathlib import Path
from crawler.runner import build_settings
from storage.paths import ArchivePaths
settings = build_settings(ArchivePaths(Path("unused")), "sqlite://")
names = [getattr(k, "__name__", str(k)).rsplit(".", 1)[-1] for k in settings.get_component_priority_dict_with_base("EXTENSIONS")]
print(json.dumps({"names": names, "modules": sorted(m for m in sys.modules if "aiohttp" in m or "remote_control" in m or m.startswith("twisted.conch"))}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out)
    assert "MemoryTrim" in loaded["names"]
    assert "CoreStats" in loaded["names"]  # Scrapy's own extensions are still there
    assert not {"RemoteControl", "TelnetConsole"} & set(loaded["names"])
    assert loaded["modules"] == []
