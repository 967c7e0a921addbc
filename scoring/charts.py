"""Server-drawn SVG charts for the scoring pages: geometry only, the templates draw it (with a
<title>, axis labels as text, and the same numbers in a table beside the chart)."""

from typing import Any

WIDTH, HEIGHT = 640, 240
LEFT, BOTTOM, TOP = 40, 40, 12


def histogram(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Grouped bars (before, after) per score bucket."""
    peak = max([1, *(max(r["before"], r["after"]) for r in rows)])
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(1, len(rows))
    bar = max(2.0, slot * 0.38)
    groups = []
    for i, row in enumerate(rows):
        x = LEFT + i * slot + slot * 0.1
        groups.append(
            {
                "label": row["bucket"],
                "label_x": round(LEFT + i * slot + slot / 2, 1),
                "bars": [
                    _bar("before", row["before"], x, bar, peak, plot_h),
                    _bar("after", row["after"], x + bar, bar, peak, plot_h),
                ],
            }
        )
    ticks = [{"value": v, "y": round(TOP + plot_h - v / peak * plot_h, 1)} for v in (0, peak)]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "groups": groups,
        "ticks": ticks,
        "axis_y": TOP + plot_h,
        "left": LEFT,
        "right": WIDTH - 8,
        "label_y": HEIGHT - BOTTOM + 16,
    }


def _bar(series: str, value: int, x: float, width: float, peak: int, plot_h: float) -> dict:
    height = value / peak * plot_h
    return {
        "series": series,
        "value": value,
        "x": round(x, 1),
        "y": round(TOP + plot_h - height, 1),
        "width": round(width, 1),
        "height": round(height, 1),
    }
