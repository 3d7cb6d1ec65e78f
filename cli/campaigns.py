"""``homecoming campaigns``: list, validate, plan, run and sync campaign deployments."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from cli.output import console, database_errors, err_console, fail, key_values, print_json, table

if TYPE_CHECKING:
    from campaigns.cadence import Period
    from campaigns.campaign import Campaign
    from models.settings import Settings
    from templates import Renderer

app = typer.Typer(
    help="Campaigns: cadences as Prefect deployments, audience plans, exactly-once sending.",
    no_args_is_help=True,
)
JSON = typer.Option(False, "--json", help="Print JSON for scripts")
PERIOD = typer.Option(
    None, "--period", help="Period key, e.g. 2026-W48, 2026-11 or 2026-11-23 (default: current)"
)
NOW = typer.Option(
    None,
    "--now",
    help="Act as of this time, ISO 8601 (e.g. 2026-11-23T10:00:00+01:00; default: the clock)",
)


def _now(text: str | None, *, future: bool = True) -> datetime:
    """``--now`` as an aware time (the clock without it). A run sends real messages, so it
    refuses a future time (``future=False``); a plan, a dry run, may look ahead."""
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"--now {text!r} is not an ISO 8601 time, e.g. 2026-11-23T10:00:00Z") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not future and moment > datetime.now(UTC):
        raise fail(
            f"--now {text!r} is in the future: a run sends real messages, so it acts on the "
            "clock or as of a past time; use `homecoming campaigns plan --now` to look ahead"
        )
    return moment


def _inactive(name: str, reason: str, json_out: bool) -> None:
    """A campaign outside its dates: say so; not an error (exit code 0)."""
    if json_out:
        print_json({"campaign": name, "inactive": reason})
    else:
        console.print(f"{reason}: nothing to do", highlight=False)


def _outcomes(when: str, deferred: dict[str, int], skipped: dict[str, int]) -> None:
    """The send-time rules' outcomes: deferred to a later moment, or skipped, by reason."""
    rows = [[f"deferred: {k}", v] for k, v in deferred.items()]
    rows += [[f"skipped: {k}", v] for k, v in skipped.items()]
    if rows:
        console.print(table(f"send-time rules ({when})", ["outcome", "messages"], rows))


def _renderer() -> Renderer:
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from campaigns.render import default_renderer

    try:
        return default_renderer()
    except Exception as exc:
        raise fail(f"templates cannot be loaded: {exc}") from None


def _load(name: str) -> Campaign:
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from campaigns.run import CampaignError, load_campaign
    from models.db import get_engine

    try:
        with database_errors():
            return load_campaign(name, engine=get_engine(), renderer=_renderer())
    except CampaignError as exc:
        raise fail(str(exc)) from None


@app.command("list")
def list_cmd(json_out: bool = JSON) -> None:
    """Every campaign: kind, channel, cadence and its next run."""
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from campaigns.cadence import describe, next_runs
    from campaigns.definitions import load_all

    campaigns, errors = load_all()
    now = datetime.now(UTC)
    rows = []
    for c in campaigns:
        runs = next_runs(c, after=now)
        rows.append(
            {
                "name": c.name,
                "kind": c.kind,
                "channel": c.channel,
                "cadence": c.cadence_kind,
                "schedule": describe(c.cadence),
                "trigger": (
                    {"after": c.trigger.after, "delay": c.trigger.delay_text} if c.trigger else None
                ),
                "next_run": runs[0].isoformat() if runs else None,
                "priority": c.priority,
                "holdout": c.holdout,
                "source": c.source,
            }
        )
    if json_out:
        print_json({"campaigns": rows, "errors": [str(e) for e in errors]})
        return
    columns = ["name", "kind", "channel", "cadence", "next_run", "schedule"]
    console.print(table("campaigns", columns, [[r[k] for k in columns] for r in rows]))
    for error in errors:
        err_console.print(f"[red]invalid:[/] {error}", highlight=False)


@app.command("validate")
def validate(json_out: bool = JSON) -> None:
    """Check every definition: YAML, fields, cadence, weights, segments and templates."""
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from campaigns.definitions import load_checked
    from models.db import get_engine

    try:
        engine = get_engine()
    except Exception:
        engine = None
    campaigns, errors = load_checked(engine=engine, renderer=_renderer())
    if json_out:
        print_json({"valid": [c.name for c in campaigns], "errors": [str(e) for e in errors]})
    else:
        for c in campaigns:
            console.print(f"[green]ok[/] {c.name} ({c.source})", highlight=False)
        for error in errors:
            err_console.print(f"[red]error:[/] {error}", highlight=False, soft_wrap=True)
    if errors:
        raise typer.Exit(1)


