"""The synthetic store: reproducible, realistic, and valid input for ingestion."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from ingest.run import ingest_file
from synthetic import write_store

END = date(2026, 11, 20)
FILES = ("customers", "orders", "interactions", "shipments", "devices")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("store")
    write_store(out=out, customers=2500, seed=11, end=END)
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(store: Path, tmp_path: Path) -> None:
    write_store(out=tmp_path / "same", customers=2500, seed=11, end=END)
    write_store(out=tmp_path / "other", customers=2500, seed=12, end=END)
    for name in FILES:
        assert (store / f"{name}.csv").read_bytes() == (
            tmp_path / "same" / f"{name}.csv"
        ).read_bytes()
    assert (store / "orders.csv").read_bytes() != (tmp_path / "other" / "orders.csv").read_bytes()


def test_store_looks_like_a_real_one(store: Path) -> None:
    customers = pd.read_csv(store / "customers.csv", keep_default_na=False)
    orders = pd.read_csv(store / "orders.csv", keep_default_na=False)
    assert {"en", "tr", "hu", "ko", "de", "fr", "pl", "sv", "ar", "pt-BR"} <= set(customers.locale)
    assert customers.time_zone.nunique() >= 10
    consents = set(customers.email_consent) - {""}  # "" for the few without an address
    assert consents == {"subscribed", "unsubscribed", "bounced", "complained"}
    emails = customers.email[customers.email != ""]  # the few without an address
    assert emails.is_unique and len(emails) > 0.95 * len(customers)
    bought = orders[(orders.type == "order") & (orders.customer_id != "")]
    per_customer = bought.groupby("customer_id").order_id.nunique()
    assert 0.3 < (per_customer >= 2).mean() < 0.95  # repeat buyers exist, and so do one-timers
    assert per_customer.max() >= 10 * per_customer.median() / 2  # heterogeneous purchase rates
    assert {"return", "cancellation"} <= set(orders.type)
    assert (orders.customer_id == "").any()  # guest orders
    stamps = pd.to_datetime(orders.ordered_at, utc=True)
    assert stamps.max() < pd.Timestamp(END, tz="UTC")
    months = stamps[orders.type == "order"].dt.month.value_counts()
    assert months[12] > months[6]  # the December peak
    tickets = pd.read_csv(store / "interactions.csv", keep_default_na=False)
    assert (tickets.resolved_at == "").any() and (tickets.resolved_at != "").any()
    shipments = pd.read_csv(store / "shipments.csv")
    assert {"delivered", "delayed", "in_transit"} <= set(shipments.status)
    assert len(pd.read_csv(store / "devices.csv")) > 0


def test_every_generated_row_ingests(engine: Engine, store: Path) -> None:
    for name in FILES:
        got = ingest_file(kind=name, path=store / f"{name}.csv", engine=engine)
        assert got.quarantined == 0, (name, got.quarantine_reasons)
        assert got.loaded + got.guest_lines + got.cancellations == got.read
