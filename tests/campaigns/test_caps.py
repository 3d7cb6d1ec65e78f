"""The frequency cap as a sliding window, against a brute-force count over every window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.caps import Caps, cap_group, preference_caps, too_close, violates

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def hours(*values: float) -> list[datetime]:
    return [T0 + timedelta(hours=h) for h in values]


def brute_force(existing: list[int], moment: int, count: int, days: int, gap: int) -> bool:
    """Minutes as integers: try every window start minute that holds ``moment``."""
    span = days * 24 * 60
    if any(abs(t - moment) < gap * 60 for t in existing):
        return True
    everything = [*existing, moment]
    for start in range(moment - span + 1, moment + 1):
        if sum(1 for t in everything if start <= t < start + span) > count:
            return True
    return False


def test_two_per_week_and_sixteen_hours_apart() -> None:
    caps = Caps(2, 7, 16)
    assert not violates(hours(0), T0 + timedelta(hours=16), caps)
    assert violates(hours(0), T0 + timedelta(hours=15), caps)  # too close
    assert violates(hours(0, 48), T0 + timedelta(days=5), caps)  # a third in 7 days
    assert not violates(hours(0, 48), T0 + timedelta(days=7), caps)  # the first left the window
    # Messages planned for later count too: the window is two-sided.
    assert violates(hours(48, 96), T0, caps)


def test_too_close_tells_the_gap_from_the_count() -> None:
    """The send-time rules name the reason: ``min_gap`` for the gap, else the cap."""
    caps = Caps(2, 7, 16)
    assert too_close(hours(0), T0 + timedelta(hours=15), caps)
    assert too_close(hours(20), T0 + timedelta(hours=5), caps)  # a later message too
    full = hours(0, 48)
    assert violates(full, T0 + timedelta(days=5), caps)
    assert not too_close(full, T0 + timedelta(days=5), caps)
    assert not too_close(hours(0), T0 + timedelta(hours=1), Caps(2, 7, 0))


def test_groups_and_preferences() -> None:
    assert cap_group("promotion") == cap_group("newsletter") == "marketing"
    assert cap_group("csat_survey") == "survey"
    assert preference_caps("newsletter", "monthly") == Caps(1, 30, 0)
    assert preference_caps("csat_survey", "monthly") is None  # surveys keep their own cap
    assert preference_caps("newsletter", "normal") is None


@settings(max_examples=150, deadline=None)
@given(
    existing=st.lists(st.integers(0, 20 * 24 * 60), max_size=6),
    moment=st.integers(5 * 24 * 60, 15 * 24 * 60),
    count=st.integers(1, 3),
    days=st.integers(1, 4),
    gap=st.sampled_from([0, 16]),
)
def test_matches_a_brute_force_count(
    existing: list[int], moment: int, count: int, days: int, gap: int
) -> None:
    as_times = [T0 + timedelta(minutes=m) for m in existing]
    ours = violates(as_times, T0 + timedelta(minutes=moment), Caps(count, days, gap))
    assert ours == brute_force(existing, moment, count, days, gap)
