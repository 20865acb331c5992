"""What every ``zhengwen`` command shares: the README's exit codes and its one-line errors."""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORAGE, EXIT_BUSY = 0, 1, 2, 3, 4
#: What a shell reports for a program killed by SIGPIPE (``cat big | head``): 128 + 13.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def fail(message: str, code: int) -> NoReturn:
    """``error: message`` on stderr, one line, and exit ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
