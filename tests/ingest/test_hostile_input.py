"""Hostile files: each bad row is quarantined with file, line and field, the rows around it
load, and the exit code says what a script may trust (0: read, see quarantined; 2: nothing
loaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from cli.main import app
from ingest.errors import IngestError, StoreError
from ingest.run import ingest_file
from models import Customer, IngestRun, Order, OrderLine, Quarantine, SupportTicket
from tests.ingest.helpers import ORDERS_HEADER, RETAIL_HEADER, count, write

runner = CliRunner()
HEADER = "customer_id,email,first_name,locale"


def quarantined(engine: Engine) -> list[tuple[int, str | None, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Quarantine.line_no, Quarantine.field, Quarantine.reason, Quarantine.raw
            ).order_by(Quarantine.line_no)
        )
        return [tuple(r) for r in rows]


def customers(engine: Engine) -> dict[str, tuple[str | None, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Customer.external_id, Customer.email, Customer.first_name))
        return {r[0]: (r[1], r[2]) for r in rows}


def ingest_cli(*args: str) -> tuple[int, dict | None, str]:
    result = runner.invoke(app, ["ingest", *args, "--json"])
    data = json.loads(result.stdout) if result.exit_code == 0 else None
    return result.exit_code, data, " ".join(result.stderr.split())


# -- CSV structure ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rows",
    [
        # The quote is never closed: the reader would swallow the rest of the file.
        ['c1,a@example.com,"Ann,en', "c2,b@example.com,Bob,en", "c3,c@example.com,Cy,en"],
        # Closed by a later row's quote: the rows between would become Ann's first name.
        ['c1,a@example.com,"Ann,en', "c2,b@example.com,Bob,en", 'c3,c@example.com,"Cy",en'],
        # Closed by a stray quote in a later row: valid CSV of the right width, swallowing c2.
        ['c1,a@example.com,"Ann,en', "c2,b@example.com,Bob,en", 'c3,c@example.com,Cy",en'],
    ],
)
def test_an_unterminated_quote_is_quarantined_at_its_line(
    database_url: str, engine: Engine, tmp_path: Path, rows: list[str]
) -> None:
    path = write(tmp_path / "customers.csv", HEADER, "c0,z@example.com,Zoe,en", *rows)
    code, data, _ = ingest_cli("customers", str(path))
    assert code == 0
    assert (data["read"], data["loaded"], data["quarantined"]) == (4, 3, 1)
    assert data["quarantine_reasons"] == {"first_name": 1}
    [(line, field, reason, raw)] = quarantined(engine)
    assert (line, field, raw) == (3, "first_name", 'c1,a@example.com,"Ann,en')
    assert "quoted value starts on this line and is not closed" in reason
    found = customers(engine)
    assert set(found) == {"c0", "c2", "c3"}
    assert found["c2"] == ("b@example.com", "Bob")
    assert all("@" not in (name or "") for _, name in found.values())


def test_a_value_spanning_lines_still_loads(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "orders.csv",
        "order_id,ordered_at,sku,product_name,quantity,unit_price",
        'o1,2026-01-05T10:00:00Z,S1,"Mug\nlarge, blue",1,5',
        '"o2",2026-01-05T10:00:00Z,S2,"Cup ""tall""",1,5',
    )
    got = ingest_file(kind="orders", path=path, engine=engine)
    assert (got.read, got.guest_lines, got.quarantined) == (2, 2, 0)


def test_two_columns_with_one_name_stop_the_file(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "customers.csv", "customer_id,email,first_name,email", "c1,a@x.io,A,b@x.io"
    )
    with pytest.raises(IngestError) as caught:
        ingest_file(kind="customers", path=path, engine=engine)
    assert str(caught.value) == (
        "customers.csv: columns 2 ('email') and 4 ('email') both hold 'email'; keep one of "
        "them (nothing was loaded)"
    )
    code, _, err = ingest_cli("customers", str(path))
    assert code == 2 and "columns 2 ('email') and 4 ('email')" in err
    retail = write(tmp_path / "retail.csv", RETAIL_HEADER + ",Invoice")
    with pytest.raises(IngestError, match=r"columns 1 \('InvoiceNo'\) and 9 \('Invoice'\)"):
        ingest_file(kind="orders", path=retail, fmt="online-retail", engine=engine)
    assert count(engine, Customer) == 0
    with engine.connect() as conn:
        assert set(conn.execute(select(IngestRun.status)).scalars()) == {"failed"}


