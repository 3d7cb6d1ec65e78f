"""Views for BI tools: the same orders, cohorts and campaign groups the reports use.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MONTH = {
    "sqlite": "(CAST(strftime('%Y', ordered_at) AS INTEGER) * 12 + CAST(strftime('%m', ordered_at) AS INTEGER) - 1)",
    "postgresql": "(EXTRACT(YEAR FROM ordered_at AT TIME ZONE 'UTC')::int * 12 + EXTRACT(MONTH FROM ordered_at AT TIME ZONE 'UTC')::int - 1)",
}
LABEL = {
    "sqlite": "printf('%04d-%02d', f.c / 12, f.c % 12 + 1)",
    "postgresql": "lpad((f.c / 12)::text, 4, '0') || '-' || lpad((f.c % 12 + 1)::text, 2, '0')",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute(
        "CREATE VIEW v_customer_orders AS SELECT id AS order_id, customer_id, ordered_at, total, items "
        "FROM orders WHERE customer_id IS NOT NULL AND total > 0 AND items > 0"
    )
    op.execute(
        f"""CREATE VIEW v_cohort_retention AS
        WITH a AS (SELECT customer_id, {MONTH[dialect]} AS m FROM v_customer_orders GROUP BY customer_id, {MONTH[dialect]}),
        f AS (SELECT customer_id, min(m) AS c FROM a GROUP BY customer_id),
        k AS (SELECT f.c, a.m - f.c AS month, count(*) AS customers FROM a JOIN f ON f.customer_id = a.customer_id GROUP BY f.c, a.m - f.c)
        SELECT {LABEL[dialect].replace("f.c", "k.c")} AS cohort, k.month, k.customers,
               CAST(k.customers AS FLOAT) / z.customers AS retention
        FROM k JOIN k AS z ON z.c = k.c AND z.month = 0"""
    )
    op.execute(
        "CREATE VIEW v_campaign_groups AS SELECT campaign, period, variant, status, count(*) AS customers "
        "FROM message WHERE status IN ('sent', 'held_out') GROUP BY campaign, period, variant, status"
    )


def downgrade() -> None:
    for view in ("v_campaign_groups", "v_cohort_retention", "v_customer_orders"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
