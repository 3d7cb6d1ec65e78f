"""Orders, order lines, returns and cancellations for one chunk of the synthetic store.

Purchases follow the BG/NBD story (Fader, Hardie & Lee 2005) so that the models of
``segments/`` have something real to find: a customer makes a first purchase when
signing up, then, while "alive", buys as a Poisson process whose rate is drawn from
Gamma(r, alpha), and after every purchase drops out for good with a probability drawn
from Beta(a, b). Seasonality (a November-December peak, busier Sundays and Mondays)
thins that process in the customer's local time. Half of the customers whose favourite
category is a consumable (coffee, pet food, ...) restock on a rhythm instead: gaps
around the category's replenishment interval, with the same drop-out. Spend follows a
Gamma-Gamma-like pattern: each customer has a spend level (dearer products, more
units) that does not depend on how often they buy.

Returns come by category, grouped per order; cancellations take back a whole order
within hours; a few orders are placed without an account (guest orders).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.localtime import DAY, HOUR
from synthetic.markets import CATEGORIES
from synthetic.output import CsvFiles
from synthetic.world import PEAK, Customers, Episodes, Orders, World, pick

# BG/NBD population, rates per day: a purchase every 100 days on average while alive,
# very unequal between customers; a 25 % chance on average of leaving after each purchase.
R, ALPHA, A, B = 0.55, 55.0, 1.0, 3.0
NEVER_BUY = 0.10  # sign up for the newsletter and never order
RHYTHM_SHARE = 0.5  # of customers whose favourite category is a consumable
RHYTHM_SHAPE = 6.0  # gaps of the rhythmic buyers: Gamma with this shape, CV about 0.4
SPEND_SHAPE = 3.0  # spend level ~ Gamma(3, 1/3): mean 1
GUEST = 0.03  # orders placed without an account
CANCEL = 0.01  # orders cancelled within hours
CURRENCY = "EUR"


@dataclass
class Habits:
    """What each customer of a chunk tends to buy, one array element per customer."""

    favourite: np.ndarray  # index into CATEGORIES
    rhythm: np.ndarray  # restocks on a rhythm rather than at random
    spend: np.ndarray  # spend level, mean 1
    staple: np.ndarray  # the product restocked, an index into the favourite category


@dataclass
class Lines:
    """The order lines of a chunk as written, one element per line."""

    order: np.ndarray  # index into the chunk's orders
    category: np.ndarray  # index into CATEGORIES
    quantity: np.ndarray
    order_ids: list[str]
    buyers: list[str]
    skus: list[str]
    names: list[str]
    category_names: list[str]
    prices: list[str]


def draw_orders(
    world: World, rng: np.random.Generator, cust: Customers, next_order: int
) -> tuple[Orders, Habits]:
    """Every order of the chunk's customers, numbered from ``next_order``, in time order."""
    n = len(cust.ids)
    rate = rng.gamma(R, 1 / ALPHA, n) * world.activity / DAY  # per second
    dropout = rng.beta(A, B, n)
    favourite = pick(rng, world.category_weight, n)
    cycle = world.replenish[favourite] * DAY * rng.lognormal(0, 0.2, n) / world.activity
    rhythm = ~np.isnan(cycle) & (rng.random(n) < RHYTHM_SHARE)
    spend = rng.gamma(SPEND_SHAPE, 1 / SPEND_SHAPE, n)
    staple = (rng.random(n) * world.n_products[favourite]).astype(np.int64)
    # The first purchase is at sign-up; then drop-out, purchase, drop-out, ...
    buyer = np.flatnonzero(rng.random(n) >= NEVER_BUY)
    who, when = [buyer], [cust.signup[buyer]]
    alive = np.zeros(n, dtype=bool)
    alive[buyer] = rng.random(len(buyer)) >= dropout[buyer]
    t = cust.signup.copy()
    while True:
        idx = np.flatnonzero(alive & (t < world.end_s))
        if not len(idx):
            break
        poisson_gap = rng.exponential(1.0, len(idx)) / (rate[idx] * PEAK)
        rhythm_gap = rng.gamma(RHYTHM_SHAPE, 1 / RHYTHM_SHAPE, len(idx)) * np.nan_to_num(cycle[idx])
        t[idx] += np.where(rhythm[idx], rhythm_gap, poisson_gap)
        demand = world.demand(cust.zone[idx], t[idx])
        accept = (t[idx] < world.end_s) & (rhythm[idx] | (rng.random(len(idx)) < demand))
        bought = idx[accept]
        who.append(bought)
        when.append(t[bought])
        alive[bought[rng.random(len(bought)) < dropout[bought]]] = False
    customer = np.concatenate(who)
    at = np.concatenate(when)
    repeat = np.arange(len(at)) >= len(buyer)
    # Repeat purchases move to a busy hour of their local day, unless that leaves the period.
    moved = world.local_moment(rng, cust.zone[customer[repeat]], at[repeat])
    inside = (moved >= cust.signup[customer[repeat]]) & (moved < world.end_s)
    at[repeat] = np.where(inside, moved, at[repeat])
    order = np.lexsort((customer, at))
    customer, at = customer[order], at[order]
    k = len(at)
    ids = np.char.add("O", np.char.zfill(np.arange(next_order, next_order + k).astype(str), 9))
    guest = rng.random(k) < GUEST
    buyer_ids = np.where(guest, "", cust.ids[customer])
    orders = Orders(ids, customer, buyer_ids, at, cust.zone[customer])
    return orders, Habits(favourite, rhythm, spend, staple)


