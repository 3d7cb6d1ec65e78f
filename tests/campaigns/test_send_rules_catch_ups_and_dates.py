"""The sending rules over several campaigns and days: catch-ups, campaign dates, the flow."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from campaigns.caps import Caps, violates
from campaigns.channels.outbox import OutboxTransport
from campaigns.send import send_due
from models.settings import get_settings
from tests.campaigns.conftest import (
    FakeRenderer,
    add_customers,
    add_segment,
    campaign,
    ledger,
    run,
    weekly,
)

# --- a catch-up of several campaigns ---------------------------------------------------------


def three() -> dict[str, object]:
    """Monday, Tuesday and Wednesday at 10:00 Berlin; the Tuesday one matters most."""
    limit = "max_lateness: 72\n"
    return {
        "a": campaign(
            "name: a\nkind: promotion\nsegments: [vip]\npriority: 20\n"
            "cadence: {every: weekly, day: monday, hour: 10, time_zone: Europe/Berlin}\n" + limit
        ),
        "b": campaign(
            "name: b\nkind: winback\nsegments: [vip]\npriority: 60\n"
            "cadence: {every: weekly, day: tuesday, hour: 10, time_zone: Europe/Berlin}\n" + limit
        ),
        "c": campaign(
            "name: c\nkind: cross_sell\nsegments: [vip]\npriority: 40\n"
            "cadence: {every: weekly, day: wednesday, hour: 10, time_zone: Europe/Berlin}\n" + limit
        ),
    }


def assert_caps_hold(engine: Engine) -> dict[int, frozenset[str]]:
    """No two messages closer than 16 h, at most 2 in any 7 days; campaigns per customer."""
    caps = Caps(2, 7, 16)
    sent: dict[int, list[tuple[datetime, str]]] = {}
    for r in ledger(engine):
        if r.status == "sent":
            sent.setdefault(r.customer_id, []).append((r.sent_at, r.campaign))
    for messages in sent.values():
        times = sorted(t for t, _ in messages)
        for i, moment in enumerate(times):
            assert not violates(times[:i] + times[i + 1 :], moment, caps), times
    return {c: frozenset(name for _, name in m) for c, m in sent.items()}


@pytest.mark.parametrize("order", ["abc", "cba"])
def test_a_catch_up_keeps_the_gap_the_cap_and_the_priority_of_a_timely_run(
    engine: Engine, outbox: Path, order: str
) -> None:
    ids = add_customers(engine, 6)
    add_segment(engine, "vip", ids)
    campaigns = three()
    # Plans were recorded on time (each an hour before its send time), then the workers
    # were down: nothing was sent. A timely run would have sent b (Tuesday) and c
    # (Wednesday); c took a's slot when it was planned (a is lower priority).
    for name, day in (("a", 23), ("b", 24), ("c", 25)):
        plan_at = datetime(2026, 11, day, 8, tzinfo=UTC)
        run(engine, campaigns[name], plan_at, outbox, period="2026-W48", send=False)
    assert {(r.campaign, r.status) for r in ledger(engine)} == {
        ("a", "suppressed"),
        ("b", "planned"),
        ("c", "planned"),
    }
    # The catch-up: each campaign run with the same late ``now``, Wednesday 13:00 Berlin.
    late = datetime(2026, 11, 25, 12, tzinfo=UTC)
    results = {n: run(engine, campaigns[n], late, outbox, period="2026-W48") for n in order}
    assert results["b"].send.sent == 6  # the higher priority goes first, whatever the order
    assert results["c"].send.sent == 0 and results["c"].as_dict()["deferred"] == {"min_gap": 6}
    assert_caps_hold(engine)
    # c waits for the gap (16 h after b), then for the morning: Thursday 08:00 Berlin.
    wave = results["c"].next_send_at
    assert wave == datetime(2026, 11, 26, 7, tzinfo=UTC)
    assert run(engine, campaigns["c"], wave, outbox, period="2026-W48").send.sent == 6
    assert set(assert_caps_hold(engine).values()) == {frozenset({"b", "c"})}
    assert len(list(outbox.glob("*.eml"))) == 12


def test_a_catch_up_that_plans_late_sends_no_two_messages_at_once(
    engine: Engine, outbox: Path
) -> None:
    ids = add_customers(engine, 6)
    add_segment(engine, "vip", ids)
    campaigns = three()
    late = datetime(2026, 11, 25, 12, tzinfo=UTC)
    results = {n: run(engine, campaigns[n], late, outbox, period="2026-W48") for n in "abc"}
    assert results["a"].send.sent == 6
    assert results["b"].send.sent == 0 and results["b"].as_dict()["deferred"] == {"min_gap": 6}
    assert results["c"].as_dict()["suppressed"] == {"frequency_cap": 6}
    run(engine, campaigns["b"], results["b"].next_send_at, outbox, period="2026-W48")
    # As a timely run: a on Monday, b on Tuesday, c capped; b is sent.
    assert set(assert_caps_hold(engine).values()) == {frozenset({"a", "b"})}


# --- the campaign's dates --------------------------------------------------------------------


def test_an_ended_campaign_sends_nothing_and_says_why(engine: Engine, outbox: Path) -> None:
    ids = add_customers(engine, 3)
    add_segment(engine, "vip", ids)
    autumn = campaign(
        "name: autumn\nkind: promotion\nsegments: [vip]\n"
        'cadence: {cron: "0 11 * * 6", time_zone: Europe/London}\n'
        "start: 2026-11-01\nend: 2026-11-30\n"
    )
    result = run(engine, autumn, datetime(2026, 12, 5, 12, tzinfo=UTC), outbox)
    assert result.inactive == "autumn ended on 2026-11-30"
    assert result.as_dict()["inactive"] == result.inactive and result.send.sent == 0
    assert ledger(engine) == [] and not list(outbox.glob("*.eml"))


def test_a_campaign_not_started_yet_does_nothing_without_failing(
    engine: Engine, outbox: Path
) -> None:
    ids = add_customers(engine, 3)
    add_segment(engine, "vip", ids)
    future = weekly("future", extra="start: 2027-01-04\n")
    result = run(engine, future, datetime(2026, 12, 5, 12, tzinfo=UTC), outbox)
    assert result.inactive == "future starts on 2027-01-04"
    # After its start date, before its first run (Monday 10:00 in UTC+14, 20:00 UTC).
    sunday = weekly("sunday_start", extra="start: 2026-11-22\n")
    early = run(engine, sunday, datetime(2026, 11, 22, 12, tzinfo=UTC), outbox)
    assert early.inactive is not None and "starts on 2026-11-22" in early.inactive
    assert ledger(engine) == []


def test_rows_due_after_the_end_are_skipped(engine: Engine, outbox: Path) -> None:
    ids = add_customers(engine, 2, time_zone=["Europe/Berlin", "Asia/Kolkata"])
    add_segment(engine, "vip", ids)
    # Everyone at Monday 20:00 in Berlin, the last day. In Kolkata that is 00:30 on Tuesday,
    # quiet until 08:00 there (02:30 UTC), after the end (Tuesday 00:00 in Berlin).
    last = weekly("last", hour=20, extra="end: 2026-11-23\nlocal_time: false\n")
    result = run(engine, last, datetime(2026, 11, 23, 19, 30, tzinfo=UTC), outbox)
    assert result.send.sent == 1 and result.pending == 0
    rows = {r.customer_id: r for r in ledger(engine)}
    assert rows[1].status == "sent"
    assert (rows[2].status, rows[2].reason) == ("suppressed", "campaign_ended")


def test_a_local_time_campaigns_last_day_is_every_recipients_own(
    engine: Engine, outbox: Path
) -> None:
    ids = add_customers(engine, 2, time_zone=["Asia/Tokyo", "America/New_York"])
    add_segment(engine, "vip", ids)
    last = weekly("last", extra="end: 2026-11-23\n")  # Monday 10:00 on each clock, the last day
    # Planned once the period has begun (Monday 10:00 in UTC+14, Sunday 20:00 UTC).
    run(engine, last, datetime(2026, 11, 22, 20, 30, tzinfo=UTC), outbox, send=False)
    assert {(r.customer_id, r.status) for r in ledger(engine)} == {(1, "planned"), (2, "planned")}
    # The day after the end on New York's clock (Tuesday 10:00), too late for anyone there.
    tuesday = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    report = send_due(
        engine,
        campaign="last",
        period="2026-W48",
        now=tuesday,
        transport=OutboxTransport(outbox, channel="email"),
        settings=get_settings(),
        renderer=FakeRenderer(),
        definition=last,
    )
    assert dict(report.suppressed) == {"campaign_ended": 2}


def test_sending_stops_at_the_end_date(engine: Engine, outbox: Path) -> None:
    """A row still planned when the campaign ends (a late wave) is skipped, not sent."""
    ids = add_customers(engine, 1)
    add_segment(engine, "vip", ids)
    last = weekly("last", extra="end: 2026-11-23\nmax_lateness: 48\n")
    monday = datetime(2026, 11, 23, 8, tzinfo=UTC)
    run(engine, last, monday, outbox, period="2026-W48", send=False)
    after_end = datetime(2026, 11, 24, 9, tzinfo=UTC)
    report = send_due(
        engine,
        campaign="last",
        period="2026-W48",
        now=after_end,
        transport=OutboxTransport(outbox, channel="email"),
        settings=get_settings(),
        renderer=FakeRenderer(),
        definition=last,
    )
    assert report.sent == 0 and dict(report.suppressed) == {"campaign_ended": 1}


# --- the flow --------------------------------------------------------------------------------


def test_the_flow_completes_for_an_ended_campaign_and_counts_deferrals(
    prefect_harness: None,
    engine: Engine,
    outbox: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.client.orchestration import get_client

    from flows.campaigns import campaign_period_flow

    name = f"rules_{engine.dialect.name}"  # artifacts live on the shared server
    folder = tmp_path / "definitions"
    (folder / "campaigns").mkdir(parents=True)
    (folder / "campaigns" / f"{name}.yaml").write_text(
        f"name: {name}\nkind: newsletter\nsegments: [vip]\nend: 2026-11-30\nmax_lateness: 24\n"
        "cadence: {every: weekly, day: monday, hour: 18, time_zone: Europe/Berlin}\n"
    )
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(folder))
    get_settings.cache_clear()
    monkeypatch.setattr("campaigns.render.default_renderer", FakeRenderer)
    ids = add_customers(engine, 4, time_zone=["Europe/Berlin", "America/New_York"] * 2)
    add_segment(engine, "vip", ids)

    ended = campaign_period_flow(campaign=name, now="2026-12-05T12:00:00+00:00")
    assert ended["inactive"] == f"{name} ended on 2026-11-30" and ended["sent"] == 0
    key = f"campaign-{name}".replace("_", "-")
    with get_client(sync_client=True) as client:
        latest = {a.key: a for a in client.read_latest_artifacts()}
    assert "ended on 2026-11-30" in str(latest[key].data)

    # A run 7.5 hours late: New York is sent, Berlin's night waits for the morning.
    late = campaign_period_flow(campaign=name, period="2026-W48", now="2026-11-24T00:30:00+00:00")
    assert (late["sent"], late["deferred"]) == (2, {"quiet_hours": 2})
    with get_client(sync_client=True) as client:
        latest = {a.key: a for a in client.read_latest_artifacts()}
    assert "deferred by this run: quiet_hours" in str(latest[key].data)


def test_the_artifact_counts_failed_deferred_and_skipped_by_reason() -> None:
    from collections import Counter

    from campaigns.planning import PlanSummary
    from campaigns.reconcile import ReconcileReport
    from campaigns.run import RunResult
    from campaigns.send import SendReport
    from flows.campaigns import artifact_rows

    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    send = SendReport(sent=5, failed=3, failures=Counter({"render": 2, "MessageRejected": 1}))
    send.deferred.update({"quiet_hours": 4, "min_gap": 1})
    send.suppressed.update({"too_late": 7})
    plan = PlanSummary("news", "2026-W48", now, now)
    result = RunResult("news", "2026-W48", now, plan, ReconcileReport(), send, already_sent=0)
    rows = {r["outcome"]: r["count"] for r in artifact_rows(result)}
    assert rows["failed in this run: render"] == 2
    assert rows["failed in this run: MessageRejected"] == 1
    assert rows["deferred by this run: quiet_hours"] == 4
    assert rows["deferred by this run: min_gap"] == 1
    assert rows["skipped by this run: too_late"] == 7
