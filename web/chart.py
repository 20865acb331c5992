"""Articles per day as an inline SVG bar chart, drawn on the server (no script, no library)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

WIDTH = 720
HEIGHT = 160
PAD_LEFT = 36
PAD_BOTTOM = 22


def bars(days: Sequence[tuple[date, int]], label: str) -> str:
    """An SVG of one bar per day (height: articles published that day, UTC), with the largest
    count on the axis and the first and last dates under it; each bar's title gives its day
    and count (hover text)."""
    if not days:
        return ""
    top = max(n for _, n in days) or 1
    inner_w = WIDTH - PAD_LEFT
    inner_h = HEIGHT - PAD_BOTTOM
    step = inner_w / len(days)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<line x1="{PAD_LEFT}" y1="{inner_h}" x2="{WIDTH}" y2="{inner_h}" class="axis"/>',
        f'<text x="{PAD_LEFT - 4}" y="10" text-anchor="end" class="tick">{top}</text>',
        f'<text x="{PAD_LEFT - 4}" y="{inner_h}" text-anchor="end" class="tick">0</text>',
    ]
    for i, (day, n) in enumerate(days):
        h = inner_h * n / top
        x = PAD_LEFT + i * step
        parts.append(
            f'<rect x="{x:.1f}" y="{inner_h - h:.1f}" width="{max(step - 1, 0.5):.1f}" '
            f'height="{h:.1f}" class="bar"><title>{day.isoformat()}: {n}</title></rect>'
        )
    parts.append(
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 6}" class="tick">{days[0][0].isoformat()}</text>'
    )
    parts.append(
        f'<text x="{WIDTH}" y="{HEIGHT - 6}" text-anchor="end" class="tick">'
        f"{days[-1][0].isoformat()}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
