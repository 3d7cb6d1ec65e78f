"""Small inline SVG charts for the self-contained HTML report (no scripts, no network)."""

from __future__ import annotations

from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4d7c0f", "#be185d")


def heatmap(rows: list[dict], *, months: int = 13) -> str:
    """Cohort retention: one row per cohort, one cell per month, darker for higher retention."""
    cell, left, top = 42, 90, 28
    width = left + cell * months + 10
    height = top + 22 * len(rows) + 10
    out = [
        f'<svg class="chart" role="img" aria-label="cohort retention heat map" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for k in range(months):
        out.append(
            f'<text x="{left + k * cell + cell / 2}" y="18" text-anchor="middle" class="axis">m{k}</text>'
        )
    for i, row in enumerate(rows):
        y = top + i * 22
        out.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" class="axis">{escape(row["cohort"])} ({row["size"]})</text>'
        )
        for k, value in enumerate(row["retention"][:months]):
            shade = int(245 - 190 * min(1.0, value if k else 1.0))
            fill = f"rgb({shade},{shade + 5 if shade < 250 else 250},255)"
            colour = "#fff" if value > 0.55 else "#111"
            out.append(
                f'<rect x="{left + k * cell}" y="{y}" width="{cell - 2}" height="20" fill="{fill}"><title>{escape(row["cohort"])} m{k}: {value:.1%}</title></rect>'
            )
            out.append(
                f'<text x="{left + k * cell + cell / 2 - 1}" y="{y + 14}" text-anchor="middle" class="cell" fill="{colour}">{value * 100:.0f}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def lines(series: dict[str, list[tuple[str, float]]], *, label: str, percent: bool = True) -> str:
    """One line per series over shared x labels; values from 0 to the maximum."""
    width, height, left, bottom, top = 760, 300, 50, 40, 16
    xs = sorted({x for points in series.values() for x, _ in points})
    if not xs:
        return "<p>No data yet.</p>"
    peak = max((v for points in series.values() for _, v in points), default=1.0) or 1.0
    step = (width - left - 170) / max(1, len(xs) - 1)

    def px(x: str) -> float:
        return left + xs.index(x) * step

    def py(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / peak)

    out = [
        f'<svg class="chart" role="img" aria-label="{escape(label)}" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for frac in (0, 0.25, 0.5, 0.75, 1.0):
        y = py(peak * frac)
        text = f"{peak * frac:.0%}" if percent else f"{peak * frac:.2f}"
        out.append(
            f'<line x1="{left}" x2="{width - 170}" y1="{y}" y2="{y}" class="grid"/><text x="{left - 6}" y="{y + 4}" text-anchor="end" class="axis">{text}</text>'
        )
    for x in xs[:: max(1, len(xs) // 8)]:
        out.append(
            f'<text x="{px(x)}" y="{height - bottom + 18}" text-anchor="middle" class="axis">{escape(x)}</text>'
        )
    for i, (name, points) in enumerate(sorted(series.items())):
        colour = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, v in points:
            out.append(
                f'<circle cx="{px(x):.1f}" cy="{py(v):.1f}" r="3" fill="{colour}"><title>{escape(name)} {escape(x)}: {v:.1%}</title></circle>'
            )
        out.append(
            f'<text x="{width - 160}" y="{top + 14 + i * 16}" fill="{colour}" class="legend">■ {escape(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def uplift_bars(rows: list[dict]) -> str:
    """Absolute uplift per campaign period with its 95 % interval as an error bar around zero."""
    if not rows:
        return "<p>No campaign with a hold-out yet.</p>"
    width, left, row_h = 760, 260, 26
    height = 30 + row_h * len(rows)
    lo = min(min(r["ci_low"] for r in rows), 0.0)
    hi = max(max(r["ci_high"] for r in rows), 0.0)
    span = (hi - lo) or 1.0

    def px(v: float) -> float:
        return left + (width - left - 20) * (v - lo) / span

    out = [
        f'<svg class="chart" role="img" aria-label="campaign uplift with 95% intervals" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    out.append(f'<line x1="{px(0)}" x2="{px(0)}" y1="10" y2="{height - 10}" class="zero"/>')
    for i, r in enumerate(rows):
        y = 24 + i * row_h
        name = f"{r['campaign']} {r['period']} {r['variant']}"
        colour = "#16a34a" if r["ci_low"] > 0 else "#dc2626" if r["ci_high"] < 0 else "#6b7280"
        out.append(
            f'<text x="{left - 8}" y="{y + 4}" text-anchor="end" class="axis">{escape(name)}</text>'
        )
        out.append(
            f'<line x1="{px(r["ci_low"])}" x2="{px(r["ci_high"])}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2"/>'
        )
        out.append(
            f'<circle cx="{px(r["uplift"])}" cy="{y}" r="5" fill="{colour}"><title>{escape(name)}: {r["uplift"]:+.2%} [{r["ci_low"]:+.2%}, {r["ci_high"]:+.2%}], p={r["p_value"]}</title></circle>'
        )
        out.append(
            f'<text x="{px(r["ci_high"]) + 6}" y="{y + 4}" class="axis">{r["uplift"]:+.1%}</text>'
        )
    out.append("</svg>")
    return "".join(out)
