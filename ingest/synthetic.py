"""A realistic synthetic store in the generic CSV layout (``homecoming generate``).

Purchases follow the BG/NBD story (Fader, Hardie & Lee 2005): while "alive", each
customer buys as a Poisson process with a rate drawn from Gamma(r, alpha), and after
each purchase drops out for good with a probability drawn from Beta(a, b). A seasonal
factor (November-December peak) thins the process. Spend per order varies by customer
(a Gamma-distributed spend level) and category. Everything is vectorised with numpy
and written in chunks of customers, so memory stays flat; the same seed gives the same
files byte for byte.
"""

from __future__ import annotations

import csv
import unicodedata
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from ingest.synthetic_markets import CATEGORIES, MARKETS, SKUS_PER_CATEGORY

CHUNK = 10_000
DAY = 86_400
# BG/NBD population parameters, per day: about one order every 50 days while alive.
R, ALPHA, A, B = 0.9, 45.0, 1.2, 5.0
SEASON = np.array([1.0, 0.85, 0.9, 0.95, 1.0, 0.95, 0.9, 0.95, 1.0, 1.1, 1.5, 1.8])
HOURS = np.array(
    [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9, 8, 7, 7, 8, 9, 11, 12, 12, 10, 6, 3], dtype=float
)
SHIPMENT_DAYS = 60  # shipment events are written for the last two months of orders

HEADERS = {
    "customers": [
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
    ],
    "orders": [
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
    ],
    "interactions": [
        "ticket_id",
        "customer_id",
        "channel",
        "topic",
        "opened_at",
        "first_response_at",
        "resolved_at",
        "touches",
    ],
    "shipments": ["order_id", "status", "occurred_at", "eta", "carrier"],
    "devices": ["customer_id", "platform", "token", "created_at"],
}


def _iso(seconds: np.ndarray) -> np.ndarray:
    return np.char.add(
        np.datetime_as_string(seconds.astype("int64").astype("datetime64[s]"), unit="s"), "Z"
    )


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in ascii_name if ch.isalnum()) or "customer"


class _Writers:
    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.files = {
            k: (out / f"{k}.csv").open("w", newline="", encoding="utf-8") for k in HEADERS
        }
        self.csv = {k: csv.writer(f, lineterminator="\n") for k, f in self.files.items()}
        self.counts: Counter[str] = Counter()
        for kind, header in HEADERS.items():
            self.csv[kind].writerow(header)

    def rows(self, kind: str, rows: list[tuple[object, ...]] | zip) -> None:
        rows = list(rows)
        self.csv[kind].writerows(rows)
        self.counts[kind] += len(rows)

    def close(self) -> None:
        for f in self.files.values():
            f.close()


