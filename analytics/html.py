"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape

from analytics import charts
from analytics.localtime import month_label
from analytics.report import MIN_BASE, NOT_AVAILABLE, Report, Table, decimal_text, guarded

MAX_ROWS = 200
MAX_COHORTS = 24
MAX_MONTHS = 25
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
                "period", "variant", "test", "warning", "survey", "month", "note", "table",
                "choice", "kind"}  # fmt: skip


def cell(
    value: object,
    *,
    is_percent: bool = False,
    is_points: bool = False,
    decimals: int = 2,
    unit: bool = True,
) -> str:
    """A value as people read it, rounded once, half-up (CSV and JSON keep full precision).

    Rates are per cent ("%"), differences of rates percentage points ("pt", signed); with
    ``unit=False`` the unit is left to the column header. None is "n/a".
    """
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return "yes" if value else "no"
    number = isinstance(value, int | float)
    if number and (is_percent or is_points):
        text = decimal_text(float(value), 1, scale=2, sign=is_points)  # type: ignore[arg-type]
        return f"{text} {'pt' if is_points else '%'}" if unit else text
    if isinstance(value, float):
        if math.isnan(value):
            return NOT_AVAILABLE
        return decimal_text(value, decimals) if abs(value) >= 1 or value == 0 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def header(table: Table, column: str) -> str:
    """A column name with the unit its cells are shown in."""
    if column in table.points:
        return f"{column} pt"
    return f"{column} %" if column in table.percent else column


def table_html(table: Table, limit: int = MAX_ROWS) -> str:
    if not table.rows:
        return '<p class="empty">No rows.</p>'
    percent, points = set(table.percent), set(table.points)

    def cls(col: str) -> str:
        return ' class="text"' if col in TEXT_COLUMNS else ""

    head = "".join(f"<th{cls(c)}>{escape(header(table, c))}</th>" for c in table.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{cls(c)}>{escape(_cell(table, r, c, percent, points))}</td>" for c in table.columns
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


def _cell(table: Table, row: dict, column: str, percent: set[str], points: set[str]) -> str:
    return cell(
        row.get(column),
        is_percent=column in percent,
        is_points=column in points,
        decimals=table.decimals.get(column, 2),
        unit=False,
    )


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
            {"retention rate: retained / S": pts},
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
    values = [c["retention"][:width] for c in cohorts]
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
            missing=lambda i, j: (
                f"{cohorts[i]['customers'][j]:,} of {cohorts[i]['size']:,} "
                f"customers; {cohorts[i]['note']}"
            ),
        )
        + '<p class="note">n/a: a cohort below the minimum base, or a month the data does not '
        "cover to its end (the note column says which).</p>" + note
    )


def segment_charts(report: Report) -> str:
    curves = report.data["curves"]
    segments = report.data.get("segments", sorted(curves))
    series = {
        f"{s} ({curves[s]['as_of']}, {curves[s]['members']:,})": [
            (float(d), share) for d, share in enumerate(curves[s]["curve"])
        ]
        for s in sorted(curves)
    }
    out = (
        "<h3>Retention curves: share of members who ordered within d days of the snapshot, "
        "after each segment's latest snapshot with all 90 days observed</h3>"
    )
    if not series:
        return out + (
            '<p class="empty">No snapshot is 90 days older than the last order yet (or none '
            f"has {MIN_BASE} members), so no curve has been fully observed.</p>"
        )
    out += charts.lines(
        series,
        label="retention curves per segment",
        x_ticks=[(float(d), f"{d} d") for d in (0, 15, 30, 45, 60, 75, 90)],
        x_title="days after the snapshot",
        markers=False,
    )
    left_out = [s for s in segments if s not in curves]
    if left_out:
        out += (
            f'<p class="note">No curve for {escape(", ".join(left_out))}: no snapshot with all '
            f"90 days observed and at least {MIN_BASE} members.</p>"
        )
    over_time = {s: v for s, v in report.data["over_time"].items() if len(v) > 1}
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
    rows = [
        r
        for r in report.main.rows
        if None not in (r.get("uplift"), r.get("ci_low"), r.get("ci_high"))
    ][-MAX_INTERVALS:]
    items = [
        (
            f"{r['campaign']} {r['period']}"
            + ("" if r["variant"] == "all" else f" · {r['variant']}"),
            r["uplift"],
            r["ci_low"],
            r["ci_high"],
            f"{r['campaign']} {r['period']} {r['variant']}: {_pct(r['conversion'])} of "
            f"{r['recipients']:,} vs {_pct(r['holdout_conversion'])} of {r['holdout']:,}; "
            f"uplift {_pt(r['uplift'])} [{_pt(r['ci_low'])}, {_pt(r['ci_high'])}], "
            f"p = {cell(r['p_value'])}, q = {cell(r['q_value'])}"
            + (" (significant)" if r["significant"] else ""),
            bool(r["significant"]),
        )
        for r in rows
    ]
    title = (
        "<h3>Uplift against hold-out (each variant against the whole hold-out; coloured "
        "only where significant after the Benjamini-Hochberg correction)</h3>"
    )
    return title + charts.intervals(items, label="campaign uplift with 95 % intervals")


def _pct(value: float | None) -> str:
    return cell(value, is_percent=True)


def _pt(value: float | None) -> str:
    return cell(value, is_points=True)


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
        if not series:
            out += (
                f'<h3>{escape(title)}</h3><p class="empty">No survey has {MIN_BASE} answers in '
                "a month yet (the table has the counts).</p>"
            )
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
    report = guarded(report)
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
