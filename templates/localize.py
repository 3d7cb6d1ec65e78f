"""Category and product names in the message's language, from the catalogs.

The data has a category slug (``pet_food``) and product names in the shop's language;
the catalogs name them per locale:

    categories:
      pet_food: "evcil hayvan maması"
    product_names:
      "Stoneware Mug, Sage": "Taş Kupa, Adaçayı"

A name is looked up along the locale's own chain, then the default locale; the slug
itself is the last resort, which ``templates validate`` reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from templates.catalogs import Catalogs

CATEGORIES = "categories."
PRODUCTS = "product_names."


def name_of(catalogs: Catalogs, prefix: str, value: str, locale: str) -> tuple[str, str | None]:
    """(name, catalog locale it came from, None if the value itself is used)."""
    key = f"{prefix}{value.strip()}"
    for candidate in (*catalogs.own_chain(locale), catalogs.default):
        text = catalogs.texts.get(candidate, {}).get(key)
        if text is not None:
            return text, candidate
    return value, None


def localized(catalogs: Catalogs, context: Mapping[str, Any], locale: str) -> Mapping[str, Any]:
    """``context`` with its category and product names translated (the same object when
    nothing changes, so the common message costs two dictionary lookups)."""
    changes: dict[str, Any] = {}
    category = context.get("category")
    if isinstance(category, str) and category.strip():
        name, _ = name_of(catalogs, CATEGORIES, category, locale)
        if name != category:
            changes["category"] = name
    products = context.get("products")
    if isinstance(products, list) and products:
        renamed = []
        changed = False
        for item in products:
            value = item.get("name") if isinstance(item, Mapping) else None
            if isinstance(value, str) and value.strip():
                name, found = name_of(catalogs, PRODUCTS, value, locale)
                if found is not None and name != value:
                    item = {**item, "name": name}
                    changed = True
            renamed.append(item)
        if changed:
            changes["products"] = renamed
    return {**context, **changes} if changes else context
