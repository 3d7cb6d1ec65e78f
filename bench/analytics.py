"""Report speed at 1,000,000 customers and about 10,000,000 orders, next to pandas.

    .venv/bin/python -m bench.analytics [--customers 1000000] [--backends postgresql sqlite]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--reuse]

Loads a store with ``bench.bigstore`` (numpy rows; PostgreSQL ``COPY``, SQLite
``executemany``), then adds, inside the database: three segment snapshots (five segments
splitting the customers), four weekly campaign periods to a quarter of the customers each
with a 10 % hold-out and two variants, a delivery event for every sent message and an open
for about a third, and 100,000 survey answers. It times every report (the SQL and the Python
that shapes it), and a plain pandas cohort table computed from the same orders already in
memory, and checks that pandas and the database agree. After loading it runs ``VACUUM
ANALYZE`` as autovacuum would. ``--reuse`` keeps the loaded store
(schema ``bench_analytics`` or ``bench/.data/analytics-N.db``) for a second run.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Date,
    Engine,
    Integer,
    String,
    case,
    cast,
    insert,
    literal,
    literal_column,
    null,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from analytics.build import KINDS, build
from analytics.cohorts import cohort_counts
from analytics.orders import Window
from bench.bigstore import Store, load_postgres, load_sqlite, timed
from bench.memory import peak_mb
from models import (
    CampaignKind,
    Channel,
    Customer,
    Interaction,
    Message,
    MessageStatus,
    SegmentMember,
    SurveyAnswer,
)
from models.base import table
from models.db import get_engine, normalize_url

DATA = Path(__file__).parent / ".data"
SCHEMA = "bench_analytics"
SNAPSHOTS = ("2026-04-01", "2026-06-01", "2026-08-01")  # 90 days observed before 2026-11-20
PERIODS = {
    "2026-W31": "2026-07-27",
    "2026-W32": "2026-08-03",
    "2026-W33": "2026-08-10",
    "2026-W34": "2026-08-17",
}
HASH = "(customer.id * 2654435761 % 1000003)"  # a fixed pseudo-random number per customer
C = table(Customer).c
M = table(Message).c


def _ts(backend: str, day: str, seconds: str) -> ColumnElement:
    """SQL for ``day`` 09:00 UTC plus ``seconds`` (an SQL integer expression)."""
    if backend == "sqlite":
        return literal_column(f"datetime('{day} 09:00:00', '+' || ({seconds}) || ' seconds')")
    return literal_column(f"(TIMESTAMPTZ '{day} 09:00:00+00' + ({seconds}) * INTERVAL '1 second')")


def add_activity(engine: Engine) -> None:
    """Segment snapshots, campaign ledger, provider events and survey answers, in SQL.

    ``INSERT ... SELECT`` through SQLAlchemy Core, so columns not named here get their
    model defaults.
    """
    backend = engine.dialect.name
    h = literal_column(HASH, Integer)
    statements = [
        insert(SegmentMember).from_select(
            ["segment", "as_of", "customer_id"],
            select(
                literal("bench:").concat(cast((h + k) % 5, String)),
                literal(date.fromisoformat(day), Date),
                C.id,
            ),
        )
        for k, day in enumerate(SNAPSHOTS)
    ]
    held = (h // 4) % 10 == 0
    for p, (period, day) in enumerate(PERIODS.items()):
        at = _ts(backend, day, "customer.id % 7200")
        statements.append(
            insert(Message).from_select(
                [
                    "campaign",
                    "period",
                    "customer_id",
                    "channel",
                    "kind",
                    "status",
                    "variant",
                    "send_at",
                    "sent_at",
                    "created_at",
                ],
                select(
                    literal("bench"),
                    literal(period),
                    C.id,
                    literal(Channel.email, String),
                    literal(CampaignKind.newsletter, String),
                    case((held, MessageStatus.held_out), else_=MessageStatus.sent),
                    case((held, null()), (C.id % 2 == 0, "a"), else_="b"),
                    at,
                    case((held, null()), else_=at),
                    at,
                ).where(h % 4 == p),
            )
        )
    sent = (M.campaign == "bench") & (M.status == MessageStatus.sent)
    for kind, which in (("delivered", sent), ("opened", sent & (M.id % 3 == 0))):
        statements.append(
            insert(Interaction).from_select(
                ["customer_id", "kind", "channel", "occurred_at", "message_id"],
                select(
                    M.customer_id, literal(kind), literal(Channel.email, String), M.sent_at, M.id
                ).where(which),
            )
        )
    asked = _ts(backend, "2026-01-01", "customer.id * 27")
    statements += [
        insert(Message).from_select(
            [
                "campaign",
                "period",
                "customer_id",
                "channel",
                "kind",
                "status",
                "send_at",
                "sent_at",
                "created_at",
            ],
            select(
                literal("bench-csat"),
                literal("p").concat(cast(C.id, String)),
                C.id,
                literal(Channel.email, String),
                literal("survey"),
                literal(MessageStatus.sent, String),
                asked,
                asked,
                asked,
            ).where(C.id % 10 == 0),
        ),
        insert(SurveyAnswer).from_select(
            ["message_id", "customer_id", "survey", "kind", "score", "answered_at", "updated_at"],
            select(
                M.id,
                M.customer_id,
                literal("bench-csat"),
                literal("csat"),
                1 + M.customer_id % 5,
                M.sent_at,
                M.sent_at,
            ).where(M.campaign == "bench-csat"),
        ),
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)
    # What autovacuum does soon after a bulk load: statistics and the visibility map (which
    # lets PostgreSQL read orders in customer order from the index alone).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if backend == "postgresql" else "ANALYZE"))


def counts(engine: Engine) -> dict[str, int]:
    tables = ("customer", "orders", "segment_member", "message", "interaction", "survey_answer")
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}


def pandas_cohorts(store: Store) -> tuple[float, dict[int, dict[int, int]]]:
    """The cohort table in plain pandas from the same orders in memory: (seconds, counts)."""
    frames = [
        pd.DataFrame({"customer_id": c.customer_id, "ordered_at": pd.to_datetime(c.ordered_at)})
        for c in store.order_chunks()
    ]
    frame = pd.concat(frames, ignore_index=True)
    started = time.perf_counter()
    month = (frame.ordered_at.dt.year - 1970) * 12 + frame.ordered_at.dt.month - 1
    first = month.groupby(frame.customer_id).transform("min")
    active = pd.DataFrame({"cohort": first, "k": month - first, "customer": frame.customer_id})
    sizes = active.drop_duplicates().groupby(["cohort", "k"]).size()
    seconds = time.perf_counter() - started
    out: dict[int, dict[int, int]] = {}
    for (cohort, k), n in sizes.items():
        out.setdefault(int(cohort), {})[int(k)] = int(n)
    return seconds, out


def prepare(backend: str, store: Store, pg: str, reuse: bool) -> Engine:
    if backend == "sqlite":
        DATA.mkdir(exist_ok=True)
        path = DATA / f"analytics-{store.customers}.db"
        if not (reuse and path.exists()):
            path.unlink(missing_ok=True)
            engine = get_engine(timed("load orders", load_sqlite, str(path), store))
            timed("add snapshots, ledger, events, answers", add_activity, engine)
        return get_engine(f"sqlite:///{path}")
    url = f"{normalize_url(pg)}?options=-csearch_path%3D{SCHEMA}"
    if reuse:
        engine = get_engine(url)
        with contextlib.suppress(SQLAlchemyError):  # no such schema yet: load it
            if counts(engine)["customer"] == store.customers:
                return engine
    engine = get_engine(timed("load orders", load_postgres, pg, SCHEMA, store))
    timed("add snapshots, ledger, events, answers", add_activity, engine)
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--backends", nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the loaded store")
    args = parser.parse_args()
    store = Store(customers=args.customers)
    print(f"== {args.customers:,} customers", flush=True)
    sql_counts = None
    for backend in args.backends:
        print(f" {backend}", flush=True)
        engine = prepare(backend, store, args.pg, args.reuse)
        print("  rows: " + ", ".join(f"{t} {n:,}" for t, n in counts(engine).items()), flush=True)
        total = 0.0
        for kind in KINDS:
            started = time.perf_counter()
            report = build(engine, kind)
            seconds = time.perf_counter() - started
            total += seconds
            print(f"  {kind} report: {seconds:.1f} s ({len(report.main.rows):,} rows)", flush=True)
        print(f"  all five reports: {total:.1f} s", flush=True)
        sql_counts = cohort_counts(engine, window=Window.of(None, None, "UTC"))[0]
        print(f"  peak memory of this process so far: {peak_mb():,.0f} MB", flush=True)
    seconds, expected = pandas_cohorts(store)
    print(
        f" pandas cohort table on the same orders, already in memory: {seconds:.1f} s", flush=True
    )
    if sql_counts is not None:
        print(f" pandas and the database agree on every cohort cell: {sql_counts == expected}")
    print(f" peak memory incl. pandas: {peak_mb():,.0f} MB", flush=True)


if __name__ == "__main__":
    main()
