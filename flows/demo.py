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
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE
from sqlalchemy import Engine, func, select

from analytics.build import build_all
from analytics.render import to_html
from campaigns.cadence import Period
from campaigns.definitions import Campaign
from campaigns.run import RunResult, load_campaign, resolve_period, run_period
from campaigns.surveys import send_due_surveys, survey_results
from flows.ingest import publish_summaries
from ingest.run import ingest_file
from ingest.synthetic import write_store
from models.db import get_engine, upgrade
from models.ingest import Quarantine
from models.settings import get_settings
from models.store import Customer, Order
from segments.refresh import refresh
from web.server import free_port, running
from web.simulate import simulate_answers

KINDS = ("customers", "orders", "interactions", "shipments", "devices")
# Cadence campaigns of campaigns/definitions/ the demo runs, for its last two full weeks.
CAMPAIGNS = ("weekly_newsletter", "biweekly_winback", "autumn_promotion")
WEEKS = 2
MAX_WAVES = 60  # one a local send time: far more than the world's time zones need
SURVEY_DAYS = 28  # the surveys of this many days before the end
SURVEY_EVERY_HOURS = 6


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

    @property
    def weeks(self) -> list[date]:
        """Mondays of the last full weeks before ``end``, oldest first: the campaign weeks."""
        last = self.end - timedelta(days=self.end.weekday() + 7)
        return [last - timedelta(weeks=n) for n in reversed(range(WEEKS))]


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
    """Every segment as of 100 days before the end (so the report follows members for 90
    days) and as of the eve of the campaign weeks (the audiences the campaigns send to)."""
    engine = get_engine()
    refresh(engine, as_of=ctx.end - timedelta(days=100))
    result = refresh(engine, as_of=ctx.weeks[0] - timedelta(days=1))
    ctx.summary["segments_as_of"] = result.as_of.isoformat()
    ctx.summary["segments"] = {name: size for name, size in sorted(result.sizes.items())}
    ctx.summary["segment_warnings"] = result.warnings


def send_campaigns(ctx: DemoContext) -> None:
    """Each campaign week through the file outbox, wave by wave as its deployment runs it
    (at the period's start, then at each next local send time); then the same period again
    at its last wave, which must send nothing."""
    engine = get_engine()
    runs: list[dict[str, Any]] = []
    for monday in ctx.weeks:
        sunday_night = datetime.combine(monday + timedelta(days=6), clock(23, 0), tzinfo=UTC)
        for name in CAMPAIGNS:
            campaign = load_campaign(name, engine=engine)
            period = resolve_period(campaign, period=None, now=sunday_night)
            if any(r["campaign"] == name and r["period"] == period.key for r in runs):
                continue  # a biweekly campaign's week off: its period was run the week before
            waves, last = _waves(engine, campaign, period)
            again = run_period(engine, campaign=campaign, period=period.key, now=last.now)
            runs.append(
                {
                    "campaign": name,
                    "period": period.key,
                    "waves": len(waves),
                    "sent": sum(w.send.sent for w in waves),
                    "held_out": last.ledger.get("held_out", 0),
                    "suppressed": sum(last.ledger.get("suppressed", {}).values()),
                    "failed": sum(w.send.failed for w in waves),
                    "sent_again": again.send.sent,
                    "already_sent": again.already_sent,
                }
            )
    ctx.summary["campaigns"] = runs


def _waves(engine: Engine, campaign: Campaign, period: Period) -> tuple[list[RunResult], RunResult]:
    """Runs at the period's start and then at each next send time, as follow-ups would."""
    waves = [run_period(engine, campaign=campaign, period=period.key, now=period.starts_at)]
    while (at := waves[-1].next_send_at) and at > waves[-1].now and len(waves) < MAX_WAVES:
        waves.append(run_period(engine, campaign=campaign, period=period.key, now=at))
    return waves, waves[-1]


def answer_surveys(ctx: DemoContext) -> None:
    """Surveys due after the deliveries and resolved tickets of the last weeks, answered by
    part of the customers through the running web service; CSAT from what they answered."""
    engine = get_engine()
    port = free_port()
    os.environ["HOMECOMING_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    get_settings.cache_clear()
    end = datetime.combine(ctx.end, clock(23, 0), tzinfo=UTC)
    sent = 0
    # The send-surveys deployment, every few hours, so each zone has runs in its daytime.
    for hours_before in reversed(range(0, SURVEY_DAYS * 24, SURVEY_EVERY_HOURS)):
        now = end - timedelta(hours=hours_before)
        since = now - timedelta(hours=SURVEY_EVERY_HOURS)
        sent += send_due_surveys(engine, now=now, since=since)["sent"]
    with running(engine, port=port) as base:
        answered = simulate_answers(engine, base_url=base, seed=ctx.seed)
    ctx.summary["surveys"] = {
        "sent": sent,
        "answered": answered.get("answered", 0),
        "results": survey_results(engine),
    }


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
    ("send-campaigns", send_campaigns),
    ("answer-surveys", answer_surveys),
    ("retention-report", write_report),
]


@flow(name="demo")
def demo_flow(
    folder: str = ".homecoming/demo", customers: int = 3000, seed: int = 7, end: str = "2026-11-20"
) -> dict[str, Any]:
    started = time.monotonic()
    ctx = DemoContext(Path(folder).resolve(), customers, seed, date.fromisoformat(end))
    ctx.summary["step_seconds"] = {}
    for name, step in STEPS:
        begun = time.monotonic()
        task(step, name=name, cache_policy=NONE)(ctx)
        ctx.summary["step_seconds"][name] = round(time.monotonic() - begun, 1)
    ctx.summary["seconds"] = round(time.monotonic() - started, 1)
    return ctx.summary
