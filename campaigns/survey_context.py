"""The template context of a survey: the campaign's, plus the one-click answer links and,
after a delivery, the order that was delivered with up to three of its products.

Kept apart from planning and sending: it changes with the survey templates' contract.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from campaigns.definitions import Campaign
from campaigns.links import survey_links
from campaigns.render import CampaignContext
from campaigns.survey_triggers import TRIGGER_KEY, choices
from models.base import table
from models.campaigns import ANSWER_KINDS
from models.settings import Settings
from models.store import Order, OrderLine, Product

ORDER = table(Order)
LINE = table(OrderLine)
PRODUCT = table(Product)
PRODUCTS_SHOWN = 3


class SurveyContext:
    """The campaigns context plus the answer links and, after a delivery, that order."""

    def __init__(self, campaign: Campaign, settings: Settings) -> None:
        self.campaign = campaign
        self.settings = settings
        self.base = CampaignContext(campaign, settings)
        self.answer_kind = ANSWER_KINDS.get(campaign.kind)
        self.choices = choices(campaign)

    def __call__(self, conn: Connection, batch: Sequence[Any]) -> dict[int, dict[str, Any]]:
        contexts = self.base(conn, batch)
        orders = _orders(
            conn,
            [
                int(m.group(2))
                for r in batch
                if (m := TRIGGER_KEY.match(r.period)) and m.group(1) == "delivered"
            ],
        )
        for r in batch:
            context = contexts[r.id]
            if self.answer_kind:
                context["links"].update(
                    survey_links(
                        message_id=r.id,
                        customer_id=r.customer_id,
                        kind=self.answer_kind,
                        choices=self.choices,
                        settings=self.settings,
                    )
                )
            match = TRIGGER_KEY.match(r.period)
            if match and match.group(1) == "delivered":
                found = orders.get(int(match.group(2)))
                if found:
                    context["order"], context["products"] = found(self.base.shop)
        return contexts


def _orders(conn: Connection, order_ids: Sequence[int]) -> dict[int, Callable[[str], Any]]:
    """The delivered orders of a batch with up to three products each."""
    if not order_ids:
        return {}
    orders = {
        o.id: o
        for o in conn.execute(
            select(
                ORDER.c.id, ORDER.c.external_id, ORDER.c.ordered_at, ORDER.c.total, ORDER.c.currency
            ).where(ORDER.c.id.in_(list(order_ids)))
        )
    }
    lines: dict[int, list[Any]] = {}
    for line in conn.execute(
        select(LINE.c.order_id, LINE.c.sku, LINE.c.unit_price, PRODUCT.c.name)
        .select_from(LINE.outerjoin(PRODUCT, PRODUCT.c.sku == LINE.c.sku))
        .where(LINE.c.order_id.in_(list(orders)))
        .order_by(LINE.c.order_id, LINE.c.line_no)
    ):
        shown = lines.setdefault(line.order_id, [])
        if len(shown) < PRODUCTS_SHOWN and all(p.sku != line.sku for p in shown):
            shown.append(line)

    def build(order: Any) -> Callable[[str], Any]:
        def make(shop: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            return (
                {
                    "number": order.external_id,
                    "date": order.ordered_at.date(),
                    "total": order.total,
                    "currency": order.currency,
                },
                [
                    {
                        "name": line.name or line.sku,
                        "url": f"{shop}/products/{line.sku}",
                        "price": line.unit_price,
                        "currency": order.currency,
                    }
                    for line in lines.get(order.id, [])
                ],
            )

        return make

    return {order_id: build(order) for order_id, order in orders.items()}