@app.command("plan")
def plan_cmd(
    name: str = typer.Argument(..., help="Campaign name, see `homecoming campaigns list`"),
    period: str | None = PERIOD,
    now: str | None = NOW,
    listed: bool = typer.Option(
        False,
        "--list",
        help="One row per customer (store id, outcome or reason, variant, template, locale, "
        "zone, send time in UTC and on their clock): CSV, or JSON with --json",
    ),
    json_out: bool = JSON,
) -> None:
    """Dry run: who would get what and when, who not and why. Writes nothing.

    ``--now`` may be in the future: the plan then shows what a run at that time would do.
    """
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from campaigns.planning import summarize
    from campaigns.run import CampaignError, inactive_reason, resolve_period
    from models.db import get_engine
    from models.settings import get_settings

    settings = get_settings()  # read once here, passed down
    moment = _now(now)
    campaign = _load(name)
    reason = inactive_reason(campaign, moment, settings) if period is None else None
    if reason is not None:
        _inactive(name, reason, json_out)
        return
    try:
        the_period = resolve_period(campaign, period=period, now=moment)
    except CampaignError as exc:
        raise fail(str(exc)) from None
    if listed:
        with database_errors():
            _plan_list(campaign, the_period, moment, settings, json_out)
        return
    with database_errors():
        summary = summarize(
            get_engine(), campaign=campaign, period=the_period, now=moment, settings=settings
        )
    data = summary.as_dict()
    if json_out:
        print_json(data)
        return
    head = {k: data[k] for k in ("campaign", "period", "period_starts_at", "audience", "planned")}
    head |= {"held_out": data["held_out"], "due now": data["due_now"]}
    head |= {"first send": data["first_send_at"], "last send": data["last_send_at"]}
    head["sent if run now"] = data["if_sent_now"]["send"]
    console.print(key_values(f"plan of {name} (dry run)", head))
    console.print(table("suppressed", ["reason", "customers"], data["suppressed"].items()))
    _outcomes("if run now", data["if_sent_now"]["deferred"], data["if_sent_now"]["skipped"])
    console.print(table("variants", ["variant", "customers"], data["variants"].items()))
    zones = [
        (z, n, data["local_send_times"].get(z, "")) for z, n in list(data["time_zones"].items())
    ]
    console.print(table("time zones", ["zone", "customers", "first send, local"], zones[:15]))


def _plan_list(
    campaign: Campaign, period: Period, now: datetime, settings: Settings, json_out: bool
) -> None:
    """The per-customer plan on stdout: streamed CSV, or one JSON document."""
    from campaigns.plan_list import COLUMNS, plan_rows
    from models.db import get_engine

    rows = plan_rows(get_engine(), campaign=campaign, period=period, now=now, settings=settings)
    if json_out:
        print_json({"campaign": campaign.name, "period": period.key, "customers": list(rows)})
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


@app.command("run")
def run_cmd(
    name: str = typer.Argument(..., help="Campaign name, see `homecoming campaigns list`"),
    period: str | None = PERIOD,
    now: str | None = NOW,
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Rows per batch"),
    json_out: bool = JSON,
) -> None:
    """Record the period's plan in the ledger and send what is due, exactly once.

    Without ``--now`` it runs on the clock; ``--now`` (a back-fill) must not be in the future.
    """
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from campaigns.run import CampaignError, run_period
    from models.db import get_engine

    moment = _now(now, future=False) if now else None
    from flows.throttle import rate_limiter

    campaign = _load(name)
    try:
        with database_errors():
            result = run_period(
                get_engine(),
                campaign=campaign,
                period=period,
                now=moment,
                renderer=_renderer(),
                batch_size=batch_size,
                throttle=rate_limiter(),
            )
    except (CampaignError, ValueError) as exc:
        raise fail(str(exc)) from None
    data = result.as_dict()
    if json_out:
        print_json(data)
    elif result.inactive:
        _inactive(name, result.inactive, json_out)
    else:
        shown = {k: data[k] for k in ("campaign", "period", "planned", "held_out", "sent")}
        shown |= {k: data[k] for k in ("failed", "already_sent", "pending", "next_send_at")}
        shown["uncertain (awaiting evidence)"] = data["uncertain"]
        shown["reconciled"] = sum(
            v for k, v in data["reconciled"].items() if k not in ("checked", "evidence")
        )
        console.print(key_values(f"run of {name}", shown))
        console.print(table("suppressed", ["reason", "customers"], data["suppressed"].items()))
        _outcomes("this run", data["deferred"], data["skipped"])
        if data["failure_reasons"]:
            rows = data["failure_reasons"].items()
            console.print(table("failed by reason", ["reason", "messages"], rows))
    if result.send.stopped:
        raise fail(f"sending stopped: {result.send.stopped} (safe to run again)", code=1)


@app.command("resend-uncertain")
def resend_uncertain(
    name: str = typer.Argument(..., help="Campaign name, see `homecoming campaigns list`"),
    period: str | None = PERIOD,
    yes: bool = typer.Option(
        False, "--yes", help="Confirm: a message the provider did take is sent a second time"
    ),
    json_out: bool = JSON,
) -> None:
    """Put rows caught mid-send with no evidence either way back to be sent on the next run.

    Reconciliation never resends such rows by itself (the provider may have the message);
    run this once provider events had their chance and you accept a possible duplicate.
    """
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from campaigns.reconcile import release_uncertain
    from models.db import get_engine
    from models.settings import get_settings

    if not yes:
        raise fail("this may send a message twice; add --yes to confirm")
    campaign = _load(name)
    with database_errors():
        released = release_uncertain(
            get_engine(), campaign=campaign.name, period=period, settings=get_settings()
        )
    if json_out:
        print_json({"campaign": campaign.name, "period": period, "released": released})
    else:
        console.print(f"{released} uncertain rows of {campaign.name} will be sent on the next run")
