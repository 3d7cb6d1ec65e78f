"""Small CSV writers and database counts for ingest tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

CUSTOMERS_HEADER = (
    "customer_id,email,first_name,locale,time_zone,country,email_consent,push_consent"
)
ORDERS_HEADER = (
    "order_id,customer_id,ordered_at,sku,category,quantity,unit_price,currency,type,return_id"
)
RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def write(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def customers_csv(path: Path, *rows: str) -> Path:
    return write(path, CUSTOMERS_HEADER, *rows)


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))
