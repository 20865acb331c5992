"""The crawl's log file, degrading to the terminal when it cannot be written.

The log file lives in the archive (``archive/logs``), so when the archive's disk is full every
log record fails too, and Python's logging prints ``--- Logging error ---`` and a traceback per
record: hundreds of them, burying the one line that says what happened. Instead, the first
failed write says once on stderr that the log file cannot be written and why; from then on the
file is no longer written and records of level WARNING and above go to stderr.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from storage.diskfull import first_line

#: What still reaches the terminal once the log file is gone: what a user must see.
FALLBACK_LEVEL = logging.WARNING


def degrade_to_stderr(handler: logging.Handler, stream: TextIO | None = None) -> None:
    """Make a failed write of ``handler`` (a file handler on the root logger) switch logging to
    ``stream`` (stderr) once, instead of a traceback per record."""
    out = stream if stream is not None else sys.stderr
    path = getattr(handler, "baseFilename", None) or "the log file"
    switched = False

    def handle_error(record: logging.LogRecord) -> None:
        nonlocal switched
        if switched:
            return
        switched = True
        exc = sys.exc_info()[1]
        cause = first_line(exc) if exc is not None else "write failed"
        fallback = logging.StreamHandler(out)
        fallback.setLevel(max(FALLBACK_LEVEL, handler.level))
        fallback.setFormatter(handler.formatter)
        for f in handler.filters:
            fallback.addFilter(f)
        root = logging.getLogger()
        root.removeHandler(handler)
        root.addHandler(fallback)
        try:
            out.write(
                f"warning: cannot write the log file {path} ({cause});"
                " warnings and errors go to stderr from now on\n"
            )
            out.flush()
        except (OSError, ValueError):
            pass
        _close_quietly(handler)
        if record.levelno >= fallback.level:
            fallback.handle(record)

    handler.handleError = handle_error  # type: ignore[method-assign]


def _close_quietly(handler: Any) -> None:
    """Close a file handler whose flush may fail again (the disk is still full)."""
    try:
        handler.close()
    except (OSError, ValueError):
        stream = getattr(handler, "stream", None)
        if stream is not None:
            try:
                stream.close()
            except (OSError, ValueError):
                pass


def degrade_root_log_file(stream: TextIO | None = None) -> None:
    """Apply `degrade_to_stderr` to Scrapy's root handler when it writes a file (``LOG_FILE``).
    Call it after the crawler's settings are applied (Scrapy re-installs the handler then)."""
    from scrapy.utils import log as scrapy_log

    handler = getattr(scrapy_log, "_scrapy_root_handler", None)
    if isinstance(handler, logging.FileHandler):
        degrade_to_stderr(handler, stream)
