"""Rendering for sending: the renderer, and the template context of a batch of recipients.

The context follows the templates' contract: ``customer``, ``store``, ``links``
(unsubscribe, preferences, shop), ``products`` and ``order`` (the customer's last order),
``category``, ``discount`` and ``deep_link``, plus whatever the campaign's ``context``
mapping adds. One query per batch reads the last orders; nothing per recipient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from campaigns.campaign import Campaign
from campaigns.ledger import Recipient
from campaigns.links import preferences_url, unsubscribe_url
from models.base import table
from models.campaigns import CampaignKind
from models.settings import Settings, get_settings
from models.store import Order, OrderLine, Product, counted_order
from templates import Renderer
from templates.renderer import MessageRenderer

ORDER = table(Order)
LINE = table(OrderLine)
PRODUCT = table(Product)
PRODUCTS_SHOWN = 3

# (connection, recipients) -> {ledger id: context}; surveys pass their own.
ContextBuilder = Callable[[Connection, Sequence[Recipient]], dict[int, dict[str, Any]]]


def default_renderer() -> Renderer:
    """The store's renderer: its own templates folder if it has one, and its brand."""
    settings = get_settings()
    folder = settings.definitions_dir / "templates" if settings.definitions_dir else None
    return Renderer(
        directory=folder if folder and folder.is_dir() else None, brand=settings.brand_file
    )


def choice_label(template: str | None, choice: str, locale: str | None) -> str:
    """The words of ``choice`` as the customer clicked them in a feedback email, in their
    language (the answer page repeats them); the choice's name when no catalog has it."""
    catalogs = default_renderer().library.catalogs
    key = f"{template or 'feedback_survey'}.choices.{choice}"
    return catalogs.find(key, catalogs.chain(locale)) or choice


def shop_url(
    campaign: Campaign | None, renderer: MessageRenderer | None, settings: Settings
) -> str:
    """The store's website: the campaign's ``shop_url``, the brand's website, or the
    service's public URL."""
    own = campaign.context.get("shop_url") if campaign else None
    library = getattr(renderer, "library", None)
    brand = library.store().get("website") if library is not None else None
    return str(own or brand or settings.public_url).rstrip("/")


def last_orders(conn: Connection, customer_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each customer's last order with up to three of its products."""
    if not customer_ids:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=ORDER.c.customer_id,
            order_by=(ORDER.c.ordered_at.desc(), ORDER.c.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            ORDER.c.id,
            ORDER.c.customer_id,
            ORDER.c.external_id,
            ORDER.c.ordered_at,
            ORDER.c.total,
            ORDER.c.currency,
            rank,
        )
        .where(ORDER.c.customer_id.in_(list(customer_ids)), counted_order())
        .subquery()
    )
    orders = {r.id: r for r in conn.execute(select(ranked).where(ranked.c.rank == 1)).all()}
    if not orders:
        return {}
    lines = conn.execute(
        select(LINE.c.order_id, LINE.c.sku, LINE.c.unit_price, PRODUCT.c.name, PRODUCT.c.category)
        .select_from(LINE.outerjoin(PRODUCT, PRODUCT.c.sku == LINE.c.sku))
        .where(LINE.c.order_id.in_(list(orders)))
        .order_by(LINE.c.order_id, LINE.c.line_no)
    ).all()
    products: dict[int, list[Any]] = {}
    for line in lines:
        shown = products.setdefault(line.order_id, [])
        if len(shown) < PRODUCTS_SHOWN and all(p.sku != line.sku for p in shown):
            shown.append(line)
    return {
        o.customer_id: {"order": o, "lines": products.get(order_id, [])}
        for order_id, o in orders.items()
    }


class CampaignContext:
    """The template context of a batch for one campaign."""

    def __init__(
        self,
        campaign: Campaign | None,
        settings: Settings,
        renderer: MessageRenderer | None = None,
    ) -> None:
        self.campaign = campaign
        self.settings = settings
        self.extra = dict(campaign.context) if campaign else {}
        self.shop = shop_url(campaign, renderer, self.settings)
        self.wants_orders = campaign is None or campaign.kind not in (
            CampaignKind.newsletter,
            CampaignKind.promotion,
        )

    def __call__(self, conn: Connection, batch: Sequence[Recipient]) -> dict[int, dict[str, Any]]:
        orders = last_orders(conn, [r.customer_id for r in batch]) if self.wants_orders else {}
        out: dict[int, dict[str, Any]] = {}
        for r in batch:
            found = orders.get(r.customer_id)
            context: dict[str, Any] = {
                "customer": {
                    "first_name": r.first_name or "",
                    "last_name": r.last_name or "",
                    "locale": r.locale,
                },
                "links": {
                    "unsubscribe": unsubscribe_url(
                        message_id=r.id, customer_id=r.customer_id, settings=self.settings
                    ),
                    "preferences": preferences_url(
                        message_id=r.id, customer_id=r.customer_id, settings=self.settings
                    ),
                    "shop": self.shop,
                },
                "deep_link": self.extra.get("deep_link", self.shop),
                "products": [],
            }
            if found:
                order = found["order"]
                context["order"] = {
                    "number": order.external_id,
                    "date": order.ordered_at.date(),
                    "total": order.total,
                    "currency": order.currency,
                }
                context["products"] = [
                    {
                        "name": line.name or line.sku,
                        "url": f"{self.shop}/products/{line.sku}",
                        "price": line.unit_price,
                        "currency": order.currency,
                    }
                    for line in found["lines"]
                ]
                category = next((line.category for line in found["lines"] if line.category), None)
                if category:
                    context["category"] = category
            for key, value in self.extra.items():
                if key in ("shop_url", "deep_link"):
                    continue
                if isinstance(value, dict) and isinstance(context.get(key), dict):
                    context[key] = {**value, **context[key]}
                else:
                    context.setdefault(key, value)
            out[r.id] = context
        return out
