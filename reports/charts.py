"""Charts drawn on the server as SVG: a <title> and <desc> for screen readers, axis labels and
values as real text, colours from classes in static/css/reports.css (the CSP refuses style
attributes), and every bar or point a link to the leads behind it. The page puts the same
figures in a table beside each chart.
"""

import math
from dataclasses import dataclass, field
from itertools import count

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

_ids = count(1)


@dataclass(frozen=True)
class Bar:
    """One value of a row: `label` says it in words (the tooltip), `href` the leads behind it."""

    value: int
    label: str
    href: str | None = None


@dataclass(frozen=True)
class BarRow:
    label: str
    bars: list[Bar] = field(default_factory=list)


@dataclass(frozen=True)
class Point:
    value: float | None  # a share, 0..1; None: no leads that month
    label: str
    href: str | None = None


@dataclass(frozen=True)
class Line:
    name: str
    points: list[Point]


def _f(value: float) -> str:
    """A coordinate, to one decimal (format_html escapes arguments into strings first)."""
    return f"{value:.1f}"


def _link(href: str | None, inner: SafeString) -> SafeString:
    if not href:
        return inner
    return format_html('<a href="{}">{}</a>', href, inner)


def _frame(
    title: str, desc: str, width: int, height: int, body: list[SafeString], kind: str = ""
) -> SafeString:
    ident = f"chart-{next(_ids)}"
    return format_html(
        '<svg class="chart{k}" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{i}-t {i}-d">'
        '<title id="{i}-t">{t}</title><desc id="{i}-d">{d}</desc>{body}</svg>',
        k=f" {kind}" if kind else "",
        w=width,
        h=height,
        i=ident,
        t=title,
        d=desc,
        body=mark_safe("".join(body)),  # noqa: S308 - each part built with format_html
    )


def _nice_max(value: float) -> float:
    """The axis' end: the smallest 1, 2, 4, 6, 8 or 10 times a power of ten at or above value,
    so that its quarters (the ticks) are round too."""
    if value <= 0:
        return 1
    scale = 1.0
    while scale * 10 < value:
        scale *= 10
    while scale > value:
        scale /= 10
    return next(scale * step for step in (1, 2, 4, 6, 8, 10) if scale * step >= value)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


# The bar chart's labels (12px, bold: static/css/reports.css) are measured with these advances
# (a little over DejaVu Sans Bold's, the widest of the fonts it names); the column is between
# LABEL_MIN_W and LABEL_MAX_W wide, its text ending LABEL_GAP before the bars.
_NARROW, _WIDE = set("ijlIft.,:;'!|-()[] "), set("mwMW@%")
LABEL_MIN_W, LABEL_MAX_W, LABEL_GAP = 118, 180, 8


def _text_width(text: str) -> float:
    return sum(
        4.5 if c in _NARROW else 11.5 if c in _WIDE else 9.0 if c.isupper() else 8.0 for c in text
    )


def _fitted(text: str, room: float) -> str:
    """`text`, or as much of it as fits in `room` px followed by an ellipsis."""
    if _text_width(text) <= room:
        return text
    while text and _text_width(text) + _text_width("\u2026") > room:
        text = text[:-1]
    return text.rstrip() + "\u2026"


def bar_chart(
    *, title: str, desc: str, rows: list[BarRow], series: list[str], axis: str
) -> SafeString:
    """Horizontal bars, one row per label; a row's bars overlap from zero, each narrower than
    the last (series[i] names the i-th: the legend, and the class `s{i}` colours it).

    The labels' column widens to the longest label, up to LABEL_MAX_W; a label longer than
    that is shortened with an ellipsis, its whole text in its tooltip (and in the table the
    page puts beside the chart)."""
    longest = max((_text_width(row.label) for row in rows), default=0)
    label_w = min(max(LABEL_MIN_W, LABEL_GAP + math.ceil(longest)), LABEL_MAX_W)
    right, top, row_h, width = 44, 8, 28, 460
    plot_w = width - label_w - right
    height = top + row_h * len(rows) + 52
    top_value = _nice_max(max((b.value for r in rows for b in r.bars), default=0))
    body: list[SafeString] = []
    for index, row in enumerate(rows):
        y = top + index * row_h
        shown = _fitted(row.label, label_w - LABEL_GAP)
        body.append(
            format_html(
                '<text class="label" x="{}" y="{}" text-anchor="end">{}{}</text>',
                label_w - LABEL_GAP,
                y + row_h / 2 + 4,
                format_html("<title>{}</title>", row.label) if shown != row.label else "",
                shown,
            )
        )
        for depth, bar in enumerate(row.bars):
            inset = 4 + depth * 4
            w = max(plot_w * bar.value / top_value, 1 if bar.value else 0)
            rect = format_html(
                '<rect class="bar s{}" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}</title></rect>",
                depth,
                label_w,
                y + inset,
                _f(w),
                max(row_h - 2 * inset, 4),
                bar.label,
            )
            body.append(_link(bar.href, rect))
        if row.bars:
            first = row.bars[0]
            end = label_w + plot_w * first.value / top_value + 6
            value = format_html(
                '<text class="value" x="{}" y="{}">{}</text>',
                end,
                y + row_h / 2 + 4,
                f"{first.value:,}",
            )
            body.append(_link(first.href, value))
    body += _x_axis(label_w, plot_w, top + row_h * len(rows), top_value, axis, series)
    return _frame(title, desc, width, height, body, "single" if len(series) == 1 else "")


