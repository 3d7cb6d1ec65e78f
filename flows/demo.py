"""``homecoming demo``: the whole loop on the embedded default, as a flow of steps.

Each step is a plain function taking and returning the shared :class:`DemoContext`;
``STEPS`` lists them in order, so a new capability joins the demo by adding one step.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE
from sqlalchemy import func, select

from analytics.build import build_all
from analytics.render import to_html
from flows.ingest import publish_summaries
from ingest.run import ingest_file
from ingest.synthetic import write_store
from models.db import get_engine, upgrade
from models.ingest import Quarantine
from models.settings import get_settings
from models.store import Customer, Order
from segments.refresh import refresh

KINDS = ("customers", "orders", "interactions", "shipments", "devices")


@dataclass
class DemoContext:
    folder: Path
    customers: int
    seed: int
    end: date
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.folder / "demo.db"

    @property
    def store(self) -> Path:
        return self.folder / "store"


def fresh_database(ctx: DemoContext) -> None:
    """A new SQLite file and outbox under the demo folder, used by every later step."""
    if ctx.folder.exists():
        shutil.rmtree(ctx.folder)
    ctx.folder.mkdir(parents=True)
    os.environ["HOMECOMING_DATABASE_URL"] = f"sqlite:///{ctx.database}"
    os.environ["HOMECOMING_OUTBOX_DIR"] = str(ctx.folder / "outbox")
    get_settings.cache_clear()
    upgrade()
    ctx.summary["database"] = str(ctx.database)


def generate_store(ctx: DemoContext) -> None:
    ctx.summary["generated"] = write_store(
        out=ctx.store, customers=ctx.customers, seed=ctx.seed, end=ctx.end
    )


def ingest_store(ctx: DemoContext) -> None:
    summaries = [ingest_file(kind=k, path=ctx.store / f"{k}.csv").as_dict() for k in KINDS]
    publish_summaries(summaries)
    ctx.summary["quarantined"] = sum(s["quarantined"] for s in summaries)


def store_summary(ctx: DemoContext) -> None:
    """Customers, orders and the repeat-purchase share, computed by the database."""
    with get_engine().connect() as conn:
        real = Order.__table__.c
        per_customer = (
            select(real.customer_id, func.count().label("n"))
            .where(real.customer_id.is_not(None), real.total > 0)
            .group_by(real.customer_id)
            .subquery()
        )
        buyers, repeat = conn.execute(
            select(
                func.count(), func.sum(func.cast(per_customer.c.n >= 2, type_=func.count().type))
            )
        ).one()
        ctx.summary.update(
            customers=conn.scalar(select(func.count()).select_from(Customer)),
            orders=conn.scalar(
                select(func.count()).where(real.customer_id.is_not(None), real.total > 0)
            ),
            quarantine_rows=conn.scalar(select(func.count()).select_from(Quarantine)),
            repeat_purchase_share=round((repeat or 0) / buyers, 4) if buyers else 0.0,
        )


def refresh_segments(ctx: DemoContext) -> None:
    """Every segment as of the store's last day; the summary shows the named RFM ones."""
    result = refresh(get_engine(), as_of=ctx.end)
    ctx.summary["segments"] = {name: size for name, size in sorted(result.sizes.items())}
    ctx.summary["segment_warnings"] = result.warnings


def write_report(ctx: DemoContext) -> None:
    """The HTML retention report of the generated store."""
    path = ctx.folder / "report.html"
    path.write_text(to_html(build_all(get_engine())), encoding="utf-8")
    ctx.summary["report"] = str(path)


Step = Callable[[DemoContext], None]
STEPS: list[tuple[str, Step]] = [
    ("fresh-database", fresh_database),
    ("generate-store", generate_store),
    ("ingest-store", ingest_store),
    ("store-summary", store_summary),
    ("refresh-segments", refresh_segments),
    ("retention-report", write_report),
]


@flow(name="demo")
def demo_flow(
    folder: str = ".homecoming/demo", customers: int = 3000, seed: int = 7, end: str = "2026-11-20"
) -> dict[str, Any]:
    started = time.monotonic()
    ctx = DemoContext(Path(folder).resolve(), customers, seed, date.fromisoformat(end))
    for name, step in STEPS:
        task(step, name=name, cache_policy=NONE)(ctx)
    ctx.summary["seconds"] = round(time.monotonic() - started, 1)
    return ctx.summary
