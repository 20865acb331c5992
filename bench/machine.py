"""The machine a benchmark ran on, described the same way by every benchmark."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo, else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> int:
    """Cores this process may run on (the affinity mask, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def describe() -> str:
    return (
        f"{cpu_name()}, {cores()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def write_block(doc: Path, heading: str, begin: str, end: str, report: str, intro: str) -> None:
    """Put ``report`` between the markers ``begin`` and ``end`` of ``doc`` (replacing what is
    there), or append a new section: ``heading``, ``intro``, then the block."""
    text = doc.read_text(encoding="utf-8")
    block = f"{begin}\n{report}\n{end}"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n{heading}\n\n{intro}\n\n{block}\n"
    doc.write_text(text, encoding="utf-8")
