"""The rule language: clear errors with file and line, and SQL that agrees with plain Python."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select

from models import Customer, CustomerFeatures, SegmentMember
from models.settings import get_settings
from segments.compile import evaluate, to_sql
from segments.definitions import load_all, load_candidate
from segments.features import MARK
from segments.rules import All, DefinitionError, parse_definition

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
        (
            "name: x\nrule:\n  locale: {in: [tr,\n    5]}\n",
            4,
            'locale is text; 5 was read as int 5: quote it, e.g. "5"',
        ),
        ("name: x\nrule:\n  orders: {}\n", 3, "give orders an operator, e.g. {gte: 2}"),
        (
            "name: x\nrule:\n  country: no\n",
            3,
            'country is text; no was read as bool False: quote it, e.g. "no"',
        ),
        ("name: x\nrule:\n  not: [orders: 2]\n", 3, "expected a condition such as"),
        ("name: x\nrule:\n  last_csat_at: {gte: 30}\n", 3, "last_csat_at is a date; 30 is not"),
        ("name: x\nrule:\n  orders: {is_null: maybe}\n", 3, "is_null takes true or false"),
        ("name: x\n", 1, "missing 'rule'; a segment needs name and rule"),
        ("- just\n- a list\n", 1, "expected a mapping with name, description and rule"),
        (
            "name: x\nrule:\n  bought_category: {coffee: 1}\n",
            3,
            "unknown key 'coffee' in bought_category; valid keys: name, at_least, within_days",
        ),
        ("name: x\nrule:\n  bought_category: [[coffee]]\n", 3, "expected a single value"),
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


def test_names_are_unique_per_folder_and_computed_prefixes_are_reserved(tmp_path: Path) -> None:
    one = write(tmp_path, "one", "name: twin\nrule:\n  orders: 1\n")
    two = write(tmp_path, "two", "name: twin\nrule:\n  orders: 2\n")
    rfm_named = write(tmp_path, "r", "name: rfm:mine\nrule:\n  orders: 2\n")
    definitions, errors = load_all([one, two, rfm_named])
    assert [d.name for d in definitions] == ["twin"] and definitions[0].source == str(one)
    messages = [str(e) for e in errors]
    assert f"{two}:1: name 'twin' is already used by {one}:1" in messages[0]
    assert "name 'rfm:mine' is reserved" in messages[1]


def test_a_store_file_replaces_a_built_in_one_of_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "segments").mkdir()
    write(
        tmp_path / "segments",
        "vip",
        'name: "lifecycle:vip"\nrule:\n  value_percentile: {gte: 0.95}\n',
    )
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        definitions, errors = load_all()
    finally:
        monkeypatch.delenv("HOMECOMING_DEFINITIONS_DIR")
        get_settings.cache_clear()
    assert errors == []
    (vip,) = [d for d in definitions if d.name == "lifecycle:vip"]
    assert vip.source.startswith(str(tmp_path)) and vip.rule.value == 0.95


def test_several_operators_on_one_field_all_hold() -> None:
    rule = parse_definition("name: x\nrule:\n  orders: {gte: 2, lte: 5}\n", "x.yaml").rule
    assert isinstance(rule, All) and [c.op for c in rule.items] == ["gte", "lte"]
    row = {"orders": 3}
    assert evaluate(rule, row, as_of=AS_OF, categories=set(), member_of=lambda s: False)
    row = {"orders": 6}
    assert not evaluate(rule, row, as_of=AS_OF, categories=set(), member_of=lambda s: False)


def test_a_preview_candidate_is_checked_against_the_saved_definitions(tmp_path: Path) -> None:
    ok = write(tmp_path, "ok", "name: ok\nrule:\n  in_segment: lifecycle:vip\n")
    assert load_candidate(ok).name == "ok"
    loop = write(
        tmp_path, "loop", 'name: "lifecycle:new"\nrule:\n  in_segment: lifecycle:active_repeat\n'
    )
    with pytest.raises(DefinitionError, match="cycle"):
        load_candidate(loop)  # active_repeat already refers to lifecycle:new
    unknown = write(tmp_path, "unknown", "name: u\nrule:\n  in_segment: rfm:champs\n")
    with pytest.raises(
        DefinitionError, match=r"unknown segment 'rfm:champs'; known: .*rfm:champions"
    ):
        load_candidate(unknown)


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
# "coff" is inside "coffee"; "%" and "_" are LIKE wildcards: none may match what it should not.
BOUGHT = ["coffee", "coff", "books", "50%_off", "50xyoff"]
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
    day = st.one_of(
        st.integers(0, 200).map(lambda n: f"'{n} days ago'"),
        st.integers(0, 28).map(lambda n: f"'{n} weeks ago'"),
        st.just("today"),
        st.integers(0, 200).map(lambda n: (AS_OF - timedelta(days=n)).isoformat()),
    )
    dates = st.one_of(
        st.tuples(st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte"]), day).map(
            lambda t: f"{{last_order_at: {{{t[0]}: {t[1]}}}}}"
        ),
        st.tuples(day, day).map(lambda t: f"{{last_order_at: {{between: [{t[0]}, {t[1]}]}}}}"),
        st.tuples(st.sampled_from(["in", "not_in"]), st.lists(day, min_size=1, max_size=3)).map(
            lambda t: f"{{last_order_at: {{{t[0]}: [{', '.join(t[1])}]}}}}"
        ),
    )
    ranges = st.tuples(st.integers(0, 6), st.integers(0, 6)).map(
        lambda t: f"{{orders: {{gte: {t[0]}, lte: {t[1]}}}}}"
    )
    special = st.one_of(
        st.sampled_from(BOUGHT).map(lambda c: f"{{bought_category: '{c}'}}"),
        st.just("{in_segment: vip}"),
        st.sampled_from(["true", "false"]).map(lambda b: f"{{top_category: {{is_null: {b}}}}}"),
    )
    return st.one_of(number.flatmap(number_text), text, dates, ranges, special)


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
            "minute": st.sampled_from([0, 1, 12 * 60, 24 * 60 - 1]),  # day boundaries
            "locale": FIELD_VALUES["locale"],
            "top_category": st.one_of(st.none(), FIELD_VALUES["top_category"]),
            "bought": st.sets(st.sampled_from(BOUGHT)),
            "vip": st.booleans(),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rule_text=conditions, people=customers_strategy)
def test_sql_membership_equals_python_evaluation(
    engine: Engine, rule_text: str, people: list[dict]
) -> None:
    rule = parse_definition(f"name: x\nrule: {rule_text}\n", "x.yaml").rule
    with engine.begin() as conn:
        for table in (SegmentMember, CustomerFeatures, Customer):
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
                else datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC)
                - timedelta(days=days)
                + timedelta(minutes=p["minute"])
            )
            row = {
                "customer_id": i, "as_of": AS_OF, "locale": p["locale"], "time_zone": "UTC", "orders": p["orders"],
                "revenue": p["revenue"], "days_since_last_order": days, "last_order_at": last, "top_category": p["top_category"],
                "bought_categories": f"{MARK}{MARK.join(sorted(p['bought']))}{MARK}" if p["bought"] else "",
            }  # fmt: skip
            rows.append(row)
            conn.execute(insert(CustomerFeatures).values(**row))
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
