"""A realistic synthetic store in the generic CSV layout (``homecoming generate``).

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

Around the orders: returns (by category, grouped per order) and cancellations, guest
orders, shipment events for the last two months with some delays, support tickets
(more after delays and returns) whose response times depend on the channel, push
devices, and e-mail consent with unsubscribes, bounces and complaints. Timestamps are
written in the customer's local time with its UTC offset; everything happens before
``end``. Everything is drawn with numpy in chunks of customers, so memory stays flat and
the same seed gives the same files byte for byte.
"""

from __future__ import annotations

import base64
import csv
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ingest.synthetic_markets import CATEGORIES, MARKETS
from ingest.synthetic_time import DAY, HOUR, OffsetTable

CHUNK = 10_000
# BG/NBD population, rates per day: a purchase every 100 days on average while alive,
# very unequal between customers; a 25 % chance on average of leaving after each purchase.
R, ALPHA, A, B = 0.55, 55.0, 1.0, 3.0
NEVER_BUY = 0.10  # sign up for the newsletter and never order
RHYTHM_SHARE = 0.5  # of customers whose favourite category is a consumable
RHYTHM_SHAPE = 6.0  # gaps of the rhythmic buyers: Gamma with this shape, CV about 0.4
SPEND_SHAPE = 3.0  # spend level ~ Gamma(3, 1/3): mean 1
GUEST = 0.03  # orders placed without an account
CANCEL = 0.01  # orders cancelled within hours
SHIPMENT_DAYS = 60  # shipment events are written for the last two months of orders
DELAYED = 0.08
NO_EMAIL = 0.015
DEVICE = 0.35
# Relative demand by month (January first) and weekday (Monday first), each averaging 1.
SEASON = np.array([0.9, 0.8, 0.9, 0.95, 0.95, 0.9, 0.85, 0.9, 0.95, 1.05, 1.5, 1.7])
SEASON = SEASON / SEASON.mean()
WEEKDAY = np.array([1.1, 1.0, 1.0, 0.95, 0.9, 0.85, 1.2])
WEEKDAY = WEEKDAY / WEEKDAY.mean()
PEAK = SEASON.max() * WEEKDAY.max()
HOURS = np.array(
    [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 8, 7, 7, 8, 9, 11, 12, 12, 10, 6, 3], dtype=float
)
HOURS = HOURS / HOURS.sum()
CHANNELS = ("email", "chat", "phone", "social")
CHANNEL_SHARE = (0.45, 0.35, 0.12, 0.08)
# Per channel: median seconds to a first response and from it to resolution, mean extra touches.
FIRST_RESPONSE = np.array([4 * HOUR, 180, 45, 90 * 60])
RESOLUTION = np.array([18 * HOUR, 25 * 60, 10 * 60, 8 * HOUR])
EXTRA_TOUCHES = np.array([2.0, 0.8, 0.5, 1.5])
TOPICS = ("product", "payment", "account", "delivery", "other")

HEADERS = {
    "customers": (
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "locale",
        "time_zone",
        "country",
        "birthday",
        "email_consent",
        "push_consent",
        "consent_source",
        "created_at",
    ),
    "orders": (
        "order_id",
        "customer_id",
        "ordered_at",
        "sku",
        "product_name",
        "category",
        "quantity",
        "unit_price",
        "currency",
        "type",
        "return_id",
    ),
    "interactions": (
        "ticket_id",
        "customer_id",
        "channel",
        "topic",
        "opened_at",
        "first_response_at",
        "resolved_at",
        "touches",
    ),
    "shipments": ("order_id", "status", "occurred_at", "eta", "carrier"),
    "devices": ("customer_id", "platform", "token", "created_at"),
}
CURRENCY = "EUR"


