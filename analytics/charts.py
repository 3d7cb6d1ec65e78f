"""Inline SVG charts for the self-contained HTML report: no scripts, fonts or network.

Each function returns one ``<svg class="chart">`` element (styled by the page's CSS),
with a ``<title>`` on every mark so hovering shows the exact number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

from analytics.report import NOT_AVAILABLE, decimal_text

PALETTE = (
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c",
    "#0891b2", "#a16207", "#db2777", "#4b5563", "#65a30d",
)  # fmt: skip
FONT_WIDTH = 6.6  # average width of an 11 px label character, for layout
DASHES = ("", "7 3", "2 3", "9 3 2 3")  # after the palette's ten colours, the lines dash


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" role="img" '
        f'aria-label="{escape(label)}" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}"><title>{escape(label)}</title>'
        + "".join(body)
        + "</svg>"
    )


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks = [round(first, 10)]
    while ticks[-1] < high - 1e-12:
        ticks.append(round(first + len(ticks) * step, 10))
    return ticks


def percent(value: float) -> str:
    return decimal_text(value, 1, scale=2).removesuffix(".0") + " %"


def points(value: float) -> str:
    return decimal_text(value, 1, scale=2, sign=True) + " pt" if value else "0 pt"


def _blue(share: float) -> str:
    """White to deep blue for 0..1."""
    share = max(0.0, min(1.0, share))
    low, high = (247, 251, 255), (8, 48, 107)
    rgb = [round(a + (b - a) * share) for a, b in zip(low, high, strict=True)]
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"


def heatmap(
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    label: str,
    scale_max: float | None = None,
    note: Callable[[int, int], str] | None = None,
    partial: Callable[[int, int], bool] | None = None,
    partial_text: str = "",
    missing: Callable[[int, int], str] | None = None,
) -> str:
    """A grid of shaded cells with the value (in %) written in each. Rows may be of
    different lengths; a None inside a row is a grey "n/a" cell, ``missing(i, j)`` its reason.

    Cells for which ``partial(i, j)`` holds get a dashed outline (data still coming in).
    """
    cell_w, cell_h = 44, 22
    left = 12 + FONT_WIDTH * max((len(r) for r in row_labels), default=4)
    top, legend = 34, 66
    width = max(left + cell_w * len(column_labels) + 16, left + 560)
    height = top + cell_h * len(row_labels) + legend
    peak = scale_max or max((v for row in values for v in row[1:] if v is not None), default=1.0)
    peak = peak or 1.0
    body = []
    for j, col in enumerate(column_labels):
        x = left + j * cell_w + cell_w / 2
        body.append(
            f'<text x="{x:.1f}" y="{top - 10}" class="axis" text-anchor="middle">{escape(col)}</text>'
        )
    for i, (name, row) in enumerate(zip(row_labels, values, strict=True)):
        y = top + i * cell_h
        body.append(
            f'<text x="{left - 8:.1f}" y="{y + cell_h / 2 + 4:.1f}" class="axis" text-anchor="end">{escape(name)}</text>'
        )
        for j, value in enumerate(row):
            x = left + j * cell_w
            if value is None:  # inside the row: computed, but not available
                why = missing(i, j) if missing else ""
                tip = f"{name}, {column_labels[j]}: {NOT_AVAILABLE}" + (f" ({why})" if why else "")
                body.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell_w - 2}" height="{cell_h - 2}" '
                    f'rx="2" fill="#f3f4f6"><title>{escape(tip)}</title></rect>'
                    f'<text x="{x + cell_w / 2 - 1:.1f}" y="{y + cell_h / 2 + 3:.1f}" class="cell" '
                    f'text-anchor="middle" fill="#6b7280">{NOT_AVAILABLE}</text>'
                )
                continue
            share = value / peak if j else 1.0
            fill = "#e5e7eb" if j == 0 else _blue(share)
            ink = "#ffffff" if j and share > 0.55 else "#111827"
            tip = f"{name}, {column_labels[j]}: {percent(value)}" + (
                f" ({note(i, j)})" if note else ""
            )
            dashed = partial is not None and partial(i, j)
            outline = (
                ' stroke="#b45309" stroke-width="1.5" stroke-dasharray="3 2"' if dashed else ""
            )
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell_w - 2}" height="{cell_h - 2}" '
                f'rx="2" fill="{fill}"{outline}><title>{escape(tip)}</title></rect>'
                f'<text x="{x + cell_w / 2 - 1:.1f}" y="{y + cell_h / 2 + 3:.1f}" class="cell" '
                f'text-anchor="middle" fill="{ink}">{decimal_text(value, 1, scale=2)}</text>'
            )
    # Colour legend: month 0 is grey (always 100 %), the scale runs from 0 to the peak.
    y = top + cell_h * len(row_labels) + 18
    steps = 10
    for k in range(steps):
        body.append(
            f'<rect x="{left + k * 18:.1f}" y="{y}" width="18" height="10" fill="{_blue(k / (steps - 1))}"/>'
        )
    body.append(f'<text x="{left - 8:.1f}" y="{y + 9}" class="axis" text-anchor="end">0 %</text>')
    body.append(
        f'<text x="{left + steps * 18 + 6:.1f}" y="{y + 9}" class="axis">{peak * 100:.0f} % and more; '
        "month 0 (the first order) is 100 % by definition</text>"
    )
    if partial_text:
        body.append(
            f'<rect x="{left:.1f}" y="{y + 18}" width="18" height="10" fill="none" stroke="#b45309" '
            f'stroke-dasharray="3 2"/><text x="{left + 24:.1f}" y="{y + 27}" class="axis">'
            f"{escape(partial_text)}</text>"
        )
    return _svg(width, height, label, body)


def lines(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    label: str,
    x_ticks: Sequence[tuple[float, str]],
    y_format: Callable[[float], str] = percent,
    y_range: tuple[float, float] | None = None,
    x_title: str = "",
    markers: bool = True,
    tip: Callable[[str, float, float], str] | None = None,
) -> str:
    """One line per series on shared numeric axes, any number of them: the legend sits
    below the plot with every name in full, wrapping onto as many rows as it needs, and
    after the palette's colours the lines dash."""
    if not any(series.values()):
        return '<p class="empty">No data for this chart yet.</p>'
    names = list(series)
    left, right, top, bottom = 58, 16, 14, 44 if x_title else 30
    items = [30 + FONT_WIDTH * len(n) + 18 for n in names]
    width = max(860.0, left + max(items) + right)
    placed: list[tuple[float, int]] = []  # (x, row) of each legend item
    x, rows = float(left), 0
    for w in items:
        if x > left and x + w > width - right:
            x, rows = float(left), rows + 1
        placed.append((x, rows))
        x += w
    plot_h = 262
    legend_top = top + plot_h + bottom + 6
    height = legend_top + 17 * (rows + 1) + 4
    xs = [x for pts in series.values() for x, _ in pts] + [x for x, _ in x_ticks]
    x_lo, x_hi = min(xs), max(xs)
    ys = [y for pts in series.values() for _, y in pts]
    y_lo, y_hi = y_range if y_range else (min(0.0, min(ys)), max(ys))
    y_ticks = nice_ticks(y_lo, y_hi)
    y_lo, y_hi = min(y_ticks[0], y_lo), max(y_ticks[-1], y_hi)
    plot_w = width - left - right

    def px(x: float) -> float:
        return left + (plot_w * (x - x_lo) / (x_hi - x_lo) if x_hi > x_lo else plot_w / 2)

    def py(y: float) -> float:
        return top + plot_h * (1 - (y - y_lo) / ((y_hi - y_lo) or 1))

    body = []
    for t in y_ticks:
        body.append(
            f'<line x1="{left}" x2="{left + plot_w:.1f}" y1="{py(t):.1f}" y2="{py(t):.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{py(t) + 4:.1f}" class="axis" text-anchor="end">{escape(y_format(t))}</text>'
        )
    if y_lo < 0 < y_hi:
        body.append(
            f'<line x1="{left}" x2="{left + plot_w:.1f}" y1="{py(0):.1f}" y2="{py(0):.1f}" class="zero"/>'
        )
    for x, text in x_ticks:
        body.append(
            f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" class="tick"/>'
            f'<text x="{px(x):.1f}" y="{top + plot_h + 17}" class="axis" text-anchor="middle">{escape(text)}</text>'
        )
    if x_title:
        body.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 36}" class="axis" text-anchor="middle">{escape(x_title)}</text>'
        )
    body.append(
        f'<rect x="{left}" y="{top}" width="{plot_w:.1f}" height="{plot_h}" class="frame"/>'
    )
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        dash = DASHES[(i // len(PALETTE)) % len(DASHES)]
        style = f' stroke-dasharray="{dash}"' if dash else ""
        pts = sorted(series[name])
        if pts:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{style}>'
                f"<title>{escape(name)}</title></polyline>"
            )
        if markers:
            for x, y in pts:
                text = tip(name, x, y) if tip else f"{name}: {y_format(y)}"
                body.append(
                    f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.2" fill="{colour}"><title>{escape(text)}</title></circle>'
                )
        lx, row = placed[i]
        ly = legend_top + 17 * row + 10
        body.append(
            f'<line x1="{lx:.1f}" x2="{lx + 22:.1f}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" '
            f'stroke-width="2.5"{style}/>'
            f'<text x="{lx + 28:.1f}" y="{ly}" class="legend">{escape(name)}</text>'
        )
    return _svg(width, height, label, body)


def intervals(
    items: Sequence[tuple[str, float, float, float, str, bool]],
    *,
    label: str,
    value_format: Callable[[float], str] = points,
) -> str:
    """A dot per estimate with its confidence interval as a whisker, around a zero line.

    ``items``: (name, estimate, low, high, tooltip, significant). Only what stays
    significant after the correction for many comparisons is coloured: green above zero,
    red below; everything else is grey, however far its interval is from zero.
    """
    if not items:
        return '<p class="empty">No campaign period with both recipients and a hold-out yet.</p>'
    row_h = 26
    left = 16 + FONT_WIDTH * min(48, max(len(n) for n, *_ in items))
    width, top, bottom = 860, 10, 40
    height = top + row_h * len(items) + bottom
    lo = min(0.0, *(item[2] for item in items))
    hi = max(0.0, *(item[3] for item in items))
    ticks = nice_ticks(lo, hi, 6)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    plot_w = width - left - 70

    def px(v: float) -> float:
        return left + plot_w * (v - lo) / ((hi - lo) or 1)

    body = []
    for t in ticks:
        body.append(
            f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{height - bottom}" class="grid"/>'
            f'<text x="{px(t):.1f}" y="{height - bottom + 16}" class="axis" text-anchor="middle">{escape(value_format(t))}</text>'
        )
    body.append(
        f'<line x1="{px(0):.1f}" x2="{px(0):.1f}" y1="{top}" y2="{height - bottom}" class="zero"/>'
    )
    body.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" class="axis" text-anchor="middle">'
        "uplift in conversion, recipients minus hold-out, with 95 % interval</text>"
    )
    for i, (name, estimate, low, high, tip, significant) in enumerate(items):
        y = top + row_h * i + row_h / 2
        colour = "#6b7280" if not significant else "#16a34a" if estimate > 0 else "#dc2626"
        short = name if len(name) <= 48 else name[:47] + "…"
        body.append(
            f'<text x="{left - 10:.1f}" y="{y + 4:.1f}" class="axis" text-anchor="end">{escape(short)}</text>'
            f'<line x1="{px(low):.1f}" x2="{px(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="2.5"/>'
            f'<line x1="{px(low):.1f}" x2="{px(low):.1f}" y1="{y - 5:.1f}" y2="{y + 5:.1f}" stroke="{colour}" stroke-width="2"/>'
            f'<line x1="{px(high):.1f}" x2="{px(high):.1f}" y1="{y - 5:.1f}" y2="{y + 5:.1f}" stroke="{colour}" stroke-width="2"/>'
            f'<circle cx="{px(estimate):.1f}" cy="{y:.1f}" r="5" fill="{colour}"><title>{escape(tip)}</title></circle>'
            f'<text x="{px(high) + 8:.1f}" y="{y + 4:.1f}" class="axis">{escape(value_format(estimate))}</text>'
        )
    return _svg(width, height, label, body)