# -- values out of range ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_row", "field", "words"),
    [
        ('c2,b@example.com,"Bob\r\nBcc: x@evil.example",en', "first_name", "line break"),
        ("c2,b@example.com,B\x00b,en", "first_name", "NUL byte"),
        (f"c2,b@example.com,{'B' * 101},en", "first_name", "at most 100 fit"),
    ],
)
def test_bad_text_is_quarantined_with_its_field(
    engine: Engine, tmp_path: Path, bad_row: str, field: str, words: str
) -> None:
    path = write(
        tmp_path / "customers.csv", HEADER, "c1,a@example.com,Ann,en", bad_row, "c3,c@x.io,Cy,en"
    )
    got = ingest_file(kind="customers", path=path, engine=engine)
    assert (got.read, got.loaded, got.quarantined) == (3, 2, 1)
    [(line, got_field, reason, _)] = quarantined(engine)
    assert (line, got_field) == (3, field) and words in reason
    assert set(customers(engine)) == {"c1", "c3"}


@pytest.mark.parametrize(
    ("header", "bad_row", "field"),
    [
        ("customer_id,created_at,time_zone", "c2,9999-12-31T23:00:00-05:00,UTC", "created_at"),
        (
            "customer_id,created_at,time_zone",
            "c2,0001-01-01T00:00:00,Europe/Istanbul",
            "created_at",
        ),
        ("customer_id,created_at,time_zone", "c2,1899-12-31T23:00:00Z,UTC", "created_at"),
        ("customer_id,birthday", "c2,0001-01-01", "birthday"),
    ],
)
def test_dates_outside_1900_to_2100_are_quarantined(
    engine: Engine, tmp_path: Path, header: str, bad_row: str, field: str
) -> None:
    width = header.count(",")
    good = ["c1" + "," * width, "c3" + "," * width]
    path = write(tmp_path / "customers.csv", header, good[0], bad_row, good[1])
    got = ingest_file(kind="customers", path=path, engine=engine)
    assert (got.read, got.loaded, got.quarantined) == (3, 2, 1)
    [(line, got_field, reason, _)] = quarantined(engine)
    assert (line, got_field) == (3, field)
    assert "1900" in reason


@pytest.mark.parametrize(
    ("bad_row", "field", "words"),
    [
        ("o2,,9999-12-31T23:00:00-05:00,S1,,1,5,EUR,,", "ordered_at", "from 1900 to 2100"),
        ("o2,,0001-01-01T00:00:00,S1,,1,5,EUR,,", "ordered_at", "from 1900 to 2100"),
        ("o2,,2026-01-05T10:00:00Z,S1,,99999999999,5,EUR,,", "quantity", "out of range"),
        ("o2,,2026-01-05T10:00:00Z,S1,,2147483648,5,EUR,,", "quantity", "2,147,483,647"),
        (f"o2,,2026-01-05T10:00:00Z,S1,,{'9' * 5000},5,EUR,,", "quantity", "at most 64"),
        (f"o2,,2026-01-05T10:00:00Z,S1,{'c' * 101},1,5,EUR,,", "category", "at most 100"),
        ("o2,,2026-01-05T10:00:00Z,S\x001,,1,5,EUR,,", "sku", "NUL byte"),
    ],
)
def test_bad_order_values_are_quarantined(
    engine: Engine, tmp_path: Path, bad_row: str, field: str, words: str
) -> None:
    path = write(
        tmp_path / "orders.csv",
        ORDERS_HEADER,
        "o1,,2026-01-05T10:00:00Z,S1,,1,5,EUR,,",
        bad_row,
        "o3,,2026-01-06T10:00:00Z,S1,,2,5,EUR,,",
    )
    got = ingest_file(kind="orders", path=path, engine=engine)
    assert (got.read, got.guest_lines, got.quarantined) == (3, 2, 1)
    [(line, got_field, reason, _)] = quarantined(engine)
    assert (line, got_field) == (3, field) and words in reason
    assert count(engine, OrderLine) == 2


def test_an_order_whose_item_count_would_overflow(engine: Engine, tmp_path: Path) -> None:
    """Each line fits; their sum, the order's ``items``, would not fit its INTEGER column."""
    lines = [f"o1,,2026-01-05T10:00:00Z,S{i},,2000000000,1,EUR,," for i in range(3)]
    path = write(
        tmp_path / "orders.csv", ORDERS_HEADER, *lines, "o2,,2026-01-05T10:00:00Z,S,,1,1,,,"
    )
    got = ingest_file(kind="orders", path=path, engine=engine)
    assert (got.read, got.guest_lines, got.quarantined) == (4, 2, 2)
    assert [(line, field) for line, field, _, _ in quarantined(engine)] == [
        (3, "quantity"),
        (4, "quantity"),
    ]
    assert "above 2,147,483,647 items" in quarantined(engine)[0][2]
    with engine.connect() as conn:
        assert conn.scalar(select(Order.items).where(Order.external_id == "o1")) == 2_000_000_000
    # Read again, the lines already stored are duplicates, not overflows.
    again = ingest_file(kind="orders", path=path, engine=engine)
    assert (again.duplicates, again.quarantined) == (4, 0)


