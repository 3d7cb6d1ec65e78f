"""Customers who respond to messages, with the true effect the reports should recover.

The synthetic history is drawn before any message exists, so on its own nobody ever
answers a campaign and no report can show that it finds an effect that is there. This
module closes the loop: given the customers a campaign period was sent to (and its
hold-out, which gets nothing), each recipient places one extra *response order* with a
probability that depends on the campaign's kind and the customer's RFM segment at send
time (:data:`EFFECTS`), some time within :data:`RESPONSE_DAYS` after the message.
Newsletters have no effect at all, so a report that flags one is wrong.

**The true effect** of a campaign period (or variant) on conversion, the quantity the
report's uplift estimates, is the mean over its recipients of

    e_i · (1 − c_i) · s_i

where ``e_i`` is the customer's response probability, ``c_i`` whether the customer has
another counted order within the attribution window (natural, or a response to another
campaign: a response only changes conversion for someone who would not have converted),
and ``s_i`` the share of the response span that falls before the end of the history
(a response after the end never happens). This is the average effect on the treated of
this very sample; the hold-out, chosen at random, estimates the customers' conversion
without the message.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from synthetic.localtime import DAY
from synthetic.markets import CATEGORIES
from synthetic.purchases import CURRENCY
from synthetic.world import World, pick

RESPONSE_DAYS = 3.0
ANY = "*"
# Probability of a response order after one message, by campaign kind and RFM segment
# (ANY: every other segment). Kinds not listed have no effect. Larger than real campaigns
# usually achieve, so that the demo's small hold-outs (a tenth of a few hundred) can find
# them; the point is to check the measurement, not to forecast a store.
EFFECTS: dict[str, dict[str, float]] = {
    "newsletter": {ANY: 0.0},
    "winback": {
        "at_risk": 0.25,
        "cant_lose": 0.25,
        "about_to_sleep": 0.15,
        "hibernating": 0.10,
        ANY: 0.08,
    },
    "promotion": {"potential_loyalists": 0.20, "promising": 0.20, ANY: 0.15},
}


@dataclass(frozen=True)
class Recipient:
    """One customer a campaign period was sent to, as the ledger has it."""

    customer: str  # external customer id
    campaign: str
    period: str
    variant: str | None
    kind: str
    segment: str | None  # RFM segment at send time
    sent_at: float  # epoch seconds of the first message of the period


def effect(kind: str, segment: str | None) -> float:
    """The response probability of a customer in ``segment`` to a message of ``kind``."""
    table = EFFECTS.get(kind, {})
    return table.get(segment or ANY, table.get(ANY, 0.0))


def respond(
    recipients: Sequence[Recipient],
    orders: Mapping[str, Iterable[float]],
    *,
    seed: int,
    end_s: float,
    window_days: float,
) -> tuple[list[tuple[str, ...]], list[dict[str, object]]]:
    """Response order lines (``orders.csv`` rows) and the true effect per comparison.

    ``orders`` gives each recipient's counted order times (epoch seconds) in the history;
    ``end_s`` is where the history ends. Comparisons are each campaign period as a whole
    (variant ``"all"``) and each named variant, as the campaign report shows them.
    """
    rng = np.random.default_rng([seed, 0x5E5])
    ordered = sorted(recipients, key=lambda r: (r.sent_at, r.campaign, r.period, r.customer))
    e = np.array([effect(r.kind, r.segment) for r in ordered])
    t0 = np.array([r.sent_at for r in ordered])
    at = t0 + rng.uniform(0.0, RESPONSE_DAYS * DAY, len(ordered))
    responds = (rng.random(len(ordered)) < e) & (at < end_s)
    times: dict[str, list[float]] = defaultdict(list)
    for customer in {r.customer for r in ordered}:
        times[customer] = sorted(orders.get(customer, ()))
    for k in np.flatnonzero(responds):
        bisect.insort(times[ordered[k].customer], float(at[k]))
    window = window_days * DAY
    within = np.clip((end_s - t0) / (RESPONSE_DAYS * DAY), 0.0, 1.0)
    truth: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for i, r in enumerate(ordered):
        own = float(at[i]) if responds[i] else None
        other = _converts(times[r.customer], t0[i], t0[i] + window, skip=own)
        value = float(e[i] * (1.0 - other) * within[i])
        truth[(r.campaign, r.period, "all")].append(value)
        if r.variant is not None:
            truth[(r.campaign, r.period, r.variant)].append(value)
    rows = _order_rows(rng, [ordered[i] for i in np.flatnonzero(responds)], at[responds])
    comparisons = [
        {
            "campaign": c,
            "period": p,
            "variant": v,
            "recipients": len(values),
            "true_uplift": float(np.mean(values)),
        }
        for (c, p, v), values in sorted(truth.items())
    ]
    return rows, comparisons


def _converts(times: list[float], start: float, stop: float, *, skip: float | None) -> bool:
    """Is there an order in ``(start, stop]`` other than ``skip``?"""
    lo = bisect.bisect_right(times, start)
    hi = bisect.bisect_right(times, stop)
    found = hi - lo
    if skip is not None and start < skip <= stop:
        found -= 1
    return found > 0


def _order_rows(
    rng: np.random.Generator, responders: list[Recipient], at: np.ndarray
) -> list[tuple[str, ...]]:
    """One line per response order, a product of a popular category at its list price."""
    world = World(0.0, DAY, 1.0)
    category = pick(rng, world.category_weight, len(responders))
    rows: list[tuple[str, ...]] = []
    for n, (r, cat, when) in enumerate(zip(responders, category, at, strict=True), 1):
        product = int(rng.integers(0, world.n_products[cat]))
        rows.append(
            (
                f"R{n:09d}",
                r.customer,
                datetime.fromtimestamp(float(when), UTC).isoformat(timespec="seconds"),
                world.sku[cat][product],
                world.product[cat][product],
                CATEGORIES[cat].name,
                "1",
                f"{world.price[cat, product]:.2f}",
                CURRENCY,
                "order",
                "",
            )
        )
    return rows
