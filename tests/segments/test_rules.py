"""The rule language: clear errors with file and line, and SQL that agrees with plain Python."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select

from models import Customer, CustomerCategory, CustomerFeatures, SegmentMember
from segments.compile import evaluate, to_sql
from segments.definitions import load_all
from segments.rules import DefinitionError, parse_definition

AS_OF = date(2026, 6, 30)


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "name: x\nrule:\n  all:\n    - orderz: {gte: 2}\n",
            4,
            "unknown field 'orderz'; valid fields: locale",
        ),
        (
            "name: x\nrule:\n  orders: {atleast: 2}\n",
            3,
            "unknown operator 'atleast' for orders; valid operators: eq, ne",
        ),
        ("name: x\nrule:\n  orders: {gte: many}\n", 3, "orders is a number; 'many' is not one"),
        (
            "name: x\nrule:\n  locale: {gt: tr}\n",
            3,
            "locale is text; use eq, ne, in, not_in or is_null",
        ),
        (
            "name: x\nrule:\n  last_order_at: {gte: soon}\n",
            3,
            "last_order_at is a date; 'soon' is not one",
        ),
        (
            "name: x\nrule:\n  revenue: {between: [1]}\n",
            3,
            "between on revenue takes exactly two values",
        ),
        ("name: x\nrule:\n  all: []\n", 3, "all takes a non-empty list"),
        ("name: x\nrule:\n  all:\n    - orders: 2\n   - bad\n", 5, "not valid YAML"),
        (
            "name: x\nrul:\n  orders: 2\n",
            2,
            "unknown key 'rul'; valid keys: name, description, rule",
        ),
        ("name: Bad Name\nrule:\n  orders: 2\n", 1, "must be lowercase letters"),
    ],
)
def test_mistakes_name_file_line_and_what_is_valid(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write(tmp_path, "seg", text)
    with pytest.raises(DefinitionError) as err:
        parse_definition(path.read_text(), str(path))
    assert err.value.line == line
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert words in str(err.value)


def test_cycles_and_unknown_segments_are_reported_and_good_files_still_load(tmp_path: Path) -> None:
    a = write(tmp_path, "a", "name: a\nrule:\n  in_segment: b\n")
    b = write(tmp_path, "b", "name: b\nrule:\n  any:\n    - orders: 1\n    - in_segment: a\n")
    c = write(tmp_path, "c", "name: c\nrule:\n  in_segment: nowhere\n")
    good = write(tmp_path, "good", "name: good\nrule:\n  in_segment: rfm:champions\n")
    definitions, errors = load_all([a, b, c, good])
    messages = [str(e) for e in errors]
    assert [d.name for d in definitions] == ["good"]
    assert any("cycle: " in m and ("a -> b" in m or "b -> a" in m) for m in messages)
    assert any(m.startswith(f"{c}:3: unknown segment 'nowhere'; known: ") for m in messages)


def test_built_in_definitions_are_valid() -> None:
    definitions, errors = load_all()
    assert errors == []
    names = {d.name for d in definitions}
    assert {
        "lifecycle:new",
        "lifecycle:active_repeat",
        "lifecycle:at_risk",
        "lifecycle:lapsed",
        "lifecycle:vip",
    } <= names


def test_values_are_bound_never_pasted(engine: Engine) -> None:
    rule = parse_definition(
        'name: x\nrule:\n  locale: "tr\'; DROP TABLE customer; --"\n', "x.yaml"
    ).rule
    sql = str(to_sql(rule, as_of=AS_OF).compile(engine))
    assert "DROP" not in sql


# Property test: random rules over random customers; SQL membership equals Python evaluation.

FIELD_VALUES = {
    "orders": st.integers(0, 6),
    "revenue": st.sampled_from([0.0, 10.0, 99.5, 250.0, 1000.0]),
    "days_since_last_order": st.integers(0, 200),
    "locale": st.sampled_from(["en", "tr", "de", "ko"]),
    "top_category": st.sampled_from(["coffee", "books", "toys"]),
}
NUMBER_OPS = ["eq", "ne", "lt", "lte", "gt", "gte"]


def comparison() -> st.SearchStrategy[str]:
    number = st.tuples(
        st.sampled_from(["orders", "revenue", "days_since_last_order"]),
        st.sampled_from([*NUMBER_OPS, "between"]),
    )

    def number_text(pair: tuple[str, str]) -> st.SearchStrategy[str]:
        field, op = pair
        if op == "between":
            return st.tuples(FIELD_VALUES[field], FIELD_VALUES[field]).map(
                lambda v: f"{{{field}: {{between: [{v[0]}, {v[1]}]}}}}"
            )
        return FIELD_VALUES[field].map(lambda v: f"{{{field}: {{{op}: {v}}}}}")

    text = st.sampled_from(["locale", "top_category"]).flatmap(
        lambda f: st.one_of(
            FIELD_VALUES[f].map(lambda v: f"{{{f}: {v}}}"),
            st.lists(FIELD_VALUES[f], min_size=1, max_size=3).map(
                lambda vs: f"{{{f}: {{in: [{', '.join(vs)}]}}}}"
            ),
            st.lists(FIELD_VALUES[f], min_size=1, max_size=3).map(
                lambda vs: f"{{{f}: {{not_in: [{', '.join(vs)}]}}}}"
            ),
        )
    )
    dates = st.tuples(
        st.sampled_from(["gte", "lt", "between"]), st.integers(0, 200), st.integers(0, 200)
    ).map(
        lambda t: (
            f"{{last_order_at: {{between: ['{t[1]} days ago', '{t[2]} days ago']}}}}"
            if t[0] == "between"
            else f"{{last_order_at: {{{t[0]}: '{t[1]} days ago'}}}}"
        )
    )
    special = st.one_of(
        st.sampled_from(["coffee", "books", "toys"]).map(lambda c: f"{{bought_category: {c}}}"),
        st.just("{in_segment: vip}"),
        st.sampled_from(["true", "false"]).map(lambda b: f"{{top_category: {{is_null: {b}}}}}"),
    )
    return st.one_of(number.flatmap(number_text), text, dates, special)


conditions = st.recursive(
    comparison(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: f"{{all: [{', '.join(cs)}]}}"),
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: f"{{any: [{', '.join(cs)}]}}"),
        inner.map(lambda c: f"{{not: {c}}}"),
    ),
    max_leaves=6,
)

customers_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "orders": FIELD_VALUES["orders"],
            "revenue": FIELD_VALUES["revenue"],
            "days_since_last_order": st.one_of(st.none(), FIELD_VALUES["days_since_last_order"]),
            "locale": FIELD_VALUES["locale"],
            "top_category": st.one_of(st.none(), FIELD_VALUES["top_category"]),
            "bought": st.sets(st.sampled_from(["coffee", "books", "toys"])),
            "vip": st.booleans(),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rule_text=conditions, people=customers_strategy)
def test_sql_membership_equals_python_evaluation(
    engine: Engine, rule_text: str, people: list[dict]
) -> None:
    rule = parse_definition(f"name: x\nrule: {rule_text}\n", "x.yaml").rule
    with engine.begin() as conn:
        for table in (SegmentMember, CustomerCategory, CustomerFeatures, Customer):
            conn.execute(delete(table))
        rows, want = [], set()
        for i, p in enumerate(people, start=1):
            conn.execute(
                insert(Customer).values(
                    id=i, external_id=f"c{i}", created_at=datetime(2025, 1, 1, tzinfo=UTC)
                )
            )
            days = p["days_since_last_order"]
            last = (
                None
                if days is None
                else datetime(AS_OF.year, AS_OF.month, AS_OF.day, 12, tzinfo=UTC)
                - timedelta(days=days)
            )
            row = {
                "customer_id": i, "as_of": AS_OF, "locale": p["locale"], "time_zone": "UTC", "orders": p["orders"],
                "revenue": p["revenue"], "days_since_last_order": days, "last_order_at": last, "top_category": p["top_category"],
            }  # fmt: skip
            rows.append(row)
            conn.execute(insert(CustomerFeatures).values(**row))
            for c in p["bought"]:
                conn.execute(insert(CustomerCategory).values(customer_id=i, category=c))
            if p["vip"]:
                conn.execute(
                    insert(SegmentMember).values(segment="vip", as_of=AS_OF, customer_id=i)
                )
            if evaluate(
                rule, row, as_of=AS_OF, categories=p["bought"], member_of=lambda s, v=p["vip"]: v
            ):
                want.add(i)
        got = set(
            conn.execute(
                select(CustomerFeatures.customer_id).where(to_sql(rule, as_of=AS_OF))
            ).scalars()
        )
    assert got == want, rule_text