def _x_axis(
    left: int, plot_w: int, y: int, top_value: float, axis: str, series: list[str]
) -> list[SafeString]:
    parts = [
        format_html(
            '<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>', left, left + plot_w, y, y
        )
    ]
    for step in range(5):
        x = left + plot_w * step / 4
        parts.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                _f(x),
                y + 16,
                _number(top_value * step / 4),
            )
        )
    parts.append(
        format_html(
            '<text class="axis-label" x="{}" y="{}" text-anchor="middle">{}</text>',
            left + plot_w / 2,
            y + 34,
            axis,
        )
    )
    parts += _legend(series, 8, y + 48)
    return parts


def _legend(names: list[str], x: int, y: int, kind: str = "bar") -> list[SafeString]:
    if len(names) < 2:
        return []
    parts = []
    for index, name in enumerate(names):
        left = x + index * 96
        parts.append(
            format_html(
                '<rect class="swatch {} s{}" x="{}" y="{}" width="12" height="12"/>'
                '<text class="legend" x="{}" y="{}">{}</text>',
                kind,
                index,
                left,
                y - 10,
                left + 16,
                y,
                name,
            )
        )
    return parts


def line_chart(
    *, title: str, desc: str, months: list[str], lines: list[Line], axis: str
) -> SafeString:
    """Shares (0..1) by month, one line a series (class `s{i}`), y from 0 to a round top."""
    left, right, top, bottom, width, height = 44, 24, 12, 64, 460, 260
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [p.value for line in lines for p in line.points if p.value is not None]
    top_value = min(_nice_max(max(values, default=0) * 100), 100) / 100
    step_x = plot_w / max(len(months) - 1, 1)
    body: list[SafeString] = []
    for tick in range(5):
        share = top_value * tick / 4
        y = round(top + plot_h - plot_h * tick / 4, 1)
        body.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>',
                left,
                left + plot_w,
                y,
                y,
            )
        )
        body.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="end">{}%</text>',
                left - 6,
                y + 4,
                _number(share * 100),
            )
        )
    for index, month in enumerate(months):
        x = round(left + (step_x * index if len(months) > 1 else plot_w / 2), 1)
        body.append(
            format_html(
                '<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                x,
                top + plot_h + 16,
                month,
            )
        )
    body.append(
        format_html(
            '<text class="axis-label" x="12" y="{}" text-anchor="middle" '
            'transform="rotate(-90 12 {})">{}</text>',
            top + plot_h / 2,
            top + plot_h / 2,
            axis,
        )
    )
    for number, line in enumerate(lines):
        body += _series(number, line, left, top, plot_w, plot_h, step_x, top_value, len(months))
    body += _legend([line.name for line in lines], left, height - 12, kind="dot")
    return _frame(title, desc, width, height, body)


def _series(number, line, left, top, plot_w, plot_h, step_x, top_value, months) -> list[SafeString]:
    coords = []
    for index, point in enumerate(line.points):
        if point.value is None:
            continue
        x = round(left + (step_x * index if months > 1 else plot_w / 2), 1)
        y = round(top + plot_h - plot_h * point.value / top_value, 1)
        coords.append((x, y, point))
    parts = []
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
        parts.append(format_html('<polyline class="line s{}" points="{}"/>', number, path))
    for x, y, point in coords:
        dot = format_html(
            '<circle class="dot s{}" cx="{}" cy="{}" r="4"><title>{}</title></circle>',
            number,
            x,
            y,
            point.label,
        )
        parts.append(_link(point.href, dot))
    return parts
