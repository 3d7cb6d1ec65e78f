"""``homecoming surveys``: send the due triggered surveys, list them, and show their results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from cli.output import console, database_errors, err_console, fail, print_json, table

if TYPE_CHECKING:
    from analytics.surveys import SurveyDefinition

app = typer.Typer(
    help="Triggered CSAT, NPS and feedback surveys: send what is due, list, results.",
    no_args_is_help=True,
)
JSON = typer.Option(False, "--json", help="Print JSON for scripts")


def parse_time(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 timestamp; one without a zone is taken as UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise fail(
            f"{option} {text!r} is not a timestamp; use ISO 8601, e.g. 2026-04-06T09:00:00+00:00"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@app.command("send")
def send(
    now: str | None = typer.Option(
        None, "--now", help="Act as of this time (ISO 8601; default the clock)"
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="On a campaign's first run, plan triggers due from this time (default: its look-back)",
    ),
    json_out: bool = JSON,
) -> None:
    """Plan every due trigger (delivery, resolved ticket) once, then send what is due.

    Safe to run as often as wanted, also twice at once: a trigger is surveyed at most once,
    and a customer at most once per HOMECOMING_SURVEY_CAP_DAYS.
    """
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from campaigns.surveys import SurveyError, send_due_surveys
    from flows.throttle import rate_limiter
    from models.db import get_engine

    moment, first = parse_time(now, "--now"), parse_time(since, "--since")
    try:
        with database_errors():
            result = send_due_surveys(
                get_engine(), now=moment, since=first, throttle=rate_limiter()
            )
    except SurveyError as exc:
        raise fail(str(exc)) from None
    if json_out:
        print_json(result)
    else:
        rows = [
            (
                name,
                c["kind"],
                c["triggers"],
                c["planned"],
                ", ".join(f"{k} {v}" for k, v in c["suppressed"].items()) or "-",
                c.get("sent", 0),
                c.get("failed", 0),
            )
            for name, c in result["campaigns"].items()
        ]
        console.print(
            table(
                f"Surveys as of {result['now']}",
                ["survey", "kind", "triggers", "planned", "suppressed", "sent", "failed"],
                rows,
            )
        )
        console.print(f"sent {result['sent']}, failed {result['failed']}")
    for error in result["errors"]:
        err_console.print(f"[yellow]skipped:[/] {error}", highlight=False)
    if result["failed"]:
        raise typer.Exit(1)


@app.command("list")
def list_cmd(json_out: bool = JSON) -> None:
    """Every triggered survey campaign: its trigger, delay and checkpoint."""
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from campaigns.survey_status import survey_status
    from models.db import get_engine

    with database_errors():
        data, errors = survey_status(get_engine())
    if json_out:
        print_json({"surveys": data, "errors": errors})
        return
    console.print(
        table(
            "Triggered surveys",
            ["name", "kind", "channel", "after", "delay", "priority", "checked until"],
            [list(d.values()) for d in data],
        )
    )
    for error in errors:
        err_console.print(f"[yellow]skipped:[/] {error}", highlight=False)


@app.command("results")
def results(json_out: bool = JSON) -> None:
    """Per survey: messages sent, answers, CSAT (share of 4-5 answers) or NPS, and the
    count and share of each choice of a feedback survey.

    Every survey defined in the campaign definitions is listed with its kind, also before
    its first answer. Rates over fewer than the minimum base show n/a (JSON null) and the
    reason in note; JSON numbers are unrounded fractions.
    """
    # imported on use: keeps `homecoming --help` fast, Prefect after cli.main's defaults
    from analytics.report import NOT_AVAILABLE, decimal_text
    from analytics.surveys import survey_results
    from models.db import get_engine

    with database_errors():
        data = survey_results(get_engine(), survey_definitions())
    if json_out:
        print_json({"surveys": data})
        return
    if not data:
        console.print("no surveys defined, sent or answered yet")
        return

    def share(value: float | None) -> str:
        return NOT_AVAILABLE if value is None else decimal_text(value, 1, scale=2)

    console.print(
        table(
            "Survey results",
            ["survey", "kind", "sent", "answers", "response %", "CSAT %", "NPS", "comments"],
            [
                (
                    d["survey"],
                    d["kind"] or NOT_AVAILABLE,
                    d["sent"],
                    d["answers"],
                    share(d["response_rate"]),
                    share(d["csat"]),
                    NOT_AVAILABLE if d["nps"] is None else decimal_text(d["nps"], 1, sign=True),
                    d["comments"],
                )
                for d in data
            ],
        )
    )
    for d in data:
        if "choice_breakdown" in d:
            console.print(
                table(
                    f"{d['survey']}: answers by choice",
                    ["choice", "answers", "share %"],
                    [(c["choice"], c["answers"], share(c["share"])) for c in d["choice_breakdown"]],
                )
            )
    for d in data:
        if d["note"]:
            console.print(f"[yellow]{d['survey']}:[/] {d['note']}", highlight=False)


def survey_definitions() -> dict[str, SurveyDefinition]:
    """{survey: SurveyDefinition} from the valid triggered campaign definitions that ask
    for an answer (the list command reports the invalid ones)."""
    from analytics.surveys import SurveyDefinition
    from campaigns.survey_triggers import triggered_campaigns
    from models.campaigns import ANSWER_KINDS

    campaigns, _ = triggered_campaigns()
    return {
        c.name: SurveyDefinition(ANSWER_KINDS[c.kind], c.survey_options.choices)
        for c in campaigns
        if c.kind in ANSWER_KINDS
    }
