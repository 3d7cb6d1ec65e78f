"""What every chunk of the synthetic store shares: zones, names, products, and when people shop.

:class:`World` holds the population-wide tables (time zones and their offsets, names per
market, the product price list, carriers per zone) and the shopping rhythm: seasonality
by local month and weekday, and the local hours people buy at. :class:`Customers`,
:class:`Orders` and :class:`Episodes` carry one chunk from one generator module to the next.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from synthetic.localtime import DAY, HOUR, OffsetTable
from synthetic.markets import CATEGORIES, MARKETS

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


@dataclass
class Customers:
    """The customers of one chunk, one array element each."""

    ids: np.ndarray  # external ids, "C00000001"
    zone: np.ndarray  # index into World.zones
    market: np.ndarray
    signup: np.ndarray  # epoch seconds


@dataclass
class Orders:
    """The orders of one chunk in time order."""

    ids: np.ndarray  # "O000000001"
    customer: np.ndarray  # index into the chunk's customers
    buyer: np.ndarray  # external customer id, "" for a guest order
    at: np.ndarray  # epoch seconds
    zone: np.ndarray


class Episodes(NamedTuple):
    """Orders of a chunk something happened to (a return, a delay), and when."""

    orders: np.ndarray  # indexes into the chunk's orders
    at: np.ndarray  # epoch seconds


def pick(rng: np.random.Generator, weights: Iterable[float], size: int) -> np.ndarray:
    """``size`` indexes drawn with the given (unnormalised) weights."""
    p = np.asarray(list(weights), dtype=float)
    return rng.choice(len(p), size=size, p=p / p.sum())


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in ascii_name if ch.isalnum())


def _names(entries: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Names as written, and their e-mail form ("민준|minjun" is written 민준, mailed minjun)."""
    shown = [e.split("|")[0] for e in entries]
    mailed = [_slug(e.split("|")[-1]) for e in entries]
    return shown, mailed


class World:
    """Population-wide tables (zones, offsets, names, products) over ``[start_s, end_s)``."""

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

    def local_moment(
        self, rng: np.random.Generator, zone: np.ndarray, utc: np.ndarray
    ) -> np.ndarray:
        """The same local day as ``utc``, at an hour people shop (evenings busiest)."""
        day = self.tz.local_day(zone, utc)
        local = (
            day + rng.choice(24, size=len(utc), p=HOURS) * HOUR + rng.integers(0, HOUR, len(utc))
        )
        return self.tz.at_local(zone, local).astype(float)

    def at_local_hour(
        self, rng: np.random.Generator, zone: np.ndarray, utc: np.ndarray, lo: int, hi: int
    ) -> np.ndarray:
        """The same local day as ``utc``, between local hours ``lo`` and ``hi``."""
        day = self.tz.local_day(zone, utc)
        local = day + rng.integers(lo * HOUR, hi * HOUR, len(utc))
        return self.tz.at_local(zone, local).astype(float)

    def demand(self, zone: np.ndarray, utc: np.ndarray) -> np.ndarray:
        """Relative demand by local month and weekday, scaled to at most 1 (for thinning)."""
        local = utc + self.tz.offsets(zone, utc)
        month = local.astype("int64").astype("datetime64[s]").astype("datetime64[M]")
        weekday = (local // DAY + 3).astype(np.int64) % 7  # 1970-01-01 was a Thursday
        return SEASON[month.astype(np.int64) % 12] * WEEKDAY[weekday] / PEAK