def write_store(
    *,
    out: Path,
    customers: int,
    seed: int,
    end: date,
    years: float = 2.0,
    activity: float = 1.0,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write customers, orders, interactions, shipments and devices CSVs into ``out``.

    History covers ``years`` before midnight UTC starting ``end``. ``activity``
    multiplies every purchase rate (for benchmarks that want more orders per
    customer). ``on_progress`` receives the number of customers written so far.
    Returns the number of data rows written per file.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if years <= 0 or activity <= 0:
        raise ValueError("years and activity must be above 0")
    end_s = float(datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp())
    start_s = end_s - years * 365 * DAY
    store = _Store(start_s, end_s, activity)
    next_order = 1
    with _Writers(Path(out)) as writers:
        for chunk, first in enumerate(range(0, customers, CHUNK)):
            rng = np.random.default_rng([seed, chunk])
            n = min(CHUNK, customers - first)
            next_order = store.chunk(writers, rng, first, n, next_order)
            if on_progress:
                on_progress(first + n)
    return dict(writers.counts)


class _Writers:
    """One CSV writer per file; rows arrive as iterables of tuples, chunk by chunk."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.files = {
            k: (out / f"{k}.csv").open("w", newline="", encoding="utf-8") for k in HEADERS
        }
        self.csv = {k: csv.writer(f, lineterminator="\n") for k, f in self.files.items()}
        self.counts: Counter[str] = Counter({k: 0 for k in HEADERS})
        for kind, header in HEADERS.items():
            self.csv[kind].writerow(header)

    def __enter__(self) -> _Writers:
        return self

    def __exit__(self, *exc: object) -> None:
        for f in self.files.values():
            f.close()

    def rows(self, kind: str, rows: Iterable[tuple[Any, ...]]) -> None:
        rows = list(rows)
        self.csv[kind].writerows(rows)
        self.counts[kind] += len(rows)


@dataclass
class _Customers:
    """The customers of one chunk, one array element each."""

    ids: np.ndarray  # external ids, "C00000001"
    zone: np.ndarray  # index into _Store.zones
    market: np.ndarray
    signup: np.ndarray  # epoch seconds


@dataclass
class _Orders:
    """The orders of one chunk in time order."""

    ids: np.ndarray  # "O000000001"
    customer: np.ndarray  # index into the chunk's customers
    buyer: np.ndarray  # external customer id, "" for a guest order
    at: np.ndarray  # epoch seconds
    zone: np.ndarray


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in ascii_name if ch.isalnum())


def _names(entries: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Names as written, and their e-mail form ("민준|minjun" is written 민준, mailed minjun)."""
    shown = [e.split("|")[0] for e in entries]
    mailed = [_slug(e.split("|")[-1]) for e in entries]
    return shown, mailed


def _pick(rng: np.random.Generator, weights: Iterable[float], size: int) -> np.ndarray:
    p = np.asarray(list(weights), dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


class _Store:
    """Population-wide tables (zones, offsets, products) and the chunk-by-chunk generator."""

    def __init__(self, start_s: float, end_s: float, activity: float) -> None:
        self.start_s, self.end_s, self.activity = start_s, end_s, activity
        self.zones = sorted({zone for m in MARKETS for zone, _ in m.zones})
        # Shipment ETAs may lie a few days after the end.
        self.tz = OffsetTable(self.zones, start_s - 2 * DAY, end_s + 30 * DAY)
        self.market_zones = [
            (np.array([self.zones.index(z) for z, _ in m.zones]), [w for _, w in m.zones])
            for m in MARKETS
        ]
        self.names = [(_names(m.first_names), _names(m.last_names)) for m in MARKETS]
        n_products = max(len(c.products) for c in CATEGORIES)
        self.n_products = np.array([len(c.products) for c in CATEGORIES])
        self.price = np.zeros((len(CATEGORIES), n_products))
        self.sku: list[list[str]] = []
        self.product: list[list[str]] = []
        for i, c in enumerate(CATEGORIES):
            k = len(c.products)
            self.price[i, :k] = np.round(c.price * np.linspace(0.6, 1.8, k)) - 0.01
            self.sku.append([f"{c.name[:3].upper()}-{j + 1:03d}" for j in range(k)])
            self.product.append(list(c.products))
        self.replenish = np.array([c.replenish_days or np.nan for c in CATEGORIES], dtype=float)
        self.return_rate = np.array([c.return_rate for c in CATEGORIES])
        self.category_weight = [c.weight for c in CATEGORIES]
        # Carriers by zone (each zone belongs to one market).
        self.carriers = {self.zones.index(z): m.carriers for m in MARKETS for z, _ in m.zones}

    def chunk(
        self, w: _Writers, rng: np.random.Generator, first: int, n: int, next_order: int
    ) -> int:
        cust = self._customers(w, rng, first, n)
        orders, lines = self._orders(rng, cust, next_order)
        cancelled, returns = self._lines(w, rng, cust, orders, lines)
        delayed = self._shipments(w, rng, orders, cancelled)
        self._tickets(w, rng, orders, delayed, returns)
        return next_order + len(orders.ids)

    # -- customers and devices ------------------------------------------------------------

    def _local_moment(
        self, rng: np.random.Generator, zone: np.ndarray, utc: np.ndarray
    ) -> np.ndarray:
        """The same local day as ``utc``, at an hour people shop (evenings busiest)."""
        day = self.tz.local_day(zone, utc)
        local = (
            day + rng.choice(24, size=len(utc), p=HOURS) * HOUR + rng.integers(0, HOUR, len(utc))
        )
        return self.tz.at_local(zone, local).astype(float)

    def _demand(self, zone: np.ndarray, utc: np.ndarray) -> np.ndarray:
        """Relative demand by local month and weekday, scaled to at most 1 (for thinning)."""
        local = utc + self.tz.offsets(zone, utc)
        month = local.astype("int64").astype("datetime64[s]").astype("datetime64[M]")
        weekday = (local // DAY + 3).astype(np.int64) % 7  # 1970-01-01 was a Thursday
        return SEASON[month.astype(np.int64) % 12] * WEEKDAY[weekday] / PEAK

    def _signups(self, rng: np.random.Generator, zone: np.ndarray) -> np.ndarray:
        """Sign-ups over the period: more of them recently (the store grows), and in season."""
        span = self.end_s - self.start_s - DAY
        signup = np.empty(len(zone))
        todo = np.arange(len(zone))
        while len(todo):
            candidate = self.start_s + span * rng.random(len(todo)) ** 0.8
            ok = rng.random(len(todo)) < self._demand(zone[todo], candidate)
            signup[todo[ok]] = candidate[ok]
            todo = todo[~ok]
        moved = self._local_moment(rng, zone, signup)
        return np.where(moved < self.end_s - HOUR, moved, signup)

    def _customers(self, w: _Writers, rng: np.random.Generator, first: int, n: int) -> _Customers:
        numbers = np.arange(first + 1, first + n + 1)
        ids = np.char.add("C", np.char.zfill(numbers.astype(str), 8))
        market = _pick(rng, (m.share for m in MARKETS), n)
        zone = np.zeros(n, dtype=np.int64)
        for i, (zones, weights) in enumerate(self.market_zones):
            mine = np.flatnonzero(market == i)
            zone[mine] = zones[_pick(rng, weights, len(mine))]
        signup = self._signups(rng, zone)
        cust = _Customers(ids, zone, market, signup)

        first_i = rng.integers(0, 1 << 30, n)
        last_i = rng.integers(0, 1 << 30, n)
        has_email = rng.random(n) >= NO_EMAIL
        email_consent = np.where(
            has_email,
            np.array(["subscribed", "unsubscribed", "bounced", "complained"])[
                _pick(rng, (0.81, 0.15, 0.03, 0.01), n)
            ],
            "",
        )
        source = np.array(["signup", "checkout", "import"])[_pick(rng, (0.6, 0.3, 0.1), n)]
        born = rng.integers(
            np.datetime64("1950-01-01").astype(int), np.datetime64("2006-12-31").astype(int), n
        )
        birthday = np.where(
            rng.random(n) < 0.55, np.datetime_as_string(born.astype("datetime64[D]")), ""
        )
        device = rng.random(n) < DEVICE
        push_consent = np.where(
            device, np.where(rng.random(n) < 0.75, "subscribed", "unsubscribed"), ""
        )
        columns = zip(
            ids.tolist(),
            market.tolist(),
            zone.tolist(),
            numbers.tolist(),
            first_i.tolist(),
            last_i.tolist(),
            has_email.tolist(),
            birthday.tolist(),
            email_consent.tolist(),
            push_consent.tolist(),
            source.tolist(),
            self.tz.iso(zone, signup).tolist(),
            strict=True,
        )
        rows = []
        for cid, m, z, number, fi, li, mail, born_on, consent, push, src, created in columns:
            (firsts, first_mail), (lasts, last_mail) = self.names[m]
            f, la = fi % len(firsts), li % len(lasts)
            email = f"{first_mail[f]}.{last_mail[la]}.{number}@example.com" if mail else ""
            market_ = MARKETS[m]
            rows.append(
                (
                    cid,
                    email,
                    firsts[f],
                    lasts[la],
                    market_.locale,
                    self.zones[z],
                    market_.country,
                    born_on,
                    consent,
                    push,
                    src,
                    created,
                )
            )
        w.rows("customers", rows)
        self._devices(w, rng, cust, np.flatnonzero(device))
        return cust

    def _devices(
        self, w: _Writers, rng: np.random.Generator, cust: _Customers, owners: np.ndarray
    ) -> None:
        """Push tokens: APNs-like hex for iOS, FCM-like for Android; some own two devices."""
        owners = np.concatenate([owners, owners[rng.random(len(owners)) < 0.12]])
        owners.sort(kind="stable")
        k = len(owners)
        ios_share = np.array([m.ios_share for m in MARKETS])[cust.market[owners]]
        ios = rng.random(k) < ios_share
        signup = cust.signup[owners]
        created = signup + rng.exponential(45 * DAY, k)
        late = created >= self.end_s - HOUR
        created[late] = signup[late] + rng.random(late.sum()) * (self.end_s - HOUR - signup[late])
        raw = rng.bytes(k * 132)
        tokens = []
        for j, is_ios in enumerate(ios.tolist()):
            chunk = raw[j * 132 : (j + 1) * 132]
            if is_ios:
                tokens.append(chunk[:32].hex())
            else:
                text = base64.urlsafe_b64encode(chunk).decode().rstrip("=")
                tokens.append(f"{text[:22]}:APA91b{text[22:156]}")
        stamps = self.tz.iso(cust.zone[owners], created)
        platform = np.where(ios, "ios", "android")
        w.rows("devices", zip(cust.ids[owners], platform, tokens, stamps, strict=True))

    # -- purchases ------------------------------------------------------------------------

    def _orders(
        self, rng: np.random.Generator, cust: _Customers, next_order: int
    ) -> tuple[_Orders, dict[str, np.ndarray]]:
        n = len(cust.ids)
        rate = rng.gamma(R, 1 / ALPHA, n) * self.activity / DAY  # per second
        dropout = rng.beta(A, B, n)
        favourite = _pick(rng, self.category_weight, n)
        cycle = self.replenish[favourite] * DAY * rng.lognormal(0, 0.2, n) / self.activity
        rhythm = ~np.isnan(cycle) & (rng.random(n) < RHYTHM_SHARE)
        spend = rng.gamma(SPEND_SHAPE, 1 / SPEND_SHAPE, n)
        staple = (rng.random(n) * self.n_products[favourite]).astype(np.int64)
        # The first purchase is at sign-up; then drop-out, purchase, drop-out, ...
        buyer = np.flatnonzero(rng.random(n) >= NEVER_BUY)
        who, when = [buyer], [cust.signup[buyer]]
        alive = np.zeros(n, dtype=bool)
        alive[buyer] = rng.random(len(buyer)) >= dropout[buyer]
        t = cust.signup.copy()
        while True:
            idx = np.flatnonzero(alive & (t < self.end_s))
            if not len(idx):
                break
            poisson_gap = rng.exponential(1.0, len(idx)) / (rate[idx] * PEAK)
            rhythm_gap = rng.gamma(RHYTHM_SHAPE, 1 / RHYTHM_SHAPE, len(idx)) * np.nan_to_num(
                cycle[idx]
            )
            t[idx] += np.where(rhythm[idx], rhythm_gap, poisson_gap)
            demand = self._demand(cust.zone[idx], t[idx])
            accept = (t[idx] < self.end_s) & (rhythm[idx] | (rng.random(len(idx)) < demand))
            bought = idx[accept]
            who.append(bought)
            when.append(t[bought])
            alive[bought[rng.random(len(bought)) < dropout[bought]]] = False
        customer = np.concatenate(who)
        at = np.concatenate(when)
        repeat = np.arange(len(at)) >= len(buyer)
        # Repeat purchases move to a busy hour of their local day, unless that leaves the period.
        moved = self._local_moment(rng, cust.zone[customer[repeat]], at[repeat])
        inside = (moved >= cust.signup[customer[repeat]]) & (moved < self.end_s)
        at[repeat] = np.where(inside, moved, at[repeat])
        order = np.lexsort((customer, at))
        customer, at = customer[order], at[order]
        k = len(at)
        ids = np.char.add("O", np.char.zfill(np.arange(next_order, next_order + k).astype(str), 9))
        guest = rng.random(k) < GUEST
        buyer_ids = np.where(guest, "", cust.ids[customer])
        orders = _Orders(ids, customer, buyer_ids, at, cust.zone[customer])
        per_customer = {
            "favourite": favourite,
            "rhythm": rhythm,
            "spend": spend,
            "staple": staple,
        }
        return orders, per_customer

    def _lines(
        self,
        w: _Writers,
        rng: np.random.Generator,
        cust: _Customers,
        orders: _Orders,
        per: dict[str, np.ndarray],
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Order lines, then returns and cancellations; gives cancel times and returns."""
        k = len(orders.ids)
        c = orders.customer
        rhythm = per["rhythm"][c]
        n_lines = 1 + rng.poisson(np.where(rhythm, 0.4, 0.8))
        line_order = np.repeat(np.arange(k), n_lines)
        m = len(line_order)
        first_line = np.zeros(m, dtype=bool)
        first_line[np.cumsum(n_lines) - n_lines] = True
        lc = c[line_order]
        staple_line = first_line & rhythm[line_order]
        favourite = staple_line | (rng.random(m) < 0.55)
        cat = np.where(favourite, per["favourite"][lc], _pick(rng, self.category_weight, m))
        # Big spenders pick the dearer products and buy more units.
        tilt = rng.random(m) ** (1 / per["spend"][lc])
        product = np.where(
            staple_line, per["staple"][lc], (tilt * self.n_products[cat]).astype(np.int64)
        )
        qty = 1 + rng.poisson(np.where(staple_line, 0.5, 0.25 * per["spend"][lc]))
        price = self.price[cat, product]
        # Black Friday week: 20 % off.
        local = (orders.at + self.tz.offsets(orders.zone, orders.at)).astype("int64")
        day = local.astype("datetime64[s]").astype("datetime64[D]")
        month_start = day.astype("datetime64[M]")
        dom = (day - month_start.astype("datetime64[D]")).astype(np.int64) + 1
        moy = month_start.astype(np.int64) % 12 + 1
        sale = ((moy == 11) & (dom >= 24)) | ((moy == 12) & (dom == 1))
        price = np.where(sale[line_order], np.round(price * 0.8, 2), price)
        price_text = [f"{p:.2f}" for p in price.tolist()]
        stamps = self.tz.iso(orders.zone, orders.at)
        skus = [self.sku[a][b] for a, b in zip(cat.tolist(), product.tolist(), strict=True)]
        names = [self.product[a][b] for a, b in zip(cat.tolist(), product.tolist(), strict=True)]
        cat_names = [CATEGORIES[a].name for a in cat.tolist()]
        order_ids = orders.ids[line_order].tolist()
        buyers = orders.buyer[line_order].tolist()
        line_stamps = stamps[line_order].tolist()
        qty_list = qty.tolist()
        w.rows(
            "orders",
            zip(
                order_ids,
                buyers,
                line_stamps,
                skus,
                names,
                cat_names,
                qty_list,
                price_text,
                [CURRENCY] * m,
                ["order"] * m,
                [""] * m,
                strict=True,
            ),
        )

        # Cancellations: the whole order, within hours. Returns: lines by category rate,
        # one return per order a week or more after it (after delivery).
        has_customer = orders.buyer != ""
        cancel = has_customer & (rng.random(k) < CANCEL)
        cancelled_at = np.where(cancel, orders.at + rng.integers(10 * 60, 6 * HOUR, k), np.inf)
        cancelled_at = np.where(cancelled_at < self.end_s, cancelled_at, np.inf)
        back_at = orders.at + rng.integers(7 * DAY, 35 * DAY, k)
        returned = (
            (rng.random(m) < self.return_rate[cat])
            & has_customer[line_order]
            & ~cancel[line_order]
            & (back_at[line_order] < self.end_s)
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
                qty[rows]
                if kind == "cancellation"
                else np.minimum(qty[rows], 1 + rng.poisson(0.2, len(rows)))
            )
            texts = self.tz.iso(orders.zone[o], when[o])
            for j, r in enumerate(rows.tolist()):
                extra.append(
                    (
                        when[o[j]],
                        (
                            order_ids[r],
                            buyers[r],
                            texts[j],
                            skus[r],
                            names[r],
                            cat_names[r],
                            int(back_qty[j]),
                            price_text[r],
                            CURRENCY,
                            kind,
                            f"{prefix}{order_ids[r][1:]}",
                        ),
                    )
                )
        extra.sort(key=lambda pair: pair[0])  # stable: lines of one return stay in order
        w.rows("orders", (row for _, row in extra))
        returned_orders = np.unique(line_order[returned])
        return cancelled_at, (returned_orders, back_at[returned_orders])

    # -- shipments and tickets ------------------------------------------------------------

    def _at_local_hour(
        self, rng: np.random.Generator, zone: np.ndarray, utc: np.ndarray, lo: int, hi: int
    ) -> np.ndarray:
        day = self.tz.local_day(zone, utc)
        local = day + rng.integers(lo * HOUR, hi * HOUR, len(utc))
        return self.tz.at_local(zone, local).astype(float)

    def _shipments(
        self,
        w: _Writers,
        rng: np.random.Generator,
        orders: _Orders,
        cancelled_at: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Event sequences of recent orders; gives the delayed orders and when they were late."""
        recent = np.flatnonzero(orders.at > self.end_s - SHIPMENT_DAYS * DAY)
        k = len(recent)
        zone = orders.zone[recent]
        t0 = orders.at[recent]
        confirmed = t0 + rng.integers(60, 2 * HOUR, k)
        packed = confirmed + rng.integers(2 * HOUR, 26 * HOUR, k)
        shipped = packed + rng.integers(1 * HOUR, 20 * HOUR, k)
        in_transit = shipped + rng.integers(1 * HOUR, 12 * HOUR, k)
        eta = self._at_local_hour(rng, zone, shipped + rng.integers(1, 5, k) * DAY, 18, 21)
        late = rng.random(k) < DELAYED
        # A delay is noticed between leaving the depot and the promised day.
        delayed = in_transit + (eta - in_transit) * rng.uniform(0.3, 1.0, k)
        new_eta = self._at_local_hour(rng, zone, eta + rng.integers(1, 4, k) * DAY, 18, 21)
        due = np.where(late, new_eta, eta)
        out_for_delivery = np.maximum(
            self._at_local_hour(rng, zone, due, 7, 10), in_transit + 3 * HOUR
        )
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
            ok = (times < self.end_s) & (np.isinf(cancel) | (before_cancel & (times < cancel)))
            rows = np.flatnonzero(ok)
            which.append(rows)
            step.append(np.full(len(rows), s))
            when.append(times[rows])
        r, st, tm = np.concatenate(which), np.concatenate(step), np.concatenate(when)
        order = np.lexsort((st, r))  # each order's events together, in sequence
        r, st, tm = r[order], st[order], tm[order]
        # The ETA rides on in_transit (the promise) and delayed (the new promise).
        eta_text = np.where(st == 4, self.tz.iso(zone[r], eta[r]), "")
        eta_text = np.where(st == 5, self.tz.iso(zone[r], new_eta[r]), eta_text)
        carriers = [
            self.carriers[z][p % len(self.carriers[z])]
            for z, p in zip(zone[r].tolist(), carrier_pick[r].tolist(), strict=True)
        ]
        w.rows(
            "shipments",
            zip(
                orders.ids[recent[r]].tolist(),
                [steps[i][0] for i in st.tolist()],
                self.tz.iso(zone[r], tm).tolist(),
                eta_text.tolist(),
                carriers,
                strict=True,
            ),
        )
        was_late = late & np.isinf(cancel) & (delayed < self.end_s)
        return recent[was_late], delayed[was_late]

    def _tickets(
        self,
        w: _Writers,
        rng: np.random.Generator,
        orders: _Orders,
        delayed: tuple[np.ndarray, np.ndarray],
        returns: tuple[np.ndarray, np.ndarray],
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
                np.array(TOPICS)[_pick(rng, (0.35, 0.2, 0.15, 0.2, 0.1), len(s[1]))]
                if s[3] is None
                else np.full(len(s[1]), s[3])
                for s in sources
            ]
        )
        keep = opened < self.end_s
        order_idx, opened, suffix, topic = order_idx[keep], opened[keep], suffix[keep], topic[keep]
        n = len(order_idx)
        channel = _pick(rng, CHANNEL_SHARE, n)
        first = opened + rng.lognormal(np.log(FIRST_RESPONSE[channel]), 0.9, n)
        resolved = first + rng.lognormal(np.log(RESOLUTION[channel]), 1.0, n)
        abandoned = rng.random(n) < 0.02  # never resolved
        touches = 1 + rng.poisson(EXTRA_TOUCHES[channel])
        zone = orders.zone[order_idx]
        answered = first < self.end_s
        closed = (resolved < self.end_s) & ~abandoned
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
                self.tz.iso(zone[order], opened[order]).tolist(),
                np.where(answered, self.tz.iso(zone, first), "")[order].tolist(),
                np.where(closed, self.tz.iso(zone, resolved), "")[order].tolist(),
                touches[order].tolist(),
                strict=True,
            ),
        )