@pytest.mark.parametrize(
    ("fmt", "header", "bad_row", "field"),
    [
        (
            "online-retail",
            RETAIL_HEADER,
            "536366,22633,W,6,12/31/9999 23:59,1.85,17850,UK",
            "InvoiceDate",
        ),
        (
            "online-retail",
            RETAIL_HEADER,
            "536366,22633,W,6,0001-01-01 00:00:00,1.85,1,UK",
            "InvoiceDate",
        ),
        (
            "online-retail",
            RETAIL_HEADER,
            f"536366,22633,W,6,2010-12-01 08:28:00,1,{'1' * 300},UK",
            "CustomerID",
        ),
        ("cdnow", "", "00001 99991231 1 9.99", "date"),
        ("cdnow", "", f"{'1' * 5000} 19970101 1 9.99", "customer"),
    ],
)
def test_other_formats_quarantine_out_of_range_values(
    engine: Engine, tmp_path: Path, fmt: str, header: str, bad_row: str, field: str
) -> None:
    if fmt == "cdnow":
        rows = ["00001 19970101 1 11.77", bad_row, "00002 19970112 1 12.00"]
        path = tmp_path / "cdnow.txt"
        path.write_text("\n".join(rows) + "\n")
    else:
        rows = [
            "536365,85123A,HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,UK",
            bad_row,
            "536367,84879,BIRD,32,2010-12-01 08:34:00,1.69,13047.0,UK",
        ]
        path = write(tmp_path / "retail.csv", header, *rows)
    got = ingest_file(kind="orders", path=path, fmt=fmt, engine=engine)
    assert (got.read, got.loaded, got.quarantined) == (3, 2, 1)
    [(line, got_field, _, _)] = quarantined(engine)
    assert (line, got_field) == (2 if fmt == "cdnow" else 3, field)


def test_the_cli_exit_code_for_a_partial_load_is_0(database_url: str, tmp_path: Path) -> None:
    path = write(
        tmp_path / "tickets.csv",
        "ticket_id,customer_id,channel,opened_at,touches",
        "t1,c1,email,2026-01-05T10:00:00Z,1",
        "t2,c1,email,9999-12-31T23:59:59-12:00,1",
        "t3,c1,chat,2026-01-05T10:00:00Z,99999999999",
    )
    customers_csv = write(tmp_path / "customers.csv", "customer_id", "c1")
    assert ingest_cli("customers", str(customers_csv))[0] == 0
    code, data, _ = ingest_cli("interactions", str(path))
    assert code == 0
    assert (data["loaded"], data["quarantined"]) == (1, 2)
    assert data["quarantine_reasons"] == {"opened_at": 1, "touches": 1}


# -- the database refuses: a clean error, nothing loaded, no values -------------------------


@pytest.fixture
def refusing_trigger(engine: Engine) -> Engine:
    """A database that refuses one customer, as a constraint or a full disk would."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the trigger is written for SQLite")
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_mallory BEFORE INSERT ON customer "
                "WHEN NEW.first_name = 'Mallory' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_mallory"))


def test_a_database_error_names_file_lines_and_table_only(
    database_url: str, refusing_trigger: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "customers.csv",
        "customer_id,email,first_name,birthday",
        "c1,ann.secret@example.com,Ann,1990-01-01",
        "c2,mallory.secret@example.com,Mallory,1991-02-03",
    )
    with pytest.raises(StoreError) as caught:
        ingest_file(kind="customers", path=path, engine=refusing_trigger)
    message = str(caught.value)
    assert message.startswith("customers.csv: the database refused lines 2-3 (table customer:")
    assert "refused" in message and "nothing of this file was loaded" in message
    assert "secret" not in message and "1991" not in message
    assert not caught.value.transient  # a refusal is not retried
    assert count(refusing_trigger, Customer) == 0 and count(refusing_trigger, SupportTicket) == 0
    code, _, err = ingest_cli("customers", str(path))
    assert code == 2 and "the database refused lines 2-3" in err and "secret" not in err
