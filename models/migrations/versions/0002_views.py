"""Views for BI tools: the orders, cohorts, segment and campaign outcomes the reports count.

The views count calendar months and days in UTC (the reports' default store time zone)
and campaign conversions over the default 7-day attribution window; docs/analytics.md
gives each definition.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VIEWS = (
    "v_survey_scores",
    "v_campaign_outcomes",
    "v_segment_retention",
    "v_cohort_retention",
    "v_customer_orders",
    "v_campaign_groups",  # an earlier draft of v_campaign_outcomes
)


def _sql(dialect: str) -> dict[str, str]:
    """Dialect pieces: month number, month label, UTC day, 7 days later."""
    if dialect == "postgresql":
        return {
            "month": "((EXTRACT(YEAR FROM {c} AT TIME ZONE 'UTC')::int - 1970) * 12 + EXTRACT(MONTH FROM {c} AT TIME ZONE 'UTC')::int - 1)",
            "label": "to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM')",
            "days_after": "(({o} AT TIME ZONE 'UTC')::date - {d})",
            "week_later": "({c} + interval '7 days')",
            "float": "double precision",
        }
    return {
        "month": "((CAST(strftime('%Y', {c}) AS INTEGER) - 1970) * 12 + CAST(strftime('%m', {c}) AS INTEGER) - 1)",
        "label": "strftime('%Y-%m', {c})",
        "days_after": "CAST(julianday(date({o})) - julianday({d}) AS INTEGER)",
        "week_later": "(strftime('%Y-%m-%d %H:%M:%S', {c}, '+7 days') || substr({c}, 20))",
        "float": "REAL",
    }


def upgrade() -> None:
    s = _sql(op.get_bind().dialect.name)
    op.execute(
        f"""CREATE VIEW v_customer_orders AS
        SELECT id AS order_id, customer_id, ordered_at, {s["label"].format(c="ordered_at")} AS order_month,
               total, items
        FROM orders
        WHERE customer_id IS NOT NULL AND total > 0 AND items > 0"""
    )
    month = s["month"].format(c="ordered_at")
    op.execute(
        f"""CREATE VIEW v_cohort_retention AS
        WITH active AS (
            SELECT DISTINCT customer_id, {month} AS m, {s["label"].format(c="ordered_at")} AS label
            FROM v_customer_orders
        ),
        firsts AS (
            SELECT customer_id, m, label,
                   min(m) OVER (PARTITION BY customer_id) AS c
            FROM active
        ),
        counts AS (
            SELECT c, m - c AS month_number, count(*) AS customers FROM firsts GROUP BY c, m - c
        ),
        labels AS (SELECT DISTINCT m, label FROM active)
        SELECT labels.label AS cohort, counts.month_number, counts.customers,
               size.customers AS cohort_size,
               CAST(counts.customers AS {s["float"]}) / size.customers AS retention
        FROM counts
        JOIN counts AS size ON size.c = counts.c AND size.month_number = 0
        JOIN labels ON labels.m = counts.c"""
    )
    days = s["days_after"].format(o="o.ordered_at", d="m.as_of")
    op.execute(
        f"""CREATE VIEW v_segment_retention AS
        SELECT m.segment, m.as_of, m.customer_id,
               CASE WHEN min(CASE WHEN {days} BETWEEN 1 AND 30 THEN 1 END) = 1 THEN 1 ELSE 0 END AS ordered_30d,
               CASE WHEN min(CASE WHEN {days} BETWEEN 1 AND 60 THEN 1 END) = 1 THEN 1 ELSE 0 END AS ordered_60d,
               CASE WHEN min(CASE WHEN {days} BETWEEN 1 AND 90 THEN 1 END) = 1 THEN 1 ELSE 0 END AS ordered_90d,
               coalesce(sum(CASE WHEN {days} BETWEEN 1 AND 90 THEN o.total END), 0) AS revenue_90d
        FROM segment_member AS m
        LEFT JOIN v_customer_orders AS o ON o.customer_id = m.customer_id
        GROUP BY m.segment, m.as_of, m.customer_id"""
    )
    op.execute(
        f"""CREATE VIEW v_campaign_outcomes AS
        WITH groups AS (
            SELECT campaign, period, customer_id, status AS grp, min(variant) AS variant,
                   min(CASE WHEN status = 'sent' THEN sent_at ELSE send_at END) AS attributed_from
            FROM message
            WHERE status IN ('sent', 'held_out')
              AND (CASE WHEN status = 'sent' THEN sent_at ELSE send_at END) IS NOT NULL
            GROUP BY campaign, period, customer_id, status
        )
        SELECT g.campaign, g.period, g.customer_id, g.grp, g.variant, g.attributed_from,
               CASE WHEN count(o.order_id) > 0 THEN 1 ELSE 0 END AS converted,
               count(o.order_id) AS orders,
               coalesce(sum(o.total), 0) AS revenue
        FROM groups AS g
        LEFT JOIN v_customer_orders AS o
          ON o.customer_id = g.customer_id
         AND o.ordered_at > g.attributed_from
         AND o.ordered_at <= {s["week_later"].format(c="g.attributed_from")}
        GROUP BY g.campaign, g.period, g.customer_id, g.grp, g.variant, g.attributed_from"""
    )
    op.execute(
        f"""CREATE VIEW v_survey_scores AS
        SELECT survey, {s["label"].format(c="answered_at")} AS month,
               sum(CASE WHEN kind = 'csat' AND score BETWEEN 1 AND 5 THEN 1 ELSE 0 END) AS csat_answers,
               sum(CASE WHEN kind = 'csat' AND score BETWEEN 4 AND 5 THEN 1 ELSE 0 END) AS satisfied,
               sum(CASE WHEN kind = 'nps' AND score BETWEEN 0 AND 10 THEN 1 ELSE 0 END) AS nps_answers,
               sum(CASE WHEN kind = 'nps' AND score BETWEEN 9 AND 10 THEN 1 ELSE 0 END) AS promoters,
               sum(CASE WHEN kind = 'nps' AND score BETWEEN 0 AND 6 THEN 1 ELSE 0 END) AS detractors
        FROM survey_answer
        WHERE score IS NOT NULL
        GROUP BY survey, {s["label"].format(c="answered_at")}"""
    )


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