def write_lines(
    world: World, w: CsvFiles, rng: np.random.Generator, orders: Orders, habits: Habits
) -> tuple[np.ndarray, Episodes]:
    """Order lines, then returns and cancellations.

    Gives each order's cancellation time (``inf`` for none) and the returned orders with
    the time of their return.
    """
    lines = _write_order_lines(world, w, rng, orders, habits)
    return _write_returns(world, w, rng, orders, lines)


def _write_order_lines(
    world: World, w: CsvFiles, rng: np.random.Generator, orders: Orders, habits: Habits
) -> Lines:
    k = len(orders.ids)
    c = orders.customer
    rhythm = habits.rhythm[c]
    n_lines = 1 + rng.poisson(np.where(rhythm, 0.4, 0.8))
    line_order = np.repeat(np.arange(k), n_lines)
    m = len(line_order)
    first_line = np.zeros(m, dtype=bool)
    first_line[np.cumsum(n_lines) - n_lines] = True
    lc = c[line_order]
    staple_line = first_line & rhythm[line_order]
    favourite = staple_line | (rng.random(m) < 0.55)
    cat = np.where(favourite, habits.favourite[lc], pick(rng, world.category_weight, m))
    # Big spenders pick the dearer products and buy more units.
    tilt = rng.random(m) ** (1 / habits.spend[lc])
    product = np.where(
        staple_line, habits.staple[lc], (tilt * world.n_products[cat]).astype(np.int64)
    )
    qty = 1 + rng.poisson(np.where(staple_line, 0.5, 0.25 * habits.spend[lc]))
    price = world.price[cat, product]
    # Black Friday week: 20 % off.
    local = (orders.at + world.tz.offsets(orders.zone, orders.at)).astype("int64")
    day = local.astype("datetime64[s]").astype("datetime64[D]")
    month_start = day.astype("datetime64[M]")
    dom = (day - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    moy = month_start.astype(np.int64) % 12 + 1
    sale = ((moy == 11) & (dom >= 24)) | ((moy == 12) & (dom == 1))
    price = np.where(sale[line_order], np.round(price * 0.8, 2), price)
    stamps = world.tz.iso(orders.zone, orders.at)
    pairs = list(zip(cat.tolist(), product.tolist(), strict=True))
    lines = Lines(
        order=line_order,
        category=cat,
        quantity=qty,
        order_ids=orders.ids[line_order].tolist(),
        buyers=orders.buyer[line_order].tolist(),
        skus=[world.sku[a][b] for a, b in pairs],
        names=[world.product[a][b] for a, b in pairs],
        category_names=[CATEGORIES[a].name for a in cat.tolist()],
        prices=[f"{p:.2f}" for p in price.tolist()],
    )
    w.rows(
        "orders",
        zip(
            lines.order_ids,
            lines.buyers,
            stamps[line_order].tolist(),
            lines.skus,
            lines.names,
            lines.category_names,
            qty.tolist(),
            lines.prices,
            [CURRENCY] * m,
            ["order"] * m,
            [""] * m,
            strict=True,
        ),
    )
    return lines


def _write_returns(
    world: World, w: CsvFiles, rng: np.random.Generator, orders: Orders, lines: Lines
) -> tuple[np.ndarray, Episodes]:
    """Cancellations: the whole order, within hours. Returns: lines by category rate,
    one return per order a week or more after it (after delivery)."""
    k = len(orders.ids)
    line_order = lines.order
    m = len(line_order)
    has_customer = orders.buyer != ""
    cancel = has_customer & (rng.random(k) < CANCEL)
    cancelled_at = np.where(cancel, orders.at + rng.integers(10 * 60, 6 * HOUR, k), np.inf)
    cancelled_at = np.where(cancelled_at < world.end_s, cancelled_at, np.inf)
    back_at = orders.at + rng.integers(7 * DAY, 35 * DAY, k)
    returned = (
        (rng.random(m) < world.return_rate[lines.category])
        & has_customer[line_order]
        & ~cancel[line_order]
        & (back_at[line_order] < world.end_s)
    )
    cancelled_line = np.isfinite(cancelled_at)[line_order]
    extra = []
    for kind, mask, when, prefix in (
        ("cancellation", cancelled_line, cancelled_at, "X"),
        ("return", returned, back_at, "R"),
    ):
        rows = np.flatnonzero(mask)
        o = line_order[rows]
        back_qty = (
            lines.quantity[rows]
            if kind == "cancellation"
            else np.minimum(lines.quantity[rows], 1 + rng.poisson(0.2, len(rows)))
        )
        texts = world.tz.iso(orders.zone[o], when[o])
        for j, r in enumerate(rows.tolist()):
            extra.append(
                (
                    when[o[j]],
                    (
                        lines.order_ids[r],
                        lines.buyers[r],
                        texts[j],
                        lines.skus[r],
                        lines.names[r],
                        lines.category_names[r],
                        int(back_qty[j]),
                        lines.prices[r],
                        CURRENCY,
                        kind,
                        f"{prefix}{lines.order_ids[r][1:]}",
                    ),
                )
            )
    extra.sort(key=lambda pair: pair[0])  # stable: lines of one return stay in order
    w.rows("orders", (row for _, row in extra))
    returned_orders = np.unique(line_order[returned])
    return cancelled_at, Episodes(returned_orders, back_at[returned_orders])
