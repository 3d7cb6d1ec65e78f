"""Audience planning on both backends: reasons, hold-out, variants, caps and priority."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, select

from campaigns.cadence import period_from_key
from campaigns.localtime import FIRST_ZONE, wall
from campaigns.planning import summarize
from models.campaigns import Message
from models.store import Customer, Device
from models.surveys import ContactPreference
from tests.campaigns.conftest import (
    add_customers,
    add_devices,
    add_segment,
    campaign,
    ledger,
    open_ticket,
    set_consent,
)

NOW = datetime(2026, 11, 23, 8, tzinfo=UTC)  # before Monday 10:00 in Berlin


def weekly(name: str, *, kind: str = "newsletter", extra: str = "", day: str = "monday") -> object:
    return campaign(
        f"name: {name}\nkind: {kind}\nchannel: email\nsegments:\n  include: [vip]\n"
        f"  exclude: [blocked]\n"
        f"cadence: {{every: weekly, day: {day}, hour: 10, time_zone: Europe/Berlin}}\n{extra}"
    )


def count_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Message)).scalar_one()


def test_every_reason_and_a_dry_run_writes_nothing(engine: Engine) -> None:
    ids = add_customers(engine, 9)
    with engine.begin() as conn:
        conn.execute(Customer.__table__.update().where(Customer.id == 6).values(email=None))
    from models.store import Consent

    with engine.begin() as conn:
        conn.execute(Consent.__table__.delete().where(Consent.customer_id == 2))
    set_consent(engine, 3, "unsubscribed")
    set_consent(engine, 4, "bounced")
    set_consent(engine, 5, "complained")
    open_ticket(engine, 7)
    add_segment(engine, "vip", ids)
    add_segment(engine, "blocked", [8])
    c = weekly("news")
    period = period_from_key(c, "2026-W48")

    plan = summarize(engine, campaign=c, period=period, now=NOW)
    assert count_rows(engine) == 0  # a dry run writes nothing
    assert plan.planned == 2  # customers 1 and 9
    assert dict(plan.suppressed) == {
        "no_consent": 1,
        "unsubscribed": 1,
        "bounced": 1,
        "complained": 1,
        "no_address": 1,
        "open_ticket": 1,
    }
    assert plan.audience == 8  # customer 8 is excluded by segment
    assert plan.sample["planned"] == [1, 9]

    # A review request does not sell: an open ticket does not hold it back.
    review = summarize(
        engine, campaign=weekly("review", kind="review_request"), period=period, now=NOW
    )
    assert review.planned == 3

    # Recorded, then planned again: nobody is recorded twice; sent rows say so.
    summarize(engine, campaign=c, period=period, now=NOW, record=True)
    assert count_rows(engine) == 8
    with engine.begin() as conn:
        conn.execute(
            Message.__table__.update()
            .where(Message.customer_id == 1)
            .values(status="sent", sent_at=NOW)
        )
    again = summarize(engine, campaign=c, period=period, now=NOW, record=True)
    assert count_rows(engine) == 8
    assert again.suppressed["already_sent_this_period"] == 1
    assert again.already_recorded == 8


def test_push_needs_an_enabled_device(engine: Engine) -> None:
    ids = add_customers(engine, 3, channel="push")
    add_devices(engine, [1, 2])
    with engine.begin() as conn:
        conn.execute(Device.__table__.update().where(Device.customer_id == 2).values(enabled=False))
    add_segment(engine, "vip", ids)
    add_segment(engine, "blocked", [])
    c = campaign(
        "name: app\nkind: replenishment\nchannel: push\nsegments: [vip]\n"
        "cadence: {every: monthly, day: 1, hour: 9, time_zone: UTC}\n"
    )
    plan = summarize(engine, campaign=c, period=period_from_key(c, "2026-12"), now=NOW)
    assert plan.planned == 1 and dict(plan.suppressed) == {"no_device": 2}


def test_hold_out_is_stable_and_near_its_share(engine: Engine) -> None:
    ids = add_customers(engine, 3000)
    add_segment(engine, "vip", ids)
    add_segment(engine, "blocked", [])
    c = weekly(
        "news", extra="holdout: 10\nvariants: [{name: a, weight: 70}, {name: b, weight: 30}]\n"
    )
    held = []
    for key in ("2026-W48", "2026-W49"):
        summarize(engine, campaign=c, period=period_from_key(c, key), now=NOW, record=True)
        with engine.connect() as conn:
            held.append(
                set(
                    conn.execute(
                        select(Message.customer_id).where(
                            Message.period == key, Message.status == "held_out"
                        )
                    ).scalars()
                )
            )
    assert held[0] == held[1]  # the same control group in every period
    # Independently: sha256 of (campaign, customer) below 10 % of the range.
    expected = {
        i
        for i in ids
        if int.from_bytes(hashlib.sha256(f"holdout:news:{i}".encode()).digest()[:8], "big")
        < 0.10 * 2**64
    }
    assert held[0] == expected
    n, p = len(ids), 0.10
    assert abs(len(expected) - n * p) < 4 * math.sqrt(n * p * (1 - p))
    # The hold-out keeps the send time it would have had (its attribution starts there):
    # customers in one time zone all share it, sent or held out.
    with engine.connect() as conn:
        times = conn.execute(
            select(
                Message.status, func.count(), func.min(Message.send_at), func.max(Message.send_at)
            )
            .where(Message.period == "2026-W48", Message.status.in_(("planned", "held_out")))
            .group_by(Message.status)
        ).all()
    by_status = {status: (n, lo, hi) for status, n, lo, hi in times}
    assert by_status["held_out"][0] == len(expected)
    assert by_status["held_out"][1:] == by_status["planned"][1:]
    # Another campaign holds out other customers.
    other = weekly("other", extra="holdout: 10\n")
    plan = summarize(engine, campaign=other, period=period_from_key(other, "2026-W48"), now=NOW)
    assert plan.held_out > 0 and set(plan.sample.get("held_out", [])) != set(sorted(held[0])[:5])
    # Variants split the planned customers about 70/30.
    rows = [r for r in ledger(engine, "news") if r.period == "2026-W48" and r.status == "planned"]
    split = Counter(r.variant for r in rows)
    assert abs(split["a"] / len(rows) - 0.7) < 4 * math.sqrt(0.21 / len(rows))


def test_send_times_follow_each_time_zone(engine: Engine) -> None:
    zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Not/AZone"]
    ids = add_customers(engine, 4, time_zone=zones)
    add_segment(engine, "vip", ids)
    add_segment(engine, "blocked", [])
    c = weekly("news")
    period = period_from_key(c, "2026-W48")
    assert period.starts_at == datetime(2026, 11, 22, 20, tzinfo=UTC)  # Monday 10:00, UTC+14
    summarize(engine, campaign=c, period=period, now=NOW, record=True)
    send_at = {r.customer_id: r.send_at for r in ledger(engine)}
    # Monday 10:00 on each clock, Tokyo's too (it comes first, on Monday at 01:00 UTC).
    assert send_at[1] == datetime(2026, 11, 23, 9, tzinfo=UTC)  # 10:00 Berlin (UTC+1)
    assert send_at[2] == datetime(2026, 11, 23, 15, tzinfo=UTC)  # 10:00 New York (UTC-5)
    assert send_at[3] == datetime(2026, 11, 23, 1, tzinfo=UTC)  # 10:00 Tokyo (UTC+9)
    # An unknown zone is the store's default (UTC here).
    assert send_at[4] == datetime(2026, 11, 23, 10, tzinfo=UTC)
    # Without local time everyone gets it at the period's start, Monday 10:00 in Berlin
    # (a loose cap: the same customers were just planned by the other campaign).
    loose = "caps: {count: 5, days: 7, min_gap_hours: 0}\n"
    fixed = weekly("fixed", extra="local_time: false\n" + loose)
    summarize(
        engine, campaign=fixed, period=period_from_key(fixed, "2026-W48"), now=NOW, record=True
    )
    fixed_at = {r.customer_id: r.send_at for r in ledger(engine, "fixed")}
    assert fixed_at[1] == fixed_at[3] == fixed_at[4] == datetime(2026, 11, 23, 9, tzinfo=UTC)
    # 04:00 in New York is quiet: its 08:00.
    assert fixed_at[2] == datetime(2026, 11, 23, 13, tzinfo=UTC)


# The marketers' case: "Tuesday 10:00" written in London must be Tuesday 10:00 for everyone,
# not Wednesday for those east of London. West to east, with November's offsets.
WORLD = {
    "America/Los_Angeles": -8,
    "America/Denver": -7,
    "America/Chicago": -6,
    "America/New_York": -5,
    "America/Sao_Paulo": -3,
    "Europe/London": 0,
    "Europe/Berlin": 1,
    "Europe/Athens": 2,
    "Europe/Moscow": 3,
    "Asia/Dubai": 4,
    "Asia/Kolkata": 5.5,
    "Asia/Shanghai": 8,
    "Asia/Tokyo": 9,
    "Australia/Sydney": 11,
    "Pacific/Auckland": 13,
}


def test_tuesday_in_london_is_tuesday_on_every_recipients_clock(engine: Engine) -> None:
    ids = add_customers(engine, len(WORLD), time_zone=list(WORLD))
    zone_of = dict(zip(ids, WORLD, strict=True))
    add_segment(engine, "vip", ids)
    add_segment(engine, "blocked", [])
    c = campaign(
        "name: tuesday\nkind: newsletter\nsegments: [vip]\n"
        "cadence: {every: weekly, day: tuesday, hour: 10, time_zone: Europe/London}\n"
        "local_time: true\n"
    )
    period = period_from_key(c, "2026-W48")
    tuesday = date(2026, 11, 24)
    # The period starts at Tuesday 10:00 in UTC+14, Monday 20:00 UTC, before anyone's.
    assert period.starts_at == wall(tuesday, 10, 0, ZoneInfo(FIRST_ZONE))
    assert period.starts_at == datetime(2026, 11, 23, 20, tzinfo=UTC)
    plan = summarize(engine, campaign=c, period=period, now=period.starts_at, record=True)
    assert plan.planned == len(WORLD)
    rows = ledger(engine, "tuesday")
    assert len(rows) == len(WORLD) and {r.status for r in rows} == {"planned"}
    for row in rows:
        name = zone_of[row.customer_id]
        shown = row.send_at.astimezone(ZoneInfo(name))
        assert shown.strftime("%A %Y-%m-%d %H:%M") == "Tuesday 2026-11-24 10:00", name
        # The same instant from the zone's offset alone: 10:00 minus the offset, in UTC.
        expected = datetime(2026, 11, 24, 10, tzinfo=UTC) - timedelta(hours=WORLD[name])
        assert row.send_at == expected, name
        assert period.starts_at <= row.send_at < period.ends_at


def _messages(
    engine: Engine,
    customer_ids: list[int],
    *,
    campaign: str,
    at: datetime,
    status: str,
    priority: int = 50,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Message),
            [
                {
                    "campaign": campaign,
                    "period": "x",
                    "customer_id": i,
                    "channel": "email",
                    "kind": "promotion",
                    "status": status,
                    "send_at": at,
                    "sent_at": at if status == "sent" else None,
                    "priority": priority,
                }
                for i in customer_ids
            ],
        )


def test_the_cap_holds_across_campaigns(engine: Engine) -> None:
    ids = add_customers(engine, 4)
    add_segment(engine, "vip", ids)
    add_segment(engine, "blocked", [])
    monday_10 = datetime(2026, 11, 23, 9, tzinfo=UTC)
    # 1: nothing before. 2: one message two days ago. 3: two this week. 4: one 10 hours before.
    _messages(engine, [2, 3], campaign="earlier", at=monday_10 - timedelta(days=2), status="sent")
    _messages(engine, [3], campaign="earlier2", at=monday_10 - timedelta(days=3), status="sent")
    _messages(engine, [4], campaign="earlier3", at=monday_10 - timedelta(hours=10), status="sent")
    c = weekly("news")
    plan = summarize(engine, campaign=c, period=period_from_key(c, "2026-W48"), now=NOW)
    assert plan.planned == 2 and dict(plan.suppressed) == {"frequency_cap": 2}
    assert plan.sample["frequency_cap"] == [3, 4]
    # A customer's own choice (one a month) is stricter than the store's cap.
    with engine.begin() as conn:
        conn.execute(insert(ContactPreference), [{"customer_id": 2, "frequency": "monthly"}])
    plan = summarize(engine, campaign=c, period=period_from_key(c, "2026-W48"), now=NOW)
    assert plan.sample["frequency_cap"] == [2, 3, 4]
    # Per-campaign caps override the store's.
    loose = weekly("loose", extra="caps: {count: 5, days: 7, min_gap_hours: 0}\n")
    plan = summarize(engine, campaign=loose, period=period_from_key(loose, "2026-W48"), now=NOW)
    assert plan.sample["frequency_cap"] == [2]  # only the customer's own limit is left


def test_higher_priority_wins_and_the_loser_says_so(engine: Engine) -> None:
    ids = add_customers(engine, 3)
    add_segment(engine, "vip", ids)
    add_segment(engine, "blocked", [])
    monday_10 = datetime(2026, 11, 23, 9, tzinfo=UTC)
    # Everyone already had one message this week; one slot is left.
    _messages(engine, ids, campaign="earlier", at=monday_10 - timedelta(days=2), status="sent")
    low = weekly("low", kind="promotion", extra="priority: 10\n", day="tuesday")
    high = weekly("high", kind="winback", extra="priority: 90\n", day="wednesday")
    lowest = weekly("lowest", kind="cross_sell", extra="priority: 5\n", day="thursday")

    first = summarize(
        engine, campaign=low, period=period_from_key(low, "2026-W48"), now=NOW, record=True
    )
    assert first.planned == 3
    # Customer 3's low-priority message goes out before the high one is planned.
    with engine.begin() as conn:
        conn.execute(
            Message.__table__.update()
            .where(Message.campaign == "low", Message.customer_id == 3)
            .values(status="sent", sent_at=datetime(2026, 11, 24, 9, tzinfo=UTC))
        )
    dry = summarize(engine, campaign=high, period=period_from_key(high, "2026-W48"), now=NOW)
    assert dry.planned == 2 and dry.preempts == 2 and dict(dry.suppressed) == {"frequency_cap": 1}
    assert count_rows(engine) == 6  # the dry run preempted nobody

    summarize(engine, campaign=high, period=period_from_key(high, "2026-W48"), now=NOW, record=True)
    rows = {(r.campaign, r.customer_id): r for r in ledger(engine)}
    assert rows[("low", 1)].status == rows[("low", 2)].status == "suppressed"
    assert rows[("low", 1)].reason == "lower_priority"
    assert rows[("low", 3)].status == "sent"
    assert rows[("high", 1)].status == rows[("high", 2)].status == "planned"
    assert (rows[("high", 3)].status, rows[("high", 3)].reason) == ("suppressed", "frequency_cap")

    # A lower-priority campaign planned later is told why it lost.
    late = summarize(engine, campaign=lowest, period=period_from_key(lowest, "2026-W48"), now=NOW)
    assert dict(late.suppressed) == {"lower_priority": 2, "frequency_cap": 1}