def write_store(
    *,
    out: Path,
    customers: int,
    seed: int,
    end: date,
    years: float = 2.0,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write customers, orders, interactions, shipments and devices CSVs into ``out``.

    Returns the number of rows written per file.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    end_s = datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp()
    start_s = end_s - years * 365 * DAY
    writers = _Writers(Path(out))
    next_order = 1
    try:
        for chunk, first in enumerate(range(0, customers, CHUNK)):
            rng = np.random.default_rng([seed, chunk])
            n = min(CHUNK, customers - first)
            next_order = _chunk(writers, rng, first, n, start_s, end_s, next_order)
            if on_progress:
                on_progress(first + n)
    finally:
        writers.close()
    return dict(writers.counts)


def _chunk(
    w: _Writers,
    rng: np.random.Generator,
    first: int,
    n: int,
    start_s: float,
    end_s: float,
    next_order: int,
) -> int:
    ids = np.arange(first + 1, first + n + 1)
    shares = np.array([m.share for m in MARKETS])
    market = rng.choice(len(MARKETS), size=n, p=shares / shares.sum())
    signup = start_s + rng.random(n) * (end_s - start_s - 14 * DAY)
    cust_ids = np.char.add("C", np.char.zfill(ids.astype(str), 8))
    _customers(w, rng, cust_ids, ids, market, signup)

    # Purchases: thinned Poisson process with BG/NBD drop-out; 8 % register and never buy.
    rate = rng.gamma(R, 1 / ALPHA, n) / DAY * SEASON.max()
    dropout = rng.beta(A, B, n)
    buyer = rng.random(n) > 0.08
    alive = buyer.copy()
    t = signup.copy()
    who, when = [np.flatnonzero(buyer)], [signup[buyer]]
    while True:
        active = alive & (t < end_s)
        if not active.any():
            break
        t = np.where(active, t + rng.exponential(1.0, n) / rate, t)
        month = np.array(
            t.astype("int64").astype("datetime64[s]").astype("datetime64[M]").astype(int) % 12
        )
        accept = active & (t < end_s) & (rng.random(n) < SEASON[month] / SEASON.max())
        who.append(np.flatnonzero(accept))
        when.append(t[accept])
        alive &= ~(accept & (rng.random(n) < dropout))
    order_cust = np.concatenate(who)
    day_start = np.floor(np.concatenate(when) / DAY) * DAY
    hour = rng.choice(24, size=len(day_start), p=HOURS / HOURS.sum())
    order_at = np.minimum(
        day_start + hour * 3600 + rng.integers(0, 3600, len(day_start)), end_s - 60
    )
    order_at = np.maximum(order_at, signup[order_cust])
    n_orders = len(order_cust)
    order_ids = np.char.add(
        "O", np.char.zfill(np.arange(next_order, next_order + n_orders).astype(str), 9)
    )
    guest = rng.random(n_orders) < 0.02
    buyer_ids = np.where(guest, "", cust_ids[order_cust])
    _orders(w, rng, order_ids, order_cust, buyer_ids, order_at, end_s, n)
    _shipments(w, rng, order_ids, order_at, end_s)
    _tickets(w, rng, order_ids, buyer_ids, order_at, end_s)
    return next_order + n_orders


def _customers(
    w: _Writers,
    rng: np.random.Generator,
    cust_ids: np.ndarray,
    ids: np.ndarray,
    market: np.ndarray,
    signup: np.ndarray,
) -> None:
    n = len(ids)
    first_i = rng.integers(0, 8, n)
    last_i = rng.integers(0, 6, n)
    email_consent = rng.choice(
        ["subscribed", "unsubscribed", "bounced", "complained"], size=n, p=[0.85, 0.12, 0.02, 0.01]
    )
    has_device = rng.random(n) < 0.35
    push_consent = np.where(
        has_device, np.where(rng.random(n) < 0.8, "subscribed", "unsubscribed"), ""
    )
    born = rng.integers(
        np.datetime64("1950-01-01").astype(int), np.datetime64("2005-12-31").astype(int), n
    )
    birthday = np.where(
        rng.random(n) < 0.6, np.datetime_as_string(born.astype("datetime64[D]")), ""
    )
    created = _iso(signup)
    rows = []
    for i in range(n):
        m = MARKETS[market[i]]
        first, last = m.first_names[first_i[i]], m.last_names[last_i[i]]
        slug = ".".join(dict.fromkeys((_slug(first), _slug(last))))
        email = f"{slug}.{ids[i]}@example.com"
        rows.append(
            (
                cust_ids[i],
                email,
                first,
                last,
                m.locale,
                m.time_zone,
                m.country,
                birthday[i],
                email_consent[i],
                push_consent[i],
                "signup",
                created[i],
            )
        )
    w.rows("customers", rows)
    dev = np.flatnonzero(has_device)
    tokens = [rng.bytes(32).hex() for _ in dev]
    platform = np.where(rng.random(len(dev)) < 0.55, "ios", "android")
    w.rows("devices", zip(cust_ids[dev], platform, tokens, created[dev], strict=True))


def _orders(
    w: _Writers,
    rng: np.random.Generator,
    order_ids: np.ndarray,
    order_cust: np.ndarray,
    buyer_ids: np.ndarray,
    order_at: np.ndarray,
    end_s: float,
    n_customers: int,
) -> None:
    favourite = rng.integers(0, len(CATEGORIES), n_customers)
    spend = rng.gamma(6.0, 1 / 6.0, n_customers)
    n_lines = 1 + rng.poisson(0.7, len(order_ids))
    line_order = np.repeat(np.arange(len(order_ids)), n_lines)
    m = len(line_order)
    cat = np.where(
        rng.random(m) < 0.6, favourite[order_cust[line_order]], rng.integers(0, len(CATEGORIES), m)
    )
    sku_no = rng.integers(1, SKUS_PER_CATEGORY + 1, m)
    base = np.array([c.price for c in CATEGORIES])[cat]
    price = np.round(base * rng.lognormal(0, 0.35, m) * spend[order_cust[line_order]], 2).clip(0.5)
    qty = 1 + rng.poisson(0.4, m)
    at = _iso(order_at)[line_order]
    names = [c.name for c in CATEGORIES]
    rows = []
    for i in range(m):
        c = names[cat[i]]
        sku = f"{c[:3].upper()}-{sku_no[i]:03d}"
        rows.append(
            (
                order_ids[line_order[i]],
                buyer_ids[line_order[i]],
                at[i],
                sku,
                f"{c.replace('_', ' ').title()} {sku_no[i]}",
                c,
                qty[i],
                f"{price[i]:.2f}",
                "EUR",
                "order",
                "",
            )
        )
    # Returns (a few % of lines, 5-25 days later) and cancellations (some orders, within a day).
    returned = np.flatnonzero((rng.random(m) < 0.03) & (buyer_ids[line_order] != ""))
    back = order_at[line_order[returned]] + rng.integers(5, 26, len(returned)) * DAY
    keep = back < end_s
    for i, when in zip(returned[keep], _iso(back[keep]), strict=True):
        o, line = rows[i], i
        rows.append(
            (o[0], o[1], when, o[3], o[4], o[5], 1, o[7], "EUR", "return", f"R{o[0][1:]}-{line}")
        )
    cancel = np.flatnonzero((rng.random(len(order_ids)) < 0.005) & (buyer_ids != ""))
    first_line = np.searchsorted(line_order, cancel)
    when = _iso(np.minimum(order_at[cancel] + rng.integers(600, DAY, len(cancel)), end_s - 1))
    for i, stamp in zip(first_line, when, strict=True):
        o = rows[i]
        rows.append(
            (o[0], o[1], stamp, o[3], o[4], o[5], o[6], o[7], "EUR", "cancellation", f"X{o[0][1:]}")
        )
    w.rows("orders", rows)


def _shipments(
    w: _Writers, rng: np.random.Generator, order_ids: np.ndarray, order_at: np.ndarray, end_s: float
) -> None:
    recent = np.flatnonzero(order_at > end_s - SHIPMENT_DAYS * DAY)
    k = len(recent)
    if not k:
        return
    t0 = order_at[recent]
    confirmed = t0 + rng.integers(300, 7200, k)
    packed = confirmed + rng.integers(2, 24, k) * 3600
    shipped = packed + rng.integers(2, 24, k) * 3600
    in_transit = shipped + rng.integers(1, 12, k) * 3600
    eta = shipped + rng.integers(2, 6, k) * DAY
    late = rng.random(k) < 0.08
    delayed = in_transit + rng.integers(12, 36, k) * 3600
    out_for_delivery = np.where(late, eta + rng.integers(1, 3, k) * DAY, eta) - 4 * 3600
    delivered = out_for_delivery + rng.integers(1, 8, k) * 3600
    carrier = rng.choice(["DHL", "UPS", "PostNord", "Yurtiçi", "CJ", "DPD"], size=k)
    steps = [
        ("placed", t0, None),
        ("confirmed", confirmed, None),
        ("packed", packed, None),
        ("shipped", shipped, None),
        ("in_transit", in_transit, eta),
        ("delayed", np.where(late, delayed, np.inf), eta),
        ("out_for_delivery", out_for_delivery, None),
        ("delivered", delivered, None),
    ]
    rows = []
    for status, times, eta_col in steps:
        ok = times < end_s
        stamps = _iso(np.where(ok, times, 0))
        etas = _iso(eta_col) if eta_col is not None else None
        for j in np.flatnonzero(ok):
            rows.append(
                (
                    order_ids[recent[j]],
                    status,
                    stamps[j],
                    etas[j] if etas is not None else "",
                    carrier[j],
                )
            )
    w.rows("shipments", rows)


def _tickets(
    w: _Writers,
    rng: np.random.Generator,
    order_ids: np.ndarray,
    buyer_ids: np.ndarray,
    order_at: np.ndarray,
    end_s: float,
) -> None:
    pick = np.flatnonzero((rng.random(len(order_ids)) < 0.06) & (buyer_ids != ""))
    k = len(pick)
    opened = order_at[pick] + rng.integers(3600, 10 * DAY, k)
    first = opened + rng.lognormal(np.log(2 * 3600), 1.0, k)
    resolved = first + rng.lognormal(np.log(20 * 3600), 1.0, k)
    channel = rng.choice(["email", "chat", "phone", "social"], size=k, p=[0.45, 0.35, 0.15, 0.05])
    topic = rng.choice(["delivery", "return", "product", "payment", "account"], size=k)
    touches = 1 + rng.poisson(1.5, k)
    o, f, r = _iso(opened), _iso(first), _iso(resolved)
    rows = []
    for j in range(k):
        if opened[j] >= end_s:
            continue
        rows.append(
            (
                f"T{order_ids[pick[j]][1:]}",
                buyer_ids[pick[j]],
                channel[j],
                topic[j],
                o[j],
                f[j] if first[j] < end_s else "",
                r[j] if resolved[j] < end_s else "",
                touches[j],
            )
        )
    w.rows("interactions", rows)
