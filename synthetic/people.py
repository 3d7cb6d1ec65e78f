"""Customers and their push devices for one chunk of the synthetic store.

Each customer belongs to a market (language, country, time zone, names), signs up at a
time weighted by season and by the store's growth, may leave no e-mail address, and has
e-mail consent with unsubscribes, bounces and complaints. About a third own a push device
(APNs-like tokens on iOS, FCM-like on Android), some two.
"""

from __future__ import annotations

import base64

import numpy as np

from synthetic.localtime import DAY, HOUR
from synthetic.markets import MARKETS
from synthetic.output import CsvFiles
from synthetic.world import Customers, World, pick

NO_EMAIL = 0.015
DEVICE = 0.35


def write_customers(
    world: World, w: CsvFiles, rng: np.random.Generator, first: int, n: int
) -> Customers:
    """Customers ``first + 1`` to ``first + n`` and their devices; gives the chunk's customers."""
    numbers = np.arange(first + 1, first + n + 1)
    ids = np.char.add("C", np.char.zfill(numbers.astype(str), 8))
    market = pick(rng, (m.share for m in MARKETS), n)
    zone = np.zeros(n, dtype=np.int64)
    for i, (zones, weights) in enumerate(world.market_zones):
        mine = np.flatnonzero(market == i)
        zone[mine] = zones[pick(rng, weights, len(mine))]
    signup = _signups(world, rng, zone)
    cust = Customers(ids, zone, market, signup)

    first_i = rng.integers(0, 1 << 30, n)
    last_i = rng.integers(0, 1 << 30, n)
    has_email = rng.random(n) >= NO_EMAIL
    email_consent = np.where(
        has_email,
        np.array(["subscribed", "unsubscribed", "bounced", "complained"])[
            pick(rng, (0.81, 0.15, 0.03, 0.01), n)
        ],
        "",
    )
    source = np.array(["signup", "checkout", "import"])[pick(rng, (0.6, 0.3, 0.1), n)]
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
        world.tz.iso(zone, signup).tolist(),
        strict=True,
    )
    rows = []
    for cid, m, z, number, fi, li, mail, born_on, consent, push, src, created in columns:
        (firsts, first_mail), (lasts, last_mail) = world.names[m]
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
                world.zones[z],
                market_.country,
                born_on,
                consent,
                push,
                src,
                created,
            )
        )
    w.rows("customers", rows)
    _devices(world, w, rng, cust, np.flatnonzero(device))
    return cust


def _devices(
    world: World, w: CsvFiles, rng: np.random.Generator, cust: Customers, owners: np.ndarray
) -> None:
    """Push tokens: APNs-like hex for iOS, FCM-like for Android; some own two devices."""
    owners = np.concatenate([owners, owners[rng.random(len(owners)) < 0.12]])
    owners.sort(kind="stable")
    k = len(owners)
    ios_share = np.array([m.ios_share for m in MARKETS])[cust.market[owners]]
    ios = rng.random(k) < ios_share
    signup = cust.signup[owners]
    created = signup + rng.exponential(45 * DAY, k)
    late = created >= world.end_s - HOUR
    created[late] = signup[late] + rng.random(late.sum()) * (world.end_s - HOUR - signup[late])
    raw = rng.bytes(k * 132)
    tokens = []
    for j, is_ios in enumerate(ios.tolist()):
        chunk = raw[j * 132 : (j + 1) * 132]
        if is_ios:
            tokens.append(chunk[:32].hex())
        else:
            text = base64.urlsafe_b64encode(chunk).decode().rstrip("=")
            tokens.append(f"{text[:22]}:APA91b{text[22:156]}")
    stamps = world.tz.iso(cust.zone[owners], created)
    platform = np.where(ios, "ios", "android")
    w.rows("devices", zip(cust.ids[owners], platform, tokens, stamps, strict=True))


def _signups(world: World, rng: np.random.Generator, zone: np.ndarray) -> np.ndarray:
    """Sign-ups over the period: more of them recently (the store grows), and in season."""
    span = world.end_s - world.start_s - DAY
    signup = np.empty(len(zone))
    todo = np.arange(len(zone))
    while len(todo):
        candidate = world.start_s + span * rng.random(len(todo)) ** 0.8
        ok = rng.random(len(todo)) < world.demand(zone[todo], candidate)
        signup[todo[ok]] = candidate[ok]
        todo = todo[~ok]
    moved = world.local_moment(rng, zone, signup)
    return np.where(moved < world.end_s - HOUR, moved, signup)
