"""``homecoming demo``: the whole loop on the embedded default, as a flow of steps.

Each step is a plain function taking and returning the shared :class:`DemoContext`;
``STEPS`` lists them in order, so a new capability joins the demo by adding one step.

The demo's own database, outbox and send journal live in its folder and are handed to each
step explicitly (the context's ``engine`` and ``transports``), so the process's settings
are never changed mid-flow and a caller's own database is never touched. The one setting
read deep inside (the public URL that links in messages point at) is set by the caller
before the flow starts: ``cli.demo`` points it at the port the flow serves on.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any, TypedDict

from prefect import flow, task
from prefect.cache_policies import NONE
from sqlalchemy import Engine, func, select

from analytics.build import build_all
from analytics.campaigns import DEFAULT_WINDOW, campaign_effects
from analytics.orders import Window, order_count
from analytics.render import to_html
from analytics.repeat import repeat_rate
from analytics.surveys import survey_results
from campaigns.cadence import Period
from campaigns.channels.base import Transport
from campaigns.channels.outbox import OutboxTransport
from campaigns.definitions import Campaign
from campaigns.run import RunResult, load_campaign, resolve_period, run_period
from campaigns.surveys import send_due_surveys
from flows.ingest import publish_summaries
from flows.responses import answer_campaigns
from ingest.run import ingest_file
from models.campaigns import MessageStatus
from models.db import get_engine, upgrade
from models.ingest import Quarantine
from models.store import Channel, Customer
from segments.refresh import refresh
from synthetic import write_store
from web.server import free_port, running
from web.simulate import simulate_answers

KINDS = ("customers", "orders", "interactions", "shipments", "devices")
# Cadence campaigns of campaigns/definitions/ the demo runs, for its last two full weeks.
CAMPAIGNS = ("weekly_newsletter", "biweekly_winback", "autumn_promotion")
WEEKS = 2
MAX_WAVES = 60  # one a local send time: far more than the world's time zones need
SURVEY_DAYS = 28  # the surveys of this many days before the end
SURVEY_EVERY_HOURS = 6


class Transports(TypedDict):
    """The two channel transports, as ``run_period`` and ``send_due_surveys`` take them."""

    email_transport: Transport
    push_transport: Transport


@dataclass
class DemoContext:
    folder: Path
    customers: int
    seed: int
    end: date
    port: int | None = None  # where the web service answers surveys; None: any free port
    campaign_weeks: int = WEEKS
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.folder / "demo.db"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database}"

    @property
    def engine(self) -> Engine:
        """The demo database's engine (one per URL per process)."""
        return get_engine(self.database_url)

    @property
    def journal(self) -> Path:
        """The send journal, next to the demo's ledger: a fresh database gets a fresh one."""
        return self.folder / "journal"

    def transports(self) -> Transports:
        """Both channels into the demo's file outbox, as ``run_period`` takes them."""
        outbox = self.folder / "outbox"
        return {
            "email_transport": OutboxTransport(outbox, channel=Channel.email),
            "push_transport": OutboxTransport(outbox, channel=Channel.push),
        }

    @property
    def store(self) -> Path:
        return self.folder / "store"

    @property
    def weeks(self) -> list[date]:
        """Mondays of the campaign weeks, oldest first: the last full weeks whose sends
        (late ones up to a day into the next week) have a whole attribution window of
        history after them, so the report can measure every period the demo sends."""
        latest = self.end - timedelta(days=7 + 1 + DEFAULT_WINDOW)
        last = latest - timedelta(days=latest.weekday())
        return [last - timedelta(weeks=n) for n in reversed(range(self.campaign_weeks))]


def fresh_database(ctx: DemoContext) -> None:
    """A new SQLite file and outbox under the demo folder, used by every later step."""
    if ctx.folder.exists():
        shutil.rmtree(ctx.folder)
    ctx.folder.mkdir(parents=True)
    upgrade(ctx.database_url)
    ctx.summary["database"] = str(ctx.database)


