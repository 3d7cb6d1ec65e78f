"""After the sale, for one chunk of the synthetic store: shipment events and support tickets.

Orders of the last two months get their shipment events (placed, confirmed, packed,
shipped, in transit, out for delivery, delivered), some with a delay and a new promised
day. Support tickets come a few per hundred orders, more after a delay or a return; their
response and resolution times depend on the channel, and a few are never resolved.
"""

from __future__ import annotations

import numpy as np

from synthetic.localtime import DAY, HOUR
from synthetic.output import CsvFiles
from synthetic.world import Episodes, Orders, World, pick

SHIPMENT_DAYS = 60  # shipment events are written for the last two months of orders
DELAYED = 0.08
CHANNELS = ("email", "chat", "phone", "social")
CHANNEL_SHARE = (0.45, 0.35, 0.12, 0.08)
# Per channel: median seconds to a first response and from it to resolution, mean extra touches.
FIRST_RESPONSE = np.array([4 * HOUR, 180, 45, 90 * 60])
RESOLUTION = np.array([18 * HOUR, 25 * 60, 10 * 60, 8 * HOUR])
EXTRA_TOUCHES = np.array([2.0, 0.8, 0.5, 1.5])
TOPICS = ("product", "payment", "account", "delivery", "other")


def write_shipments(
    world: World,
    w: CsvFiles,
    rng: np.random.Generator,
    orders: Orders,
    cancelled_at: np.ndarray,
) -> Episodes:
    """Event sequences of recent orders; gives the delayed orders and when they were late."""
    recent = np.flatnonzero(orders.at > world.end_s - SHIPMENT_DAYS * DAY)
    k = len(recent)
    zone = orders.zone[recent]
    t0 = orders.at[recent]
    confirmed = t0 + rng.integers(60, 2 * HOUR, k)
    packed = confirmed + rng.integers(2 * HOUR, 26 * HOUR, k)
    shipped = packed + rng.integers(1 * HOUR, 20 * HOUR, k)
    in_transit = shipped + rng.integers(1 * HOUR, 12 * HOUR, k)
    eta = world.at_local_hour(rng, zone, shipped + rng.integers(1, 5, k) * DAY, 18, 21)
    late = rng.random(k) < DELAYED
    # A delay is noticed between leaving the depot and the promised day.
    delayed = in_transit + (eta - in_transit) * rng.uniform(0.3, 1.0, k)
    new_eta = world.at_local_hour(rng, zone, eta + rng.integers(1, 4, k) * DAY, 18, 21)
    due = np.where(late, new_eta, eta)
    out_for_delivery = np.maximum(world.at_local_hour(rng, zone, due, 7, 10), in_transit + 3 * HOUR)
    delivered = out_for_delivery + rng.integers(30 * 60, 8 * HOUR, k)
    cancel = cancelled_at[recent]
    carrier_pick = rng.integers(0, 1 << 30, k)
    steps = (
        ("placed", t0, True),
        ("confirmed", confirmed, True),
        ("packed", packed, False),
        ("shipped", shipped, False),
        ("in_transit", in_transit, False),
        ("delayed", np.where(late, delayed, np.inf), False),
        ("out_for_delivery", out_for_delivery, False),
        ("delivered", delivered, False),
    )
    which, step, when = [], [], []
    for s, (_, times, before_cancel) in enumerate(steps):
        # A cancelled order stops before it is packed (and its events before the cancellation).
        ok = (times < world.end_s) & (np.isinf(cancel) | (before_cancel & (times < cancel)))
        rows = np.flatnonzero(ok)
        which.append(rows)
        step.append(np.full(len(rows), s))
        when.append(times[rows])
    r, st, tm = np.concatenate(which), np.concatenate(step), np.concatenate(when)
    order = np.lexsort((st, r))  # each order's events together, in sequence
    r, st, tm = r[order], st[order], tm[order]
    # The ETA rides on in_transit (the promise) and delayed (the new promise).
    eta_text = np.where(st == 4, world.tz.iso(zone[r], eta[r]), "")
    eta_text = np.where(st == 5, world.tz.iso(zone[r], new_eta[r]), eta_text)
    carriers = [
        world.carriers[z][p % len(world.carriers[z])]
        for z, p in zip(zone[r].tolist(), carrier_pick[r].tolist(), strict=True)
    ]
    w.rows(
        "shipments",
        zip(
            orders.ids[recent[r]].tolist(),
            [steps[i][0] for i in st.tolist()],
            world.tz.iso(zone[r], tm).tolist(),
            eta_text.tolist(),
            carriers,
            strict=True,
        ),
    )
    was_late = late & np.isinf(cancel) & (delayed < world.end_s)
    return Episodes(recent[was_late], delayed[was_late])


