"""Response orders: drawn at the stated rates, in the stated span, with the true effect."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import numpy as np
from scipy.stats import binom

from synthetic.localtime import DAY
from synthetic.output import HEADERS
from synthetic.response import EFFECTS, RESPONSE_DAYS, Recipient, effect, respond

T0 = 1_780_000_000.0
END = T0 + 30 * DAY


def _recipients(n: int, kind: str, segment: str | None, *, at: float = T0) -> list[Recipient]:
    return [
        Recipient(f"{kind}-{segment}-{i}", f"{kind}_c", "p1", None, kind, segment, at)
        for i in range(n)
    ]


def test_each_recipient_responds_at_the_rate_of_their_kind_and_segment() -> None:
    groups = [("winback", "at_risk"), ("winback", "champions"), ("promotion", None)]
    people = [r for kind, seg in groups for r in _recipients(4000, kind, seg)]
    rows, _ = respond(people, {}, seed=1, end_s=END, window_days=7)
    buyers = {(row[1]) for row in rows}
    for kind, seg in groups:
        n = sum(1 for r in people if r.kind == kind and r.segment == seg)
        k = sum(1 for r in people if r.kind == kind and r.segment == seg and r.customer in buyers)
        e = EFFECTS[kind].get(seg or "*", EFFECTS[kind]["*"])
        assert binom.ppf(0.0005, n, e) <= k <= binom.ppf(0.9995, n, e), (kind, seg, k / n)
    assert effect("newsletter", "champions") == 0.0 and effect("unknown_kind", None) == 0.0


def test_response_orders_are_lines_ingest_reads_within_the_span_and_the_history() -> None:
    late = END - DAY  # a third of the span falls after the end of the history
    people = _recipients(3000, "winback", "at_risk", at=late)
    rows, truth = respond(people, {}, seed=2, end_s=END, window_days=7)
    assert rows and all(len(row) == len(HEADERS["orders"]) for row in rows)
    times = [datetime.fromisoformat(row[2]).timestamp() for row in rows]
    assert all(late <= t < END for t in times)
    assert len({row[0] for row in rows}) == len(rows)  # one order each
    text = io.StringIO()
    csv.writer(text).writerows([HEADERS["orders"], *rows])
    assert next(csv.DictReader(io.StringIO(text.getvalue())))["type"] == "order"
    # The true effect counts only the part of the span inside the history.
    [whole] = [t for t in truth if t["variant"] == "all"]
    assert whole["true_uplift"] == np.float64(EFFECTS["winback"]["at_risk"]) * DAY / (
        RESPONSE_DAYS * DAY
    )


def test_true_effect_leaves_out_customers_who_convert_anyway() -> None:
    """A response changes conversion only for a customer with no other order in the window."""
    people = [
        Recipient("A", "w", "p", "a", "winback", "at_risk", T0),
        Recipient("B", "w", "p", "b", "winback", "at_risk", T0),
        Recipient("C", "w", "p", "b", "winback", "hibernating", T0),
    ]
    orders = {"A": [T0 + 2 * DAY], "C": [T0 + 8 * DAY, T0 - DAY]}  # only A's is in the window
    _, truth = respond(people, orders, seed=3, end_s=END, window_days=7)
    got = {t["variant"]: t["true_uplift"] for t in truth}
    at_risk, hibernating = EFFECTS["winback"]["at_risk"], EFFECTS["winback"]["hibernating"]
    assert got["a"] == 0.0
    assert got["b"] == (at_risk + hibernating) / 2
    assert got["all"] == (at_risk + hibernating) / 3


def test_the_same_seed_draws_the_same_responses() -> None:
    people = _recipients(500, "promotion", "promising")
    first = respond(people, {}, seed=9, end_s=END, window_days=7)
    assert respond(list(reversed(people)), {}, seed=9, end_s=END, window_days=7) == first
    assert respond(people, {}, seed=10, end_s=END, window_days=7) != first
