"""The sending rules at the moment of sending: late runs, quiet hours, the next allowed moment.

Every run here goes through ``run_period`` and the file outbox; what reached the outbox is
checked against the customers' local clocks and the caps.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from campaigns.caps import Caps, violates
from campaigns.localtime import in_quiet_hours, wall
from campaigns.planning import summarize
from campaigns.send_rules import SendRules
from models.settings import get_settings
from tests.campaigns.conftest import add_customers, add_segment, campaign, ledger, run, weekly

QUIET = (21, 8)


ZONES = {
    "Europe/Berlin": ZoneInfo("Europe/Berlin"),
    "America/New_York": ZoneInfo("America/New_York"),
    "America/Los_Angeles": ZoneInfo("America/Los_Angeles"),
    "Asia/Tokyo": ZoneInfo("Asia/Tokyo"),
}


WORLD = list(ZONES)


def zones_of(engine: Engine) -> dict[int, ZoneInfo]:
    from sqlalchemy import select

    from models.store import Customer

    with engine.connect() as conn:
        return {
            i: ZoneInfo(z) for i, z in conn.execute(select(Customer.id, Customer.time_zone)).all()
        }


def assert_never_at_night(engine: Engine) -> None:
    zones = zones_of(engine)
    for row in ledger(engine):
        if row.status == "sent":
            assert not in_quiet_hours(row.sent_at, zones[row.customer_id], QUIET), (
                row.customer_id,
                row.sent_at.astimezone(zones[row.customer_id]),
            )


# --- a late run ------------------------------------------------------------------------------


def test_a_run_days_late_sends_nothing_past_the_lateness_limit(
    engine: Engine, outbox: Path
) -> None:
    ids = add_customers(engine, 8, time_zone=WORLD * 2)
    add_segment(engine, "vip", ids)
    saturday = datetime(2026, 11, 28, 6, tzinfo=UTC)  # Monday's period, five days late
    result = run(engine, weekly("news"), saturday, outbox, period="2026-W48")
    assert result.send.sent == 0 and not list(outbox.glob("*.eml"))
    data = result.as_dict()
    assert data["skipped"] == {"too_late": 8} and data["suppressed"] == {"too_late": 8}
    assert data["pending"] == 0 and data["next_send_at"] is None


def test_a_run_days_late_never_sends_in_anyones_night(engine: Engine, outbox: Path) -> None:
    """With a week's lateness allowed, Saturday 06:00 UTC is night everywhere but Tokyo."""
    ids = add_customers(engine, 8, time_zone=WORLD * 2)
    add_segment(engine, "vip", ids)
    news = weekly("news", extra="max_lateness: 168\n")
    saturday = datetime(2026, 11, 28, 6, tzinfo=UTC)
    result = run(engine, news, saturday, outbox, period="2026-W48")
    assert result.send.sent == 2  # Tokyo, 15:00
    assert result.as_dict()["deferred"] == {"quiet_hours": 6}
    assert_never_at_night(engine)
    # Each one waits for 08:00 on their own clock, inside the period.
    waiting = {r.customer_id: r.send_at for r in ledger(engine) if r.status == "planned"}
    zones = zones_of(engine)
    assert {c: t.astimezone(zones[c]).strftime("%a %H:%M") for c, t in waiting.items()} == {
        c: "Sat 08:00" for c in waiting
    }
    assert result.next_send_at == min(waiting.values())
    # The next waves, each at its moment, send them and nobody twice.
    for moment in sorted(set(waiting.values())):
        run(engine, news, moment, outbox, period="2026-W48")
    assert {r.status for r in ledger(engine)} == {"sent"}
    assert len(list(outbox.glob("*.eml"))) == 8
    assert_never_at_night(engine)


def test_a_run_a_little_late_defers_the_night_to_the_morning(engine: Engine, outbox: Path) -> None:
    ids = add_customers(engine, 4, time_zone=["Europe/Berlin", "America/New_York"] * 2)
    add_segment(engine, "vip", ids)
    news = weekly("evening", hour=18, extra="max_lateness: 24\n")  # 18:00 local
    # Tuesday 01:30 in Berlin (its 18:00 was 7.5 h ago), Monday 19:30 in New York.
    late = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
    result = run(engine, news, late, outbox, period="2026-W48")
    rows = {r.customer_id: r for r in ledger(engine)}
    assert result.send.sent == 2 and {rows[i].status for i in (2, 4)} == {"sent"}
    assert rows[2].sent_at == late
    morning = datetime(2026, 11, 24, 7, tzinfo=UTC)  # 08:00 in Berlin
    assert [(rows[i].status, rows[i].send_at) for i in (1, 3)] == [("planned", morning)] * 2
    assert result.as_dict()["deferred"] == {"quiet_hours": 2}
    assert result.next_send_at == morning
    later = run(engine, news, morning, outbox, period="2026-W48")
    assert later.send.sent == 2 and later.pending == 0
    assert_never_at_night(engine)


