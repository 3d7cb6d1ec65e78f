"""Small CSV writers for ingest tests."""

from __future__ import annotations

from pathlib import Path

CUSTOMERS_HEADER = (
    "customer_id,email,first_name,locale,time_zone,country,email_consent,push_consent"
)


def write(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def customers_csv(path: Path, *rows: str) -> Path:
    return write(path, CUSTOMERS_HEADER, *rows)


ORDERS_HEADER = (
    "order_id,customer_id,ordered_at,sku,category,quantity,unit_price,currency,type,return_id"
)
