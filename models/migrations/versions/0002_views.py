"""Views for BI tools: the orders, cohorts, segment and campaign outcomes the reports count.

The views count calendar months and days in UTC (the reports' default store time zone)
and campaign conversions over the default 7-day attribution window; docs/analytics.md
gives each definition.

Their SQL is compiled, for the database being migrated, from the definitions the code
counts by: ``models.store.counted_order`` (which orders count), ``models.surveys.score_counts``
(which answers are CSAT and NPS answers, satisfied, promoters, detractors) and the date
arithmetic of ``models.dialect``. So a view cannot drift from the reports. Migrations are
history, and this is only right while there is none to keep: until the first release the
schema is regenerated (``make migration``) and databases are created afresh. Once a release
is out, freeze this file first (paste the SQL that ``alembic upgrade --sql`` prints for
each backend) and change a definition, and its views, in a new migration.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from sqlalchemy import ClauseElement, Float, literal_column, select

from models.dialect import date_day, epoch_day, epoch_month, shift_days, utc_month_label
from models.store import Order, counted_order
from models.surveys import SurveyAnswer, score_counts

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
ATTRIBUTION_DAYS = 7  # analytics.campaigns.DEFAULT_WINDOW


def upgrade() -> None:
    dialect = op.get_bind().dialect

    def sql(element: ClauseElement) -> str:
        """``element`` as this database's SQL, values written in (a view has no parameters)."""
        return str(element.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))

    def col(name: str) -> ClauseElement:
        return literal_column(name)

    o = Order.__table__.c
    customer_orders = select(
        o.id.label("order_id"),
        o.customer_id,
        o.ordered_at,
        utc_month_label(o.ordered_at).label("order_month"),
        o.total,
        o["items"],
    ).where(counted_order())
    op.execute(f"CREATE VIEW v_customer_orders AS {sql(customer_orders)}")

    month, label = sql(epoch_month(col("ordered_at"))), sql(utc_month_label(col("ordered_at")))
    float_type = Float().compile(dialect=dialect)
    op.execute(
        f"""CREATE VIEW v_cohort_retention AS
        WITH active AS (
            SELECT DISTINCT customer_id, {month} AS m, {label} AS label
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
               CAST(counts.customers AS {float_type}) / size.customers AS retention
        FROM counts
        JOIN counts AS size ON size.c = counts.c AND size.month_number = 0
        JOIN labels ON labels.m = counts.c"""
    )
    days = sql(epoch_day(col("o.ordered_at")) - date_day(col("m.as_of")))
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
    window_end = sql(shift_days(col("g.attributed_from"), ATTRIBUTION_DAYS))
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
         AND o.ordered_at <= {window_end}
        GROUP BY g.campaign, g.period, g.customer_id, g.grp, g.variant, g.attributed_from"""
    )
    a = SurveyAnswer.__table__.c
    answer_month = utc_month_label(a.answered_at)
    survey_scores = (
        select(
            a.survey,
            answer_month.label("month"),
            *(count.label(name) for name, count in score_counts().items()),
        )
        .where(a.score.is_not(None))
        .group_by(a.survey, answer_month)
    )
    op.execute(f"CREATE VIEW v_survey_scores AS {sql(survey_scores)}")


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
