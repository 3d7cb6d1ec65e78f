"""Each kind of bad input: a clear error naming file, line and field; good rows around it load."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from ingest.errors import IngestError
from ingest.run import ingest_file
from models import Customer, IngestRun, OrderLine, Quarantine
from tests.ingest.helpers import ORDERS_HEADER, customers_csv, write

GOOD_1 = "c1,a@example.com,Ann,en,Europe/London,GB,subscribed,"
GOOD_2 = "c3,b@example.com,Bea,de,Europe/Berlin,DE,subscribed,"


def quarantined(engine: Engine) -> list[tuple[int, str | None, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(select(Quarantine.line_no, Quarantine.field, Quarantine.reason))
        ]


def customer_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(Customer.external_id)).scalars())


@pytest.mark.parametrize(
    ("bad_row", "field", "words"),
    [
        ("c2,not-an-address,Bob,en,UTC,GB,,", "email", "not a valid address"),
        ("c2,bob@example.com,Bob,xx-QQQ,UTC,GB,,", "locale", "not a known locale"),
        ("c2,bob@example.com,Bob,en,Mars/Olympus,GB,,", "time_zone", "not an IANA time zone"),
        ("c2,bob@example.com,Bob,en,UTC,GB,maybe,", "email_consent", "expected one of subscribed"),
    ],
)
def test_bad_customer_row_is_quarantined_and_neighbours_load(
    engine: Engine, tmp_path: Path, bad_row: str, field: str, words: str
) -> None:
    path = customers_csv(tmp_path / "customers.csv", GOOD_1, bad_row, GOOD_2)
    got = ingest_file(kind="customers", path=path, engine=engine)
    assert (got.loaded, got.quarantined) == (2, 1)
    assert customer_ids(engine) == {"c1", "c3"}
    [(line, got_field, reason)] = quarantined(engine)
    assert (line, got_field) == (3, field)
    assert words in reason


@pytest.mark.parametrize(
    ("bad_row", "field", "words"),
    [
        ("o2,c1,2026-13-45T10:00:00Z,S1,,1,5,EUR,,", "ordered_at", "not a timestamp"),
        ("o2,c1,2026-01-05T10:00:00Z,S1,,1,-5,EUR,,", "unit_price", "negative"),
        ("o2,c1,2026-01-05T10:00:00Z,S1,,0,5,EUR,,", "quantity", "must be above 0"),
        ("o2,nobody,2026-01-05T10:00:00Z,S1,,1,5,EUR,,", "customer_id", "not a known customer"),
        ("o9,c1,2026-01-05T10:00:00Z,S1,,1,5,EUR,return,", "return_id", "required"),
    ],
)
def test_bad_order_row_is_quarantined_and_neighbours_load(
    engine: Engine, tmp_path: Path, bad_row: str, field: str, words: str
) -> None:
    ingest_file(kind="customers", path=customers_csv(tmp_path / "c.csv", GOOD_1), engine=engine)
    path = write(
        tmp_path / "orders.csv",
        ORDERS_HEADER,
        "o1,c1,2026-01-05T10:00:00Z,S1,,1,5,EUR,,",
        bad_row,
        "o3,c1,2026-01-06T10:00:00Z,S1,,2,5,EUR,,",
    )
    got = ingest_file(kind="orders", path=path, engine=engine)
    assert (got.loaded, got.quarantined) == (2, 1)
    [(line, got_field, reason)] = quarantined(engine)
    assert (line, got_field) == (3, field)
    assert words in reason
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OrderLine)) == 2


def test_missing_required_column_stops_and_loads_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,sku,unit_price",
        "o1,,2026-01-05T10:00:00Z,S1,5",
    )
    with pytest.raises(IngestError, match=r"orders\.csv: missing required column\(s\) quantity"):
        ingest_file(kind="orders", path=path, engine=engine)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OrderLine)) == 0
        assert conn.scalar(select(IngestRun.status)) == "failed"


def test_empty_file(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(b"")
    with pytest.raises(IngestError, match=r"customers\.csv: the file is empty"):
        ingest_file(kind="customers", path=path, engine=engine)


def test_truncated_gzip_loads_nothing(engine: Engine, tmp_path: Path) -> None:
    body = "\n".join([*(f"c{i},p{i}@example.com,P,en,UTC,GB,," for i in range(30_000))])
    data = gzip.compress(customers_csv(tmp_path / "plain.csv", body).read_bytes())
    path = tmp_path / "customers.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match=r"customers\.csv\.gz: the file is truncated or corrupt"):
        ingest_file(kind="customers", path=path, engine=engine)
    assert customer_ids(engine) == set()


def test_truncated_last_line_is_quarantined(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email,first_name,locale\nc1,a@example.com,Ann,en\nc2,b@exa")
    got = ingest_file(kind="customers", path=path, engine=engine)
    assert (got.loaded, got.quarantined) == (1, 1)
    [(line, field, reason)] = quarantined(engine)
    assert line == 3 and field is None and "truncated" in reason


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        # A good first row, then one saved in Latin-1: the whole file is refused, not half-loaded.
        (b"customer_id,first_name\nc0,Ann\nc1,Zo\xeb\n", r"customers\.csv: line 3 is not UTF-8"),
        (
            "customer_id,first_name\nc1,Zoë\n".encode("utf-16"),
            r"customers\.csv: the file is UTF-16",
        ),
    ],
)
def test_wrong_encoding_stops_and_loads_nothing(
    engine: Engine, tmp_path: Path, payload: bytes, words: str
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(payload)
    with pytest.raises(IngestError, match=words):
        ingest_file(kind="customers", path=path, engine=engine)
    assert customer_ids(engine) == set()


def test_utf8_with_bom_is_fine(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("\ufeffcustomer_id,first_name\nc1,Zoë\n".encode())
    assert ingest_file(kind="customers", path=path, engine=engine).loaded == 1
