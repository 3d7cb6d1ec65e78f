"""A refresh snapshots every segment, records movement between refreshes, and can be re-run."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from cli.main import app
from ingest.run import ingest_file
from ingest.synthetic import write_store
from models import SegmentMember, SegmentSnapshot
from segments.clustering import cluster_segments
from segments.membership import members_select, segment_names
from segments.refresh import refresh

END = date(2026, 11, 20)
runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("store")
    write_store(out=out, customers=800, seed=5, end=END)
    return out


def load(engine: Engine, store: Path) -> None:
    for kind in ("customers", "orders", "interactions", "shipments", "devices"):
        ingest_file(kind=kind, path=store / f"{kind}.csv", engine=engine)


def test_refresh_snapshots_every_segment(engine: Engine, store: Path) -> None:
    load(engine, store)
    result = refresh(engine, as_of=END)
    assert result.warnings == []
    with engine.connect() as conn:
        counted = dict(
            conn.execute(
                select(SegmentMember.segment, func.count()).group_by(SegmentMember.segment)
            ).all()
        )
        buyers = conn.execute(
            select(func.count(func.distinct(SegmentMember.customer_id))).where(
                SegmentMember.segment.like("rfm:%")
            )
        ).scalar()
        in_two = conn.execute(
            select(func.count()).select_from(
                select(SegmentMember.customer_id)
                .where(SegmentMember.segment.like("rfm:%"))
                .group_by(SegmentMember.customer_id)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar()
    assert {k: v for k, v in result.sizes.items() if v} == counted
    assert sum(v for k, v in counted.items() if k.startswith("rfm:")) == buyers and in_two == 0
    assert {"predicted:churn_risk", "predicted:high_value", "lifecycle:vip", "cluster:0"} <= set(
        counted
    )
    assert set(segment_names(engine)) == set(result.sizes)


def test_second_refresh_records_who_entered_and_left(engine: Engine, store: Path) -> None:
    load(engine, store)
    first = refresh(engine, as_of=END - timedelta(days=60), with_models=False)
    second = refresh(engine, as_of=END, with_models=False)
    with engine.connect() as conn:
        for name in ("lifecycle:lapsed", "rfm:champions"):
            before = set(
                conn.execute(members_select(name, as_of=END - timedelta(days=1))).scalars()
            )
            now = set(conn.execute(members_select(name)).scalars())
            assert second.entered[name] == len(now - before)
            assert second.left[name] == len(before - now)
            assert first.sizes[name] == len(before)
    assert second.entered["lifecycle:lapsed"] > 0


def test_refreshing_the_same_day_replaces_it(engine: Engine, store: Path) -> None:
    load(engine, store)
    first = refresh(engine, as_of=END, with_models=False)
    again = refresh(engine, as_of=END, with_models=False)
    assert first.sizes == again.sizes
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(SegmentSnapshot)) == len(first.sizes)


def test_clusters_are_reproducible_and_reusable(engine: Engine, store: Path) -> None:
    load(engine, store)
    refresh(engine, as_of=END, with_models=False)
    a = cluster_segments(engine, as_of=END, seed=3)
    b = cluster_segments(engine, as_of=END, seed=3)
    reused = cluster_segments(engine, as_of=END, reuse=True)
    assert a == b == reused
    assert 2 <= len(a) <= 8


def test_cli_refresh_json_and_show(database_url: str, engine: Engine, store: Path) -> None:
    load(engine, store)
    out = runner.invoke(app, ["segments", "refresh", "--as-of", END.isoformat(), "--json"])
    assert out.exit_code == 0, out.output
    sizes = json.loads(out.stdout)["segments"]
    assert all(f"rfm:{s}" in sizes for s in ("champions", "hibernating", "at_risk"))
    shown = json.loads(runner.invoke(app, ["segments", "show", "rfm:champions", "--json"]).stdout)
    assert shown["size"] == sizes["rfm:champions"]
    assert runner.invoke(app, ["segments", "validate"]).exit_code == 0
    assert runner.invoke(app, ["segments", "show", "nope"]).exit_code == 2


def test_flow_publishes_sizes(
    database_url: str, engine: Engine, store: Path, prefect_harness: None
) -> None:
    from flows.segments import refresh_segments_flow

    load(engine, store)
    result = refresh_segments_flow(as_of=END.isoformat())
    assert result["sizes"]["lifecycle:lapsed"] > 0
