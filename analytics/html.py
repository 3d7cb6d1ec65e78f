"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape

from analytics import charts
from analytics.localtime import month_label
from analytics.report import Report, Table

MAX_ROWS = 200
MAX_COHORTS = 24
MAX_MONTHS = 25
MAX_SEGMENT_LINES = 10
MAX_INTERVALS = 40

STYLE = """
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#111827;background:#fff}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:40px 0 6px;padding-bottom:6px;border-bottom:2px solid #e5e7eb}
h3{font-size:15px;margin:22px 0 6px;color:#374151}
.meta,.note{color:#4b5563;font-size:12.5px}.note{max-width:980px}
nav a{margin-right:14px;color:#2563eb;text-decoration:none}
.chart{display:block;max-width:100%;height:auto;margin:8px 0 4px}
.chart .axis{font-size:11px;fill:#374151}.chart .cell{font-size:10.5px}
.chart .legend{font-size:11.5px;fill:#111827}.chart .grid{stroke:#e5e7eb}
.chart .tick{stroke:#9ca3af}.chart .frame{fill:none;stroke:#d1d5db}
.chart .zero{stroke:#111827;stroke-dasharray:4 3}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:12px;margin:6px 0 4px;font-variant-numeric:tabular-nums}
th,td{padding:3px 8px;border-bottom:1px solid #f0f0f0;text-align:right;white-space:nowrap}
th{background:#f9fafb;font-weight:600;border-bottom:1px solid #d1d5db}
td.text,th.text{text-align:left}
.warn{color:#92400e;background:#fffbeb;border-left:3px solid #f59e0b;padding:4px 10px;margin:4px 0;font-size:12.5px}
.empty{color:#6b7280;font-style:italic}
details{margin:14px 0}summary{cursor:pointer;font-weight:600;color:#374151}
ol.defs{padding-left:20px;color:#374151;font-size:12.5px;max-width:980px}ol.defs li{margin:3px 0}
"""
TEXT_COLUMNS = {"cohort", "segment", "as_of", "group", "locale", "country", "campaign",
                "period", "variant", "test", "warning", "survey", "month"}  # fmt: skip


