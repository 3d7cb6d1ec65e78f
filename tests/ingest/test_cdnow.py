"""CDNOW: the sample ingests to its 2,357 customers; purchases of one day form one order."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from ingest.run import ingest_file
from models import Customer, Order, OrderLine
from tests.conftest import DATA


def test_sample_ingests_to_2357_customers(engine: Engine) -> None:
    got = ingest_file(kind="orders", path=DATA / "CDNOW_sample.txt", fmt="cdnow", engine=engine)
    assert got.read == got.loaded == 6_919
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Customer)) == 2_357
        assert conn.scalar(select(func.count()).select_from(Order)) == 6_696
        assert conn.scalar(select(func.count()).select_from(OrderLine)) == 6_919
        dollars = sum(
            float(line.split()[4]) for line in (DATA / "CDNOW_sample.txt").read_text().splitlines()
        )
        assert abs(conn.scalar(select(func.sum(Order.total))) - dollars) < 0.01


def test_four_column_file_with_header(engine: Engine, tmp_path) -> None:
    f = tmp_path / "master.txt"
    f.write_text(
        " customer_id  date number_of_cds  dollar_value\n"
        " 00001 19970101  1   11.77\n 00002 19970112  1   12.00\n 00002 19970112  5   77.00\n"
    )
    got = ingest_file(kind="orders", path=f, fmt="cdnow", engine=engine)
    assert (got.read, got.loaded) == (3, 3)
    with engine.connect() as conn:
        totals = dict(conn.execute(select(Order.external_id, Order.total)).all())
    assert totals == {"cdnow-1-19970101": 11.77, "cdnow-2-19970112": 89.0}
