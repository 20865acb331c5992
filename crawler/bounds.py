"""The range of every number a user gives zhengwen: site-config keys and command-line options.

A number past its bound is refused where it is read (exit 2, one line), never carried into a
crawl: ``download_delay = inf`` made a crawl that fetched nothing, never ended and held the
site's lock; ``recheck_days = 1e300`` ended in an OverflowError; ``nan`` compared false with
every bound and passed. So a range refuses NaN and the infinities, booleans (TOML's ``true`` is
no 1) and every value outside ``[low, high]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True, slots=True)
class NumberRange:
    low: float
    high: float
    integer: bool = False
    unit: str = ""
    """What the number counts (``seconds``, ``days``), for messages and docs."""

    def describe(self) -> str:
        """``an integer from 1 to 64``, ``a number of seconds from 0 to 3600``."""
        what = "an integer" if self.integer else "a number"
        of = f" of {self.unit}" if self.unit else ""
        return f"{what}{of} from {_plain(self.low)} to {_plain(self.high)}"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is refused (``expected …, got …``), or None."""
        kinds = (int,) if self.integer else (int, float)
        ok = isinstance(value, kinds) and not isinstance(value, bool)
        if ok and not (math.isfinite(value) and self.low <= value <= self.high):
            ok = False
        return None if ok else f"expected {self.describe()}, got {value!r}"

    def click_type(self) -> click.ParamType[Any]:
        """The command-line option type: the same range, refused as a usage error (exit 2)."""
        if self.integer:
            return click.IntRange(int(self.low), int(self.high))
        return _FiniteFloatRange(self.low, self.high)


class _FiniteFloatRange(click.FloatRange):
    """click's FloatRange lets ``nan`` through (it compares false with both bounds)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


def _plain(number: float) -> str:
    """``3600`` rather than ``3600.0``; thousands with commas."""
    return f"{int(number):,}" if float(number).is_integer() else str(number)