def generate_store(ctx: DemoContext) -> None:
    ctx.summary["generated"] = write_store(
        out=ctx.store, customers=ctx.customers, seed=ctx.seed, end=ctx.end
    )


def ingest_store(ctx: DemoContext) -> None:
    summaries = [
        ingest_file(kind=k, path=ctx.store / f"{k}.csv", engine=ctx.engine).as_dict() for k in KINDS
    ]
    publish_summaries(summaries)
    ctx.summary["quarantined"] = sum(s["quarantined"] for s in summaries)


def store_summary(ctx: DemoContext) -> None:
    """Customers, orders and the repeat-purchase share, as the retention report counts them."""
    engine = ctx.engine
    repeat = repeat_rate(engine, window=Window())  # one row over all the data, if any order
    with engine.connect() as conn:
        customers = conn.scalar(select(func.count()).select_from(Customer))
        quarantined = conn.scalar(select(func.count()).select_from(Quarantine))
    ctx.summary.update(
        customers=customers,
        orders=order_count(engine),
        quarantine_rows=quarantined,
        repeat_purchase_share=repeat[0]["repeat_rate"] if repeat else 0.0,
    )


def refresh_segments(ctx: DemoContext) -> None:
    """Every segment as of 100 days before the end (so the report follows members for 90
    days) and as of the eve of the campaign weeks (the audiences the campaigns send to)."""
    engine = ctx.engine
    refresh(engine, as_of=ctx.end - timedelta(days=100))
    result = refresh(engine, as_of=ctx.weeks[0] - timedelta(days=1))
    ctx.summary["segments_as_of"] = result.as_of.isoformat()
    ctx.summary["segments"] = {name: size for name, size in sorted(result.sizes.items())}
    ctx.summary["segment_warnings"] = result.warnings


def send_campaigns(ctx: DemoContext) -> None:
    """Each campaign week through the file outbox, wave by wave as its deployment runs it
    (at the period's start, then at each next local send time); then the same period again
    at its last wave, which must send nothing."""
    engine = ctx.engine
    runs: list[dict[str, Any]] = []
    for monday in ctx.weeks:
        # Sunday noon UTC: every period of the week has begun, and the next week's local-time
        # periods (which start where Monday comes first, Sunday 20:00 UTC) have not.
        sunday = datetime.combine(monday + timedelta(days=6), clock(12, 0), tzinfo=UTC)
        for name in CAMPAIGNS:
            campaign = load_campaign(name, engine=engine)
            period = resolve_period(campaign, period=None, now=sunday)
            if any(r["campaign"] == name and r["period"] == period.key for r in runs):
                continue  # a biweekly campaign's week off: its period was run the week before
            waves, last = _waves(ctx, campaign, period)
            again = _run(ctx, campaign, period, now=last.now)
            runs.append(
                {
                    "campaign": name,
                    "period": period.key,
                    "waves": len(waves),
                    "sent": sum(w.send.sent for w in waves),
                    "held_out": last.ledger.get(MessageStatus.held_out, 0),
                    "suppressed": sum(last.ledger.get(MessageStatus.suppressed, {}).values()),
                    "failed": sum(w.send.failed for w in waves),
                    "sent_again": again.send.sent,
                    "already_sent": again.already_sent,
                }
            )
    ctx.summary["campaigns"] = runs


def _run(ctx: DemoContext, campaign: Campaign, period: Period, *, now: datetime) -> RunResult:
    """One run of the period through the demo's database, outbox and journal."""
    return run_period(
        ctx.engine,
        campaign=campaign,
        period=period.key,
        now=now,
        journal_dir=ctx.journal,
        **ctx.transports(),
    )