def test_quiet_hours_with_no_morning_left_before_the_limit_skip(
    engine: Engine, outbox: Path
) -> None:
    ids = add_customers(engine, 2)  # Berlin
    add_segment(engine, "vip", ids)
    news = weekly("evening", hour=20)  # 20:00 local; the limit is 02:00
    result = run(engine, news, datetime(2026, 11, 23, 20, 30, tzinfo=UTC), outbox)
    assert result.send.sent == 0
    assert result.as_dict()["skipped"] == {"quiet_hours": 2}
    assert {(r.status, r.reason) for r in ledger(engine)} == {("suppressed", "quiet_hours")}


def test_the_plan_says_what_a_run_now_would_do(engine: Engine) -> None:
    from campaigns.cadence import period_from_key

    ids = add_customers(engine, 8, time_zone=WORLD * 2)
    add_segment(engine, "vip", ids)
    news = weekly("news", extra="max_lateness: 30\n")
    period = period_from_key(news, "2026-W48")  # type: ignore[arg-type]
    # Each wave is Monday 10:00 on its own clock: Tokyo 01:00 UTC, Berlin 09:00 UTC,
    # New York 15:00 UTC, Los Angeles 18:00 UTC.
    waves = {name: wall(date(2026, 11, 23), 10, 0, tz) for name, tz in ZONES.items()}
    assert waves["Asia/Tokyo"] == datetime(2026, 11, 23, 1, tzinfo=UTC)
    assert waves["America/Los_Angeles"] == datetime(2026, 11, 23, 18, tzinfo=UTC)
    # Monday 17:00 UTC: 02:00 on Tuesday in Tokyo (quiet), 18:00 in Berlin, 12:00 in New York;
    # Los Angeles' wave has not come yet.
    now = datetime(2026, 11, 23, 17, tzinfo=UTC)
    assert sorted(name for name, wave in waves.items() if wave <= now) == [
        "America/New_York",
        "Asia/Tokyo",
        "Europe/Berlin",
    ]
    plan = summarize(engine, campaign=news, period=period, now=now).as_dict()  # type: ignore[arg-type]
    assert plan["planned"] == 8 and plan["due_now"] == 6
    assert plan["if_sent_now"] == {"send": 4, "deferred": {"quiet_hours": 2}, "skipped": {}}
    # Tuesday 17:00 UTC: more than 30 hours after the waves of Tokyo and Berlin only.
    later_now = datetime(2026, 11, 24, 17, tzinfo=UTC)
    late = [name for name, wave in waves.items() if later_now - wave > timedelta(hours=30)]
    assert sorted(late) == ["Asia/Tokyo", "Europe/Berlin"]
    later = summarize(
        engine,
        campaign=news,  # type: ignore[arg-type]
        period=period,
        now=later_now,
    )
    assert later.as_dict()["if_sent_now"]["skipped"] == {"too_late": 4}
    assert ledger(engine) == []  # still a dry run


# --- the provider's moment -------------------------------------------------------------------


def test_sent_at_is_when_the_provider_took_the_message(engine: Engine, outbox: Path) -> None:
    ids = add_customers(engine, 3, time_zone="Etc/UTC")
    add_segment(engine, "vip", ids, as_of=datetime.now(UTC).date())
    hourly = campaign(  # everyone at the period's start: due as soon as the hour begins
        "name: hourly\nkind: newsletter\nsegments: [vip]\n"
        'cadence: {cron: "0 * * * *", time_zone: UTC}\nquiet_hours: {start: 0, end: 0}\n'
        "local_time: false\n"
    )
    before = datetime.now(UTC)
    result = run(engine, hourly, None, outbox, batch_size=1)  # on the clock
    after = datetime.now(UTC)
    assert result.send.sent == 3
    times = sorted(r.sent_at for r in ledger(engine))
    assert before <= result.now <= times[0] and times[-1] <= after
    assert times[0] < times[-1]  # one moment per message, not the run's


# --- the rule's search for the next allowed moment -------------------------------------------


T0 = datetime(2026, 11, 23, tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(
    existing=st.lists(st.integers(0, 4 * 24 * 60), max_size=4),
    at=st.integers(0, 3 * 24 * 60),
    zone_name=st.sampled_from(WORLD),
    count=st.integers(1, 3),
    gap=st.integers(0, 20),
)
def test_the_next_allowed_moment_is_the_first_one(
    existing: list[int], at: int, zone_name: str, count: int, gap: int
) -> None:
    """Against a minute-by-minute scan: not quiet, no cap broken, nothing earlier allowed."""
    rules = SendRules(weekly("news"), get_settings())  # type: ignore[arg-type]
    assert rules.quiet == QUIET
    caps: list[Caps | None] = [Caps(count, 2, gap)]
    times = [T0 + timedelta(minutes=m) for m in existing]
    start = T0 + timedelta(minutes=at)
    limit = start + timedelta(days=2)
    tz = ZONES[zone_name]
    found = rules.next_allowed(start, tz, times, caps, limit)
    scan = (start + timedelta(minutes=m) for m in itertools.count())
    expected = next(
        (
            m
            for m in itertools.takewhile(lambda m: m < limit, scan)
            if not in_quiet_hours(m, tz, QUIET) and not violates(times, m, caps[0])  # type: ignore[arg-type]
        ),
        None,
    )
    assert found == expected