def write_tickets(
    world: World,
    w: CsvFiles,
    rng: np.random.Generator,
    orders: Orders,
    delayed: Episodes,
    returns: Episodes,
) -> None:
    """Support tickets: a few per hundred orders, more after a delay or a return."""
    k = len(orders.ids)
    has_customer = orders.buyer != ""
    anyhow = np.flatnonzero(has_customer & (rng.random(k) < 0.04))
    late_orders, late_at = delayed
    late_pick = has_customer[late_orders] & (rng.random(len(late_orders)) < 0.35)
    back_orders, back_at = returns
    back_pick = rng.random(len(back_orders)) < 0.25
    sources = (
        ("a", anyhow, orders.at[anyhow] + rng.integers(HOUR, 10 * DAY, len(anyhow)), None),
        (
            "d",
            late_orders[late_pick],
            late_at[late_pick] + rng.integers(2 * HOUR, 30 * HOUR, late_pick.sum()),
            "delivery",
        ),
        (
            "r",
            back_orders[back_pick],
            back_at[back_pick] - rng.integers(HOUR, 3 * DAY, back_pick.sum()),
            "return",
        ),
    )
    order_idx = np.concatenate([s[1] for s in sources]).astype(np.int64)
    opened = np.concatenate([s[2] for s in sources]).astype(float)
    suffix = np.concatenate([np.full(len(s[1]), s[0]) for s in sources])
    topic = np.concatenate(
        [
            np.array(TOPICS)[pick(rng, (0.35, 0.2, 0.15, 0.2, 0.1), len(s[1]))]
            if s[3] is None
            else np.full(len(s[1]), s[3])
            for s in sources
        ]
    )
    keep = opened < world.end_s
    order_idx, opened, suffix, topic = order_idx[keep], opened[keep], suffix[keep], topic[keep]
    n = len(order_idx)
    channel = pick(rng, CHANNEL_SHARE, n)
    first = opened + rng.lognormal(np.log(FIRST_RESPONSE[channel]), 0.9, n)
    resolved = first + rng.lognormal(np.log(RESOLUTION[channel]), 1.0, n)
    abandoned = rng.random(n) < 0.02  # never resolved
    touches = 1 + rng.poisson(EXTRA_TOUCHES[channel])
    zone = orders.zone[order_idx]
    answered = first < world.end_s
    closed = (resolved < world.end_s) & ~abandoned
    order = np.argsort(opened, kind="stable")
    o = order_idx[order]
    w.rows(
        "interactions",
        zip(
            np.char.add(
                np.char.add("T", np.char.lstrip(orders.ids[o], "O")), suffix[order]
            ).tolist(),
            orders.buyer[o].tolist(),
            np.array(CHANNELS)[channel[order]].tolist(),
            topic[order].tolist(),
            world.tz.iso(zone[order], opened[order]).tolist(),
            np.where(answered, world.tz.iso(zone, first), "")[order].tolist(),
            np.where(closed, world.tz.iso(zone, resolved), "")[order].tolist(),
            touches[order].tolist(),
            strict=True,
        ),
    )