def _waves(
    ctx: DemoContext, campaign: Campaign, period: Period
) -> tuple[list[RunResult], RunResult]:
    """Runs at the period's start and then at each next send time, as follow-ups would."""
    waves = [_run(ctx, campaign, period, now=period.starts_at)]
    while (at := waves[-1].next_send_at) and at > waves[-1].now and len(waves) < MAX_WAVES:
        waves.append(_run(ctx, campaign, period, now=at))
    return waves, waves[-1]


def respond_to_campaigns(ctx: DemoContext) -> None:
    """Some recipients order because of a message (the generator's known effects, in
    ``store/truth.json``), so the report has real effects to find and null ones to leave;
    the summary sets each true effect beside what the campaign report measures."""
    answered = answer_campaigns(ctx.engine, store=ctx.store, seed=ctx.seed, end=ctx.end)
    truth = {(t["campaign"], t["period"], t["variant"]): t for t in answered["comparisons"]}
    rows, _ = campaign_effects(ctx.engine, window=Window())
    ctx.summary["responses"] = answered["responses"]
    ctx.summary["effects"] = [
        {
            **{k: r[k] for k in ("campaign", "period", "variant", "uplift", "ci_low", "ci_high")},
            "true_uplift": truth[(r["campaign"], r["period"], r["variant"])]["true_uplift"],
            "significant": r["significant"],
            "warning": r["warning"],
        }
        for r in rows
    ]


def answer_surveys(ctx: DemoContext) -> None:
    """Surveys due after the deliveries and resolved tickets of the last weeks, answered by
    part of the customers through the running web service; CSAT from what they answered."""
    engine = ctx.engine
    end = datetime.combine(ctx.end, clock(23, 0), tzinfo=UTC)
    sent = 0
    # The send-surveys deployment, every few hours, so each zone has runs in its daytime.
    for hours_before in reversed(range(0, SURVEY_DAYS * 24, SURVEY_EVERY_HOURS)):
        now = end - timedelta(hours=hours_before)
        since = now - timedelta(hours=SURVEY_EVERY_HOURS)
        sent += send_due_surveys(
            engine, now=now, since=since, journal_dir=ctx.journal, **ctx.transports()
        )["sent"]
    with running(engine, port=ctx.port or free_port()) as base:
        answered = simulate_answers(engine, base_url=base, seed=ctx.seed)
    ctx.summary["surveys"] = {
        "sent": sent,
        "answered": answered.get("answered", 0),
        "results": survey_results(engine),
    }


def write_report(ctx: DemoContext) -> None:
    """The HTML retention report of the generated store."""
    path = ctx.folder / "report.html"
    path.write_text(to_html(build_all(ctx.engine)), encoding="utf-8")
    ctx.summary["report"] = str(path)


Step = Callable[[DemoContext], None]
STEPS: list[tuple[str, Step]] = [
    ("fresh-database", fresh_database),
    ("generate-store", generate_store),
    ("ingest-store", ingest_store),
    ("store-summary", store_summary),
    ("refresh-segments", refresh_segments),
    ("send-campaigns", send_campaigns),
    ("respond-to-campaigns", respond_to_campaigns),
    ("answer-surveys", answer_surveys),
    ("retention-report", write_report),
]


@flow(name="demo")
def demo_flow(
    folder: str = ".homecoming/demo",
    customers: int = 3000,
    seed: int = 7,
    end: str = "2026-12-01",
    port: int | None = None,
) -> dict[str, Any]:
    """The whole loop in ``folder`` (recreated); ``port`` is where the web service answers
    the surveys (default: any free port). Returns the summary the CLI prints."""
    started = time.monotonic()
    ctx = DemoContext(Path(folder).resolve(), customers, seed, date.fromisoformat(end), port)
    ctx.summary["step_seconds"] = {}
    for name, step in STEPS:
        begun = time.monotonic()
        task(name=name, cache_policy=NONE)(step)(ctx)
        ctx.summary["step_seconds"][name] = round(time.monotonic() - begun, 1)
    ctx.summary["seconds"] = round(time.monotonic() - started, 1)
    return ctx.summary
