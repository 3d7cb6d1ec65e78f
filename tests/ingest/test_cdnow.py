"""CDNOW: the sample and the master file ingest to their published customer counts."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from ingest.run import ingest_file
from models import Customer, Order, OrderLine, Quarantine
from tests.conftest import DATA
from tests.ingest.helpers import count


def independent(lines: list[str], *, columns: int) -> dict[str, float]:
    """Customers, customer-days and dollars, read with plain Python."""
    rows = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    date_at = 2 if columns == 5 else 1
    return {
        "rows": len(rows),
        "customers": len({int(r[0]) for r in rows}),
        "orders": len({(int(r[0]), r[date_at]) for r in rows}),
        "dollars": sum(float(r[-1]) for r in rows),
    }


@pytest.mark.parametrize(
    ("name", "columns", "customers", "orders"),
    [("CDNOW_sample.txt", 5, 2_357, 6_696), ("CDNOW_master.txt.gz", 4, 23_570, 67_591)],
)
def test_file_ingests_to_its_published_customers(
    engine: Engine, name: str, columns: int, customers: int, orders: int
) -> None:
    path = DATA / name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt") as fh:
        want = independent(fh.read().splitlines(), columns=columns)
    assert (want["customers"], want["orders"]) == (customers, orders)  # the data set's README
    got = ingest_file(kind="orders", path=path, fmt="cdnow", engine=engine)
    assert got.read == got.loaded == want["rows"]
    assert got.created["customers"] == customers
    with engine.connect() as conn:
        assert count(engine, Customer) == customers
        assert count(engine, Order) == orders
        assert count(engine, OrderLine) == want["rows"]
        assert conn.scalar(select(func.sum(Order.total))) == pytest.approx(want["dollars"])


def test_four_column_file_with_header(engine: Engine, tmp_path: Path) -> None:
    f = tmp_path / "master.txt"
    f.write_text(
        " customer_id  date number_of_cds  dollar_value\n"
        " 00001 19970101  1   11.77\n 00002 19970112  1   12.00\n 00002 19970112  5   77.00\n"
    )
    got = ingest_file(kind="orders", path=f, fmt="cdnow", engine=engine)
    assert (got.read, got.loaded) == (3, 3)
    with engine.connect() as conn:
        orders = {
            o.external_id: (o.total, o.items, o.ordered_at)
            for o in conn.execute(select(Order)).all()
        }
    assert orders == {
        "cdnow-1-19970101": (11.77, 1, datetime(1997, 1, 1, tzinfo=UTC)),
        "cdnow-2-19970112": (pytest.approx(89.0), 6, datetime(1997, 1, 12, tzinfo=UTC)),
    }


def test_bad_lines_are_quarantined_and_neighbours_load(engine: Engine, tmp_path: Path) -> None:
    f = tmp_path / "cdnow.txt"
    f.write_text(
        " 00001 0001 19970101  1   11.77\n"
        " 00002 0002 19970231  1   12.00\n"
        " 0000x 0003 19970102  1   12.00\n"
        " 00004 0004 19970102  1   -3.00\n"
        " 00005 0005 19970102\n"
        " 00006 0006 19970103  2   20.00\n"
    )
    got = ingest_file(kind="orders", path=f, fmt="cdnow", engine=engine)
    assert (got.read, got.loaded, got.quarantined) == (6, 2, 4)
    with engine.connect() as conn:
        reasons = dict(conn.execute(select(Quarantine.line_no, Quarantine.field)).all())
    assert reasons == {2: "date", 3: "customer", 4: "dollars", 5: None}
