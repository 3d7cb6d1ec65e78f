"""Customer features in SQL agree with a plain Python computation from the same rows."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from models import (
    Customer,
    CustomerFeatures,
    Interaction,
    Message,
    Order,
    OrderLine,
    OrderReturn,
    Product,
    SupportTicket,
    SurveyAnswer,
)
from segments.features import FIELDS, MARK, refresh_features

AS_OF = date(2026, 6, 30)
CUTOFF = datetime(2026, 7, 1, tzinfo=UTC)
CATEGORIES = ["coffee", "books", "toys", None]


def at(rng: random.Random) -> datetime:
    """A moment around the as-of date, some of them after it (which must not count)."""
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 200 * 24 * 60))


def build(engine: Engine, seed: int) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in ("orders", "lines", "returns")}
    rows.update(tickets=[], messages=[], answers=[], interactions=[])
    customers = [
        {
            "id": i,
            "external_id": f"c{i}",
            "locale": rng.choice(["en", "tr", "de"]),
            "country": rng.choice(["GB", "TR", None]),
            "time_zone": "Europe/Istanbul",
            # Some customers only appear after the as-of date: no row unless they bought before.
            "created_at": datetime(2025, 1, 1, tzinfo=UTC)
            if i % 9
            else datetime(2026, 8, 1, tzinfo=UTC),
        }
        for i in range(1, 41)
    ]
    products = [
        {"id": k + 1, "sku": f"S{k}", "category": CATEGORIES[k % len(CATEGORIES)]} for k in range(8)
    ]
    order_id = line_id = 0
    for cust in [*customers, None]:  # None: guest orders, which count for no one
        for _ in range(rng.choice([0, 1, 2, 3, 6])):
            order_id += 1
            lines = []
            for line_no in range(1, rng.randint(1, 3) + 1):
                line_id += 1
                lines.append(
                    {
                        "id": line_id,
                        "order_id": order_id,
                        "line_no": line_no,
                        "sku": rng.choice(products)["sku"],
                        "quantity": rng.randint(1, 3),
                        "unit_price": rng.choice([1.1, 2.35, 9.99, 12.5]),
                    }
                )
            empty = rng.random() < 0.1  # an order with nothing in it is no order
            rows["orders"].append(
                {
                    "id": order_id,
                    "external_id": f"o{order_id}",
                    "customer_id": cust["id"] if cust else None,
                    "ordered_at": at(rng),
                    "total": 0.0 if empty else sum(x["quantity"] * x["unit_price"] for x in lines),
                    "items": 0 if empty else sum(x["quantity"] for x in lines),
                }
            )
            rows["lines"] += lines
            if rng.random() < 0.3:
                rows["returns"].append(
                    {
                        "external_id": f"r{order_id}",
                        "customer_id": cust["id"] if cust else None,
                        "order_id": order_id,
                        "kind": rng.choice(["return", "cancellation"]),
                        "returned_at": at(rng),
                        "amount": rng.choice([1.1, 2.35, 5.0]),
                    }
                )
    for cust in customers:
        cid = cust["id"]
        for k in range(rng.choice([0, 1, 2])):
            opened = at(rng)
            resolved = rng.choice([None, opened + timedelta(days=rng.randint(0, 60))])
            rows["tickets"].append(
                {
                    "external_id": f"t{cid}-{k}",
                    "customer_id": cid,
                    "channel": "email",
                    "opened_at": opened,
                    "resolved_at": resolved,
                }
            )
        for k in range(rng.choice([0, 1, 3])):
            mid = len(rows["messages"]) + 1
            status = rng.choice(["sent", "sent", "failed", "planned"])
            sent_at = at(rng) if status == "sent" else None
            rows["messages"].append(
                {
                    "id": mid,
                    "campaign": "c",
                    "period": f"p{k}",
                    "customer_id": cid,
                    "channel": "email",
                    "status": status,
                    "sent_at": sent_at,
                }
            )
            if rng.random() < 0.5:
                kind = rng.choice(["csat", "csat", "nps"])
                rows["answers"].append(
                    {
                        "message_id": mid,
                        "customer_id": cid,
                        "survey": "s",
                        "kind": kind,
                        "score": rng.choice([None, 1, 3, 5]),
                        "answered_at": at(rng),
                    }
                )
            for n in range(rng.choice([0, 1, 2])):
                rows["interactions"].append(
                    {
                        "customer_id": cid,
                        "kind": rng.choice(["opened", "clicked", "delivered"]),
                        "occurred_at": at(rng),
                        "message_id": mid,
                        "source_ref": f"e{cid}-{mid}-{n}",
                    }
                )
    with engine.begin() as conn:
        conn.execute(insert(Customer), customers)
        conn.execute(insert(Product), products)
        for table, key in (
            (Order, "orders"),
            (OrderLine, "lines"),
            (OrderReturn, "returns"),
            (SupportTicket, "tickets"),
            (Message, "messages"),
            (SurveyAnswer, "answers"),
            (Interaction, "interactions"),
        ):
            if rows[key]:
                conn.execute(insert(table), rows[key])
    rows["customers"], rows["products"] = customers, products
    return rows


def expected(rows: dict[str, list[dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    """The features, one customer at a time, in plain Python."""
    today = AS_OF
    category_of = {p["sku"]: p["category"] for p in rows["products"]}
    out = {}
    for cust in rows["customers"]:
        cid = cust["id"]
        orders = [
            o
            for o in rows["orders"]
            if o["customer_id"] == cid and o["items"] > 0 and o["total"] > 0
            if o["ordered_at"] < CUTOFF
        ]
        if cust["created_at"] >= CUTOFF and not orders:
            continue
        ids = {o["id"] for o in orders}
        back = [r for r in rows["returns"] if r["customer_id"] == cid and r["returned_at"] < CUTOFF]
        revenue = round(sum(o["total"] for o in orders) - sum(r["amount"] for r in back), 2)
        lines = Counter(
            category_of[x["sku"]]
            for x in rows["lines"]
            if x["order_id"] in ids and category_of[x["sku"]]
        )
        top = min(lines, key=lambda c: (-lines[c], c)) if lines else None
        tickets = [
            t for t in rows["tickets"] if t["customer_id"] == cid and t["opened_at"] < CUTOFF
        ]
        answers = sorted(
            (
                a
                for a in rows["answers"]
                if a["customer_id"] == cid
                and a["kind"] == "csat"
                and a["score"] is not None
                and a["answered_at"] < CUTOFF
            ),
            key=lambda a: a["answered_at"],
        )
        seen = [i for i in rows["interactions"] if i["customer_id"] == cid]
        first = min((o["ordered_at"] for o in orders), default=None)
        last = max((o["ordered_at"] for o in orders), default=None)
        out[cid] = {
            "locale": cust["locale"],
            "country": cust["country"],
            "time_zone": cust["time_zone"],
            "first_order_at": first,
            "last_order_at": last,
            "orders": len(orders),
            "order_days": len({o["ordered_at"].date() for o in orders}),
            "revenue": revenue,
            "avg_order_value": pytest.approx(revenue / len(orders) if orders else 0.0),
            "days_since_last_order": (today - last.date()).days if last else None,
            "tenure_days": (today - first.date()).days if first else None,
            "categories": len(lines),
            "top_category": top,
            "returns": sum(r["kind"] == "return" for r in back),
            "cancellations": sum(r["kind"] == "cancellation" for r in back),
            "open_tickets": sum(
                t["resolved_at"] is None or t["resolved_at"] >= CUTOFF for t in tickets
            ),
            "resolved_tickets": sum(
                t["resolved_at"] is not None and t["resolved_at"] < CUTOFF for t in tickets
            ),
            "last_csat": answers[-1]["score"] if answers else None,
            "last_csat_at": answers[-1]["answered_at"] if answers else None,
            "last_csat_days_ago": (today - answers[-1]["answered_at"].date()).days
            if answers
            else None,
            "messages_received": sum(
                m["customer_id"] == cid and m["status"] == "sent" and m["sent_at"] < CUTOFF
                for m in rows["messages"]
            ),
            "messages_opened": sum(
                i["kind"] == "opened" and i["occurred_at"] < CUTOFF for i in seen
            ),
            "messages_clicked": sum(
                i["kind"] == "clicked" and i["occurred_at"] < CUTOFF for i in seen
            ),
        }
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_features_match_plain_python(engine: Engine, seed: int) -> None:
    rows = build(engine, seed)
    want = expected(rows)
    with engine.begin() as conn:
        count = refresh_features(conn, as_of=AS_OF)
        got = {
            r.customer_id: r._asdict()
            for r in conn.execute(select(CustomerFeatures.__table__)).all()
        }
    assert count == len(want) == len(got)
    assert set(got) == set(want)
    for cid, features in want.items():
        row = got[cid]
        assert row["as_of"] == AS_OF
        for name, value in features.items():
            assert row[name] == value, (cid, name)
    bought = {
        (o["customer_id"], p["category"])
        for o in rows["orders"]
        for x in rows["lines"]
        for p in rows["products"]
        if x["order_id"] == o["id"] and p["sku"] == x["sku"] and p["category"]
        and o["customer_id"] is not None and o["items"] > 0 and o["total"] > 0
        and o["ordered_at"] < CUTOFF
    }  # fmt: skip
    listed = {
        (cid, name)
        for cid, row in got.items()
        for name in row["bought_categories"].split(MARK)
        if name
    }
    assert listed == bought
    assert all(
        row["bought_categories"] == "" or row["bought_categories"].startswith(MARK)
        for row in got.values()
    )


def test_every_rule_field_is_a_feature_column() -> None:
    columns = set(CustomerFeatures.__table__.c.keys())
    assert set(FIELDS) <= columns
    assert {"customer_id", "as_of", "bought_categories"} | set(FIELDS) == columns


def test_a_second_refresh_replaces_the_first(engine: Engine) -> None:
    build(engine, 3)
    with engine.begin() as conn:
        first = refresh_features(conn, as_of=AS_OF)
        again = refresh_features(conn, as_of=AS_OF)
        stored = conn.execute(select(CustomerFeatures.customer_id)).all()
    assert first == again == len(stored)
