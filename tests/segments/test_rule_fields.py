"""Names checked against the store, every mistake reported, per-category counts and
prediction fields, each checked against an independent computation on the raw tables."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from cli.segments import app
from ingest.run import ingest_file
from models import Customer, CustomerFeatures, Order, OrderLine, Product
from models.base import table
from models.segments import CustomerPrediction
from models.settings import get_settings
from segments.compile import evaluate
from segments.definitions import load_all
from segments.membership import members_select
from segments.refresh import refresh
from segments.rules import parse_definition
from segments.vocabulary import Vocabulary, database_vocabulary
from synthetic import write_store

END = date(2026, 11, 20)
runner = CliRunner()
STORE = Vocabulary(
    categories=("coffee", "skincare", "tea"),
    locales=("de", "en", "tr"),
    countries=("DE", "GB", "TR"),
    from_database=True,
)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("rule", "line", "words"),
    [
        ("bought_category: cofee", 3, "unknown category 'cofee'; categories in the database: "),
        ("top_category: skincar", 3, "unknown category 'skincar'"),
        ("locale: {in: [de,\n      trr]}", 4, "unknown locale 'trr'; locales in the database: "),
        ("country: {ne: GBR}", 3, "unknown country 'GBR'; countries in the database: "),
        ('in_segment: "rfm:champs"', 3, "unknown segment 'rfm:champs'; known: "),
        ("rfm_segment: champs", 3, "unknown rfm segment 'champs'; RFM segments: "),
    ],
)
def test_a_typo_in_a_name_names_the_nearest_valid_one(
    tmp_path: Path, rule: str, line: int, words: str
) -> None:
    path = write(tmp_path, "typo", f"name: typo\nrule:\n  {rule}\n")
    definitions, errors = load_all([path], vocabulary=STORE)
    assert definitions == []
    (error,) = errors
    assert (error.source, error.line) == (str(path), line)
    assert words in error.message
    nearest = {
        "cofee": "coffee",
        "skincar": "skincare",
        "trr": "tr",
        "GBR": "GB",
        "rfm:champs": "rfm:champions",
        "champs": "champions",
    }
    typo = next(t for t in nearest if f" '{t}';" in error.message)
    assert f"did you mean '{nearest[typo]}'?" in error.message


def test_names_compare_without_regard_to_case(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cased",
        "name: cased\nrule:\n  all:\n    - locale: TR\n    - top_category: Coffee\n"
        "    - country: {in: [gb, De]}\n    - bought_category: [TEA]\n",
    )
    definitions, errors = load_all([path], vocabulary=STORE)
    assert errors == [] and [d.name for d in definitions] == ["cased"]


def test_every_mistake_of_a_file_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "many",
        "name: many\n"
        "rule:\n"
        "  all:\n"
        "    - orderz: {gte: 2}\n"  # 4: unknown field
        "    - revenue: {atleast: 5}\n"  # 5: unknown operator
        "    - bought_category: cofee\n"  # 6: unknown category
        "    - locale: {in: [tr, xx]}\n"  # 7: unknown locale
        "    - bought_category: {name: tea, at_least: 0}\n"  # 8: bad count
        "    - country: TR\n",
    )
    _, errors = load_all([path], vocabulary=STORE)
    assert [e.line for e in errors] == [4, 5, 6, 7, 8]
    assert "did you mean 'orders'?" in errors[0].message
    assert "did you mean 'coffee'?" in errors[2].message
    assert "at_least takes a whole number from 1" in errors[4].message
    assert all(e.source == str(path) for e in errors)


def test_without_a_database_only_static_names_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "static",
        "name: static\nrule:\n  all:\n    - bought_category: anything\n"
        "    - locale: turkish\n    - country: Narnia\n",
    )
    _, errors = load_all([path])
    assert [(e.line, e.message.split(" (")[0]) for e in errors] == [
        (5, "locale 'turkish' is not a locale code such as tr or pt-BR")
    ]


def test_new_rule_syntax_parses() -> None:
    d = parse_definition(
        "name: x\nrule:\n  all:\n    - bought_category: {name: [coffee, tea], at_least: 2,"
        " within_days: 180}\n    - p_alive: {min: 0.5}\n    - clv: {min: 200, max: 900}\n"
        "    - expected_orders_90d: {gt: 1}\n",
        "x.yaml",
    )
    bought, alive, clv, expected = d.rule.items  # type: ignore[union-attr]
    assert (bought.categories, bought.at_least, bought.within_days) == (("coffee", "tea"), 2, 180)
    assert (alive.field, alive.op, alive.value) == ("p_alive", "gte", 0.5)
    assert [(c.op, c.value) for c in clv.items] == [("gte", 200), ("lte", 900)]
    assert (expected.field, expected.op) == ("expected_orders_90d", "gt")


def test_cli_validate_counts_errors_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "defs" / "segments"
    write(folder, "a", "name: a\nrule:\n  all:\n    - orderz: 2\n    - locale: turkish\n")
    write(folder, "b", "name: b\nrule:\n  revenue: {atleast: 5}\n")
    missing_db = tmp_path / "none.db"
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(tmp_path / "defs"))
    monkeypatch.setenv("HOMECOMING_DATABASE_URL", f"sqlite:///{missing_db}")
    get_settings.cache_clear()
    try:
        out = runner.invoke(app, ["validate", "--json"])
        text = runner.invoke(app, ["validate"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 1 and text.exit_code == 1
    data = json.loads(out.stdout)
    assert (data["error_count"], data["files_with_errors"]) == (3, 2)
    assert data["summary"].endswith("3 errors in 2 files")
    assert data["checked_against"] == "static" and "categories" in data["note"]
    assert [(Path(e["file"]).name, e["line"]) for e in data["errors"]] == [
        ("a.yaml", 4),
        ("a.yaml", 5),
        ("b.yaml", 3),
    ]
    assert "3 errors in 2 files" in text.output and "no database" in text.output
    assert not missing_db.exists()  # validating never creates a database


RULES = {
    "coffee_twice": "bought_category: {name: Coffee, at_least: 2, within_days: 180}",
    "coffee_ever": "bought_category: {name: coffee, at_least: 1}",
    "clv_200": "clv: {min: 200}",
    "alive_expected": "all:\n    - p_alive: {min: 0.5}\n    - expected_orders_90d: {gte: 0.3}",
    "locale_upper": "locale: TR",
    "locale_lower": "locale: tr",
    "top_upper": "top_category: Coffee",
    "top_lower": "top_category: coffee",
}


def test_counts_and_predictions_match_the_raw_tables(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    write_store(out=store, customers=800, seed=5, end=END)
    for kind in ("customers", "orders"):
        ingest_file(kind=kind, path=store / f"{kind}.csv", engine=engine)
    for name, rule in RULES.items():
        write(tmp_path / "defs" / "segments", name, f"name: {name}\nrule:\n  {rule}\n")
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(tmp_path / "defs"))
    get_settings.cache_clear()
    result = refresh(engine, as_of=END)
    assert not [w for w in result.warnings if "definition" in w]

    def members(segment: str) -> set[int]:
        with engine.connect() as conn:
            return set(conn.execute(members_select(segment, as_of=END)).scalars())

    with engine.connect() as conn:
        o, line, p = table(Order).c, table(OrderLine).c, table(Product).c
        orders = pd.DataFrame(
            conn.execute(select(o.id, o.customer_id, o.ordered_at, o.total, o["items"])).all(),
            columns=["order_id", "customer_id", "ordered_at", "total", "items"],
        )
        lines = pd.DataFrame(
            conn.execute(
                select(line.order_id, p.category).join_from(
                    table(OrderLine), table(Product), p.sku == line.sku
                )
            ).all(),
            columns=["order_id", "category"],
        )
        c, pr = table(Customer).c, table(CustomerPrediction).c
        customers = pd.DataFrame(
            conn.execute(select(c.id, c.locale)).all(), columns=["id", "locale"]
        )
        predictions = pd.DataFrame(
            conn.execute(select(pr.customer_id, pr.p_alive, pr.expected_orders_90d, pr.clv)).all(),
            columns=["customer_id", "p_alive", "expected_orders_90d", "clv"],
        )
        f = table(CustomerFeatures).c
        top = dict(conn.execute(select(f.customer_id, f.top_category)).all())

    # Orders as the docs define them: a customer, a positive total and at least one item,
    # placed by the end of the as-of day (UTC).
    end = datetime(END.year, END.month, END.day, tzinfo=UTC) + timedelta(days=1)
    at = pd.to_datetime(orders["ordered_at"], utc=True)
    counted = orders[
        orders["customer_id"].notna() & (orders["total"] > 0) & (orders["items"] > 0) & (at < end)
    ].assign(at=at)
    coffee_orders = counted[
        counted["order_id"].isin(lines[lines["category"] == "coffee"]["order_id"])
    ]
    since = end - timedelta(days=181)  # the as-of day and the 180 days before it
    recent = (
        coffee_orders[coffee_orders["at"] >= since].groupby("customer_id")["order_id"].nunique()
    )
    assert members("coffee_twice") == {int(i) for i in recent[recent >= 2].index}
    assert members("coffee_ever") == {int(i) for i in coffee_orders["customer_id"].unique()}
    assert members("coffee_twice")  # the comparison is not vacuous

    assert len(predictions) > 100
    assert members("clv_200") == set(predictions[predictions["clv"] >= 200]["customer_id"])
    assert members("clv_200")
    both = predictions[
        (predictions["p_alive"] >= 0.5) & (predictions["expected_orders_90d"] >= 0.3)
    ]
    assert members("alive_expected") == set(both["customer_id"])

    turkish = set(customers[customers["locale"] == "tr"]["id"])
    assert members("locale_upper") == members("locale_lower") == turkish and turkish
    coffee_top = {i for i, cat in top.items() if cat == "coffee"}
    assert members("top_upper") == members("top_lower") == coffee_top and coffee_top

    vocabulary = database_vocabulary(engine)
    assert vocabulary.from_database and "coffee" in (vocabulary.categories or ())
    assert load_all(vocabulary=vocabulary)[1] == []  # the built-in and test rules all hold
    typo = write(tmp_path / "typo", "typo", "name: typo\nrule:\n  bought_category: cofee\n")
    _, errors = load_all([typo], vocabulary=vocabulary)
    assert [(e.line, "did you mean 'coffee'?" in e.message) for e in errors] == [(3, True)]
    get_settings.cache_clear()


def test_python_evaluation_counts_orders_in_the_window() -> None:
    rule = parse_definition(
        "name: x\nrule:\n  bought_category: {name: COFFEE, at_least: 2, within_days: 10}\n", "x"
    ).rule
    day = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    inside = [(day, ["coffee"]), (day - timedelta(days=10), ["Coffee", "tea"])]
    outside = [(day - timedelta(days=11), ["coffee"]), (day + timedelta(hours=2), ["coffee"])]

    def ev(orders: list[tuple[datetime, list[str]]]) -> bool:
        return evaluate(
            rule, {}, as_of=END, categories={"coffee"}, member_of=lambda s: False, orders=orders
        )

    assert ev(inside) and not ev(inside[:1] + outside) and not ev([(day, ["tea"])] * 3)