def cell(value: object, *, is_percent: bool = False, decimals: int = 2) -> str:
    """A value as people read it (the CSV and JSON keep full fractions)."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if is_percent and isinstance(value, int | float):
        return f"{value * 100:.1f} %"
    if isinstance(value, float):
        return f"{value:,.{decimals}f}" if abs(value) >= 1 or value == 0 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table_html(table: Table, limit: int = MAX_ROWS) -> str:
    if not table.rows:
        return '<p class="empty">No rows.</p>'
    percent = set(table.percent)

    def cls(col: str) -> str:
        return ' class="text"' if col in TEXT_COLUMNS else ""

    head = "".join(f"<th{cls(c)}>{escape(c)}</th>" for c in table.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{cls(c)}>{escape(cell(r.get(c), is_percent=c in percent, decimals=table.decimals.get(c, 2)))}</td>"
            for c in table.columns
        )
        + "</tr>"
        for r in table.rows[:limit]
    )
    more = (
        f'<p class="note">{len(table.rows) - limit:,} more rows in the CSV and JSON output.</p>'
        if len(table.rows) > limit
        else ""
    )
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>{more}'


def _month_ticks(months: list[int], most: int = 12) -> list[tuple[float, str]]:
    step = max(1, -(-len(months) // most))
    return [(float(m), month_label(m)) for m in months[::step]]


def _month_number(label: str) -> int:
    year, month = label.split("-")
    return (int(year) - 1970) * 12 + int(month) - 1


def repeat_charts(report: Report) -> str:
    monthly = report.tables[1].rows
    pts = [
        (float(_month_number(r["period"])), r["retention_rate"])
        for r in monthly
        if r["retention_rate"] is not None
    ]
    if not pts:
        return '<p class="empty">Not enough months of orders for a retention rate yet.</p>'
    months = sorted(int(x) for x, _ in pts)
    low = min(y for _, y in pts)
    floor = 0.0 if low < 0.5 else math.floor((low - 0.05) * 10) / 10  # zoom in, say so
    note = (
        f'<p class="note">The vertical axis starts at {floor:.0%}, not at 0.</p>' if floor else ""
    )
    return (
        "<h3>Customer retention rate by month</h3>"
        + charts.lines(
            {"retention rate (E − N) / S": pts},
            label="customer retention rate by month",
            x_ticks=_month_ticks(months),
            y_range=(floor, max([1.0, *(y for _, y in pts)])),
        )
        + note
    )


def cohort_charts(report: Report) -> str:
    cohorts = report.data["cohorts"][-MAX_COHORTS:]
    if not cohorts:
        return '<p class="empty">No orders yet.</p>'
    width = min(MAX_MONTHS, max(len(c["retention"]) for c in cohorts))
    values = [
        [c["retention"][k] if k < len(c["retention"]) else None for k in range(width)]
        for c in cohorts
    ]
    label = report.data.get("partial_month")
    partial = _month_number(label) if label else None
    clipped = len(report.data["cohorts"]) > len(cohorts)
    note = (
        f'<p class="note">The {len(cohorts)} most recent cohorts; all are in the table.</p>'
        if clipped
        else ""
    )
    return (
        "<h3>Share of each cohort ordering in month k after its first order</h3>"
        + charts.heatmap(
            [f"{c['cohort']} ({c['size']:,})" for c in cohorts],
            [f"m{k}" for k in range(width)],
            values,
            label="cohort retention heat map",
            note=lambda i, j: f"{cohorts[i]['customers'][j]:,} of {cohorts[i]['size']:,} customers",
            partial=lambda i, j: _month_number(cohorts[i]["cohort"]) + j == partial,
            partial_text=(
                f"{report.data['partial_month']}: the data stops before the end of this month, "
                "so its figures are lower than they will be"
                if partial is not None
                else ""
            ),
        )
        + note
    )


def segment_charts(report: Report) -> str:
    curves = report.data["curves"]
    biggest = sorted(curves, key=lambda s: -curves[s]["members"])[:MAX_SEGMENT_LINES]
    series = {
        f"{s} ({curves[s]['as_of']}, {curves[s]['members']:,})": [
            (float(d), share) for d, share in enumerate(curves[s]["curve"])
        ]
        for s in sorted(biggest)
    }
    out = "<h3>Retention curves: share of members who ordered within d days of the snapshot</h3>"
    if not series:
        return out + (
            '<p class="empty">No snapshot is 30 days older than the last order yet, so no '
            "window has been fully observed.</p>"
        )
    out += charts.lines(
        series,
        label="retention curves per segment",
        x_ticks=[(float(d), f"{d} d") for d in (0, 15, 30, 45, 60, 75, 90)],
        x_title="days after the snapshot",
        markers=False,
    )
    if len(curves) > len(biggest):
        out += f'<p class="note">The {len(biggest)} largest of {len(curves)} segments.</p>'
    over_time = {s: v for s, v in report.data["over_time"].items() if s in biggest and len(v) > 1}
    if over_time:
        dates = sorted({d for v in over_time.values() for d, _ in v})
        index = {d: i for i, d in enumerate(dates)}
        step = max(1, -(-len(dates) // 10))
        out += "<h3>Ordered within 30 days, by snapshot date</h3>" + charts.lines(
            {s: [(float(index[d]), y) for d, y in v] for s, v in sorted(over_time.items())},
            label="30-day segment retention over snapshot dates",
            x_ticks=[(float(i), d) for i, d in enumerate(dates)][::step],
        )
    return out


def campaign_charts(report: Report) -> str:
    rows = [r for r in report.main.rows if r["uplift"] is not None][-MAX_INTERVALS:]
    items = [
        (
            f"{r['campaign']} {r['period']}"
            + ("" if r["variant"] == "all" else f" · {r['variant']}"),
            r["uplift"],
            r["ci_low"],
            r["ci_high"],
            f"{r['campaign']} {r['period']} {r['variant']}: {r['conversion']:.1%} of "
            f"{r['recipients']:,} vs {r['holdout_conversion']:.1%} of {r['holdout']:,}; "
            f"uplift {r['uplift'] * 100:+.2f} pt [{r['ci_low'] * 100:+.2f}, {r['ci_high'] * 100:+.2f}], "
            f"p = {r['p_value']}",
        )
        for r in rows
    ]
    return "<h3>Uplift against hold-out (each variant against the whole hold-out)</h3>" + (
        charts.intervals(items, label="campaign uplift with 95 % intervals")
    )


def csat_charts(report: Report) -> str:
    monthly = report.tables[1].rows
    out = ""
    for measure, title, y_range, fmt in (
        ("csat", "CSAT over time (share of 4 and 5)", (0.0, 1.0), charts.percent),
        ("nps", "NPS over time (promoters − detractors)", None, lambda v: f"{v:.0f}"),
    ):
        series: dict[str, list[tuple[float, float]]] = {}
        for r in monthly:
            if r[measure] is not None:
                series.setdefault(r["survey"], []).append(
                    (float(_month_number(r["month"])), r[measure])
                )
        if not series and measure == "nps":
            continue
        months = sorted({int(x) for pts in series.values() for x, _ in pts})
        out += f"<h3>{escape(title)}</h3>" + charts.lines(
            series,
            label=title,
            x_ticks=_month_ticks(months),
            y_range=y_range if y_range else (-100.0, 100.0),
            y_format=fmt,
        )
    return out


CHARTS = {
    "repeat": repeat_charts,
    "cohorts": cohort_charts,
    "segments": segment_charts,
    "campaigns": campaign_charts,
    "csat": csat_charts,
}


def section(report: Report) -> str:
    parts = [f'<section id="{escape(report.kind)}"><h2>{escape(report.title)}</h2>']
    if report.window:
        parts.append(f'<p class="meta">Window: {escape(report.window)}</p>')
    parts.append(CHARTS[report.kind](report))
    parts += [f'<p class="warn">⚠ {escape(w)}</p>' for w in report.warnings[:20]]
    if len(report.warnings) > 20:
        parts.append(
            f'<p class="warn">⚠ {len(report.warnings) - 20} more warnings in the table.</p>'
        )
    for table in report.tables:
        limit = 10_000 if report.kind == "cohorts" else MAX_ROWS
        if table is report.main or len(table.rows) <= 12:
            parts.append(f"<h3>{escape(table.title)}</h3>{table_html(table, limit)}")
        else:  # long secondary tables fold away (plain HTML, no script)
            parts.append(
                f"<details><summary>{escape(table.title)} ({len(table.rows):,} rows)</summary>"
                f"{table_html(table, limit)}</details>"
            )
    parts.append('<ol class="defs">')
    parts += [f"<li>{escape(d)}</li>" for d in report.definitions]
    parts.append("</ol></section>")
    return "".join(parts)


def to_html(reports: list[Report], *, title: str = "Retention report") -> str:
    """The whole report as one HTML document."""
    toc = "".join(f'<a href="#{escape(r.kind)}">{escape(r.title)}</a>' for r in reports)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>"
        f'<h1>{escape(title)}</h1><p class="meta">homecoming · generated {now} · '
        "every number is defined in the notes under its section</p>"
        f"<nav>{toc}</nav>"
    )
    return head + "".join(section(r) for r in reports) + "</main></body></html>"
