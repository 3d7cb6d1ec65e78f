"""Each kind of bad input: a clear error naming file, line and field; good rows around it load."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ingest.errors import IngestError
from ingest.run import ingest_file
from models import Customer, IngestRun, Order, OrderLine, Quarantine
from tests.ingest.helpers import ORDERS_HEADER, RETAIL_HEADER, count, customers_csv, write

GOOD_1 = "c1,a@example.com,Ann,en,Europe/London,GB,subscribed,"
GOOD_2 = "c3,b@example.com,Bea,de,Europe/Berlin,DE,subscribed,"


def quarantined(engine: Engine) -> list[tuple[str, int, str | None, str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(
                    Quarantine.source,
                    Quarantine.line_no,
                    Quarantine.field,
                    Quarantine.reason,
                    Quarantine.raw,
                ).order_by(Quarantine.line_no)
            )
        ]


def customer_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(Customer.external_id)).scalars())


def run_status(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(IngestRun.status)).scalars())


@pytest.mark.parametrize(
    ("bad_row", "field", "words"),
    [
        ("c2,not-an-address,Bob,en,UTC,GB,,", "email", "not a valid address"),
        ("c2,bob@exa mple.com,Bob,en,UTC,GB,,", "email", "expected name@domain.tld"),
        ("c2,bob@example.com,Bob,xx-QQQ,UTC,GB,,", "locale", "not a known locale"),
        ("c2,bob@example.com,Bob,en,Mars/Olympus,GB,,", "time_zone", "not an IANA time zone"),
        ("c2,bob@example.com,Bob,en,UTC,GB,maybe,", "email_consent", "expected one of subscribed"),
        (",bob@example.com,Bob,en,UTC,GB,,", "customer_id", "customer_id is empty; it is required"),
        (f"{'x' * 65},bob@example.com,Bob,en,UTC,GB,,", "customer_id", "at most 64"),
    ],
)
def test_bad_customer_row_is_quarantined_and_neighbours_load(
    engine: Engine, tmp_path: Path, bad_row: str, field: str, words: str
) -> None:
    path = customers_csv(tmp_path / "customers.csv", GOOD_1, bad_row, GOOD_2)
    got = ingest_file(kind="customers", path=path, engine=engine)
    assert (got.read, got.loaded, got.quarantined) == (3, 2, 1)
    assert customer_ids(engine) == {"c1", "c3"}
    [(source, line, got_field, reason, raw)] = quarantined(engine)
    assert (source, line, got_field, raw) == ("customers.csv", 3, field, bad_row)
    assert words in reason


def test_bad_birthday_names_what_is_valid(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "customers.csv",
        "customer_id,birthday",
        "c1,1990-04-01",
        "c2,1990-02-30",
        "c3,2990-01-01",
        "c4,",
    )
    got = ingest_file(kind="customers", path=path, engine=engine)
    assert (got.loaded, got.quarantined) == (2, 2)
    reasons = {line: (field, reason) for _, line, field, reason, _ in quarantined(engine)}
    assert reasons[3] == ("birthday", "birthday '1990-02-30' is not a date (expected YYYY-MM-DD)")
    assert reasons[4][0] == "birthday" and "plausible date of birth" in reasons[4][1]


@pytest.mark.parametrize(
    ("bad_row", "field", "words"),
    [
        ("o2,c1,2026-13-45T10:00:00Z,S1,,1,5,EUR,,", "ordered_at", "not a timestamp"),
        ("o2,c1,yesterday,S1,,1,5,EUR,,", "ordered_at", "expected ISO 8601"),
        ("o2,c1,2026-01-05T10:00:00Z,S1,,1,-5,EUR,,", "unit_price", "negative"),
        ("o2,c1,2026-01-05T10:00:00Z,S1,,1,five,EUR,,", "unit_price", "not a number"),
        ("o2,c1,2026-01-05T10:00:00Z,S1,,0,5,EUR,,", "quantity", "must be above 0"),
        ("o2,c1,2026-01-05T10:00:00Z,S1,,1.5,5,EUR,,", "quantity", "not a whole number"),
        ("o2,c1,2026-01-05T10:00:00Z,S1,,1,5,EURO,,", "currency", "ISO 4217"),
        ("o2,nobody,2026-01-05T10:00:00Z,S1,,1,5,EUR,,", "customer_id", "not a known customer"),
        ("o9,c1,2026-01-05T10:00:00Z,S1,,1,5,EUR,return,", "return_id", "required"),
        ("o2,c1,2026-01-05T10:00:00Z,S1,,1,5,EUR,gift,", "type", "expected one of order"),
        ("o8,c1,2026-01-05T10:00:00Z,S1,,1,5,EUR,return,r1", "order_id", "not a known order"),
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
    assert (got.read, got.loaded, got.quarantined) == (3, 2, 1)
    [(_, line, got_field, reason, raw)] = quarantined(engine)
    assert (line, got_field, raw) == (3, field, bad_row)
    assert words in reason
    assert count(engine, OrderLine) == 2


@pytest.mark.parametrize(
    ("bad_row", "field", "words"),
    [
        ("536366,22633,HAND WARMER,6,2010-12-41 08:28:00,1.85,17850.0,UK", "InvoiceDate", "not"),
        (
            "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,-1.85,17850.0,UK",
            "UnitPrice",
            "negative",
        ),
        ("536366,22633,HAND WARMER,-6,2010-12-01 08:28:00,1.85,,UK", "Quantity", "cancellations"),
        ("A563185,B,Adjust bad debt,1,2011-08-12 14:50:00,-11062.06,,UK", "InvoiceNo", "neither"),
        ("536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850.5,UK", "CustomerID", "whole"),
    ],
)
def test_bad_online_retail_line_is_quarantined_and_neighbours_load(
    engine: Engine, tmp_path: Path, bad_row: str, field: str, words: str
) -> None:
    path = write(
        tmp_path / "retail.csv",
        RETAIL_HEADER,
        "536365,85123A,HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,UK",
        bad_row,
        "536367,84879,ASSORTED BIRD ORNAMENT,32,2010-12-01 08:34:00,1.69,13047.0,UK",
    )
    got = ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)
    assert (got.read, got.loaded, got.quarantined) == (3, 2, 1)
    [(_, line, got_field, reason, _raw)] = quarantined(engine)
    assert (line, got_field) == (3, field)
    assert words in reason
    with engine.connect() as conn:
        assert set(conn.execute(select(Order.external_id)).scalars()) == {"536365", "536367"}


def test_missing_required_column_stops_and_loads_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "orders.csv",
        "order_id,customer_id,ordered_at,sku,unit_price",
        "o1,,2026-01-05T10:00:00Z,S1,5",
    )
    with pytest.raises(IngestError) as caught:
        ingest_file(kind="orders", path=path, engine=engine)
    message = str(caught.value)
    assert message.startswith("orders.csv: missing required column(s) quantity; ")
    assert "required: order_id, ordered_at, sku, quantity, unit_price" in message
    assert count(engine, OrderLine) == count(engine, Order) == count(engine, Quarantine) == 0
    assert run_status(engine) == ["failed"]


def test_missing_online_retail_column_names_both_spellings_work(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path / "retail.csv", "Invoice,StockCode,Quantity,InvoiceDate,Price,Country")
    with pytest.raises(IngestError, match=r"retail\.csv: missing required column\(s\) CustomerID"):
        ingest_file(kind="orders", path=path, fmt="online-retail", engine=engine)


def test_empty_file(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(b"")
    with pytest.raises(IngestError, match=r"customers\.csv: the file is empty"):
        ingest_file(kind="customers", path=path, engine=engine)
    assert run_status(engine) == ["failed"]


def test_header_only_file_reads_nothing(engine: Engine, tmp_path: Path) -> None:
    got = ingest_file(kind="customers", path=customers_csv(tmp_path / "c.csv"), engine=engine)
    assert (got.read, got.loaded, got.quarantined) == (0, 0, 0)


def test_missing_file(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"nope\.csv: no such file"):
        ingest_file(kind="customers", path=tmp_path / "nope.csv", engine=engine)


def test_truncated_gzip_loads_nothing(engine: Engine, tmp_path: Path) -> None:
    body = [f"c{i},p{i}@example.com,P,en,UTC,GB,," for i in range(30_000)]
    data = gzip.compress(customers_csv(tmp_path / "plain.csv", *body).read_bytes())
    path = tmp_path / "customers.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match=r"customers\.csv\.gz: the file is truncated or corrupt"):
        ingest_file(kind="customers", path=path, engine=engine)
    # The first 20,000 rows were written in a batch before the cut was found: rolled back.
    assert customer_ids(engine) == set()
    assert run_status(engine) == ["failed"]


def test_gzip_is_read_by_its_bytes(engine: Engine, tmp_path: Path) -> None:
    plain = customers_csv(tmp_path / "plain.csv", GOOD_1, GOOD_2).read_bytes()
    (tmp_path / "customers.csv.gz").write_bytes(gzip.compress(plain))
    (tmp_path / "export.csv").write_bytes(gzip.compress(plain))  # compressed, badly named
    assert ingest_file(kind="customers", path=tmp_path / "customers.csv.gz", engine=engine).loaded
    again = ingest_file(kind="customers", path=tmp_path / "export.csv", engine=engine)
    assert (again.read, again.duplicates) == (2, 2)


def test_truncated_last_line_is_quarantined(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email,first_name,locale\nc1,a@example.com,Ann,en\nc2,b@exa")
    got = ingest_file(kind="customers", path=path, engine=engine)
    assert (got.loaded, got.quarantined) == (1, 1)
    [(_, line, field, reason, raw)] = quarantined(engine)
    assert (line, field, raw) == (3, None, "c2,b@exa")
    assert "has 2 of 4 fields" in reason and "truncated" in reason


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        # A good first row, then one saved in Latin-1: the whole file is refused, not half-loaded.
        (b"customer_id,first_name\nc0,Ann\nc1,Zo\xeb\n", r"customers\.csv: line 3 is not UTF-8"),
        (
            "customer_id,first_name\nc1,Zoë\n".encode("utf-16"),
            r"customers\.csv: the file is UTF-16",
        ),
        (
            "customer_id,first_name\nc1,Zoë\n".encode("utf-16-le"),
            r"customers\.csv: the file is UTF-16",
        ),
        (b"PK\x03\x04\x14\x00\x06\x00", r"customers\.csv: is a zip archive or a spreadsheet"),
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
    assert run_status(engine) == ["failed"]


def test_utf8_with_bom_is_fine(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("\ufeffcustomer_id,first_name\nc1,Zoë\n".encode())
    assert ingest_file(kind="customers", path=path, engine=engine).loaded == 1
    with engine.connect() as conn:
        assert conn.scalar(select(Customer.first_name)) == "Zoë"


def test_blank_lines_are_not_rows(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(f"{'customer_id,first_name'}\n\nc1,Ann\n,\n\nc2,Bob\n")
    got = ingest_file(kind="customers", path=path, engine=engine)
    assert (got.read, got.loaded, got.quarantined) == (2, 2, 0)


def test_unknown_kind_and_format(engine: Engine, tmp_path: Path) -> None:
    path = customers_csv(tmp_path / "c.csv", GOOD_1)
    with pytest.raises(IngestError, match="unknown kind 'people'; expected one of customers"):
        ingest_file(kind="people", path=path, engine=engine)
    with pytest.raises(IngestError, match="unknown format 'excel'"):
        ingest_file(kind="customers", path=path, fmt="excel", engine=engine)
    with pytest.raises(IngestError, match="holds orders only"):
        ingest_file(kind="customers", path=path, fmt="cdnow", engine=engine)
    assert customer_ids(engine) == set()


def test_many_bad_rows_keep_their_raw_text(engine: Engine, tmp_path: Path) -> None:
    """Enough rejects for PostgreSQL's COPY path, with quotes, tabs, backslashes and newlines."""
    bad = [f'c{i},"not\tan\\address ""{i}""\nreally",Bob,en,UTC,GB,,' for i in range(700)]
    path = customers_csv(tmp_path / "customers.csv", GOOD_1, *bad, GOOD_2)
    got = ingest_file(kind="customers", path=path, engine=engine)
    assert (got.read, got.loaded, got.quarantined) == (702, 2, 700)
    assert got.quarantine_reasons == {"email": 700}
    rows = quarantined(engine)
    assert [(line, raw) for _, line, _, _, raw in rows] == [(3 + 2 * i, bad[i]) for i in range(700)]
    assert ingest_file(kind="customers", path=path, engine=engine).duplicates == 702
