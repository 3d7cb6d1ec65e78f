"""A refresh snapshots every segment, records movement between refreshes, and can be re-run."""

from __future__ import annotations

import json
import re
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from cli.segments import app
from ingest.run import ingest_file
from models import ClusterModel, Customer, CustomerFeatures, SegmentMember, SegmentSnapshot
from models.settings import get_settings
from segments import rfm
from segments.errors import PredictionError
from segments.membership import members_select, segment_names
from segments.refresh import refresh
from synthetic import write_store

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


def members(engine: Engine, segment: str, as_of: date | None = None) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(members_select(segment, as_of=as_of)).scalars())


def test_refresh_snapshots_every_segment(engine: Engine, store: Path) -> None:
    load(engine, store)
    result = refresh(engine, as_of=END)
    with engine.connect() as conn:
        counted = dict(
            conn.execute(
                select(SegmentMember.segment, func.count()).group_by(SegmentMember.segment)
            ).all()
        )
        buyers = set(
            conn.execute(
                select(CustomerFeatures.customer_id).where(CustomerFeatures.orders > 0)
            ).scalars()
        )
        rfm_rows = conn.execute(
            select(SegmentMember.customer_id).where(SegmentMember.segment.like("rfm:%"))
        ).scalars()
        rfm_members = list(rfm_rows)
    assert {k: v for k, v in result.sizes.items() if v} == counted
    assert sorted(rfm_members) == sorted(buyers)  # every buyer in exactly one rfm segment
    assert {f"rfm:{s}" for s in rfm.SEGMENTS} <= set(result.sizes)
    assert {"lifecycle:new", "lifecycle:active_repeat", "lifecycle:vip"} <= set(result.sizes)
    assert set(segment_names(engine)) == set(result.sizes)
    assert set(result.seconds) >= {"features", "rfm", "rules", "snapshots"}
    for name, size in result.sizes.items():
        assert result.entered[name] == size and result.left[name] == 0  # first refresh


def test_models_feed_segments_and_their_failures_are_warnings(
    engine: Engine, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(engine, store)
    import segments.clustering
    import segments.predictions

    def too_little(engine: Engine, *, as_of: date) -> dict[str, list[int]]:
        raise PredictionError("only 3 repeat customers; at least 100 are needed")

    def two_clusters(engine: Engine, *, as_of: date, k: int | None = None, seed: int = 0):  # type: ignore[no-untyped-def]
        with engine.connect() as conn:
            ids = sorted(conn.execute(select(CustomerFeatures.customer_id)).scalars())
        return {"cluster:0": ids[::2], "cluster:1": ids[1::2]}

    monkeypatch.setattr(segments.predictions, "predicted_segments", too_little)
    monkeypatch.setattr(segments.clustering, "cluster_segments", two_clusters)
    result = refresh(engine, as_of=END)
    assert any("predictions skipped: only 3 repeat customers" in w for w in result.warnings)
    assert not any(name.startswith("predicted:") for name in result.sizes)
    everyone = members(engine, "cluster:0") | members(engine, "cluster:1")
    assert result.sizes["cluster:0"] + result.sizes["cluster:1"] == len(everyone)
    assert len(everyone) == result.customers

    monkeypatch.setitem(sys.modules, "segments.clustering", None)  # not installed
    again = refresh(engine, as_of=END)
    assert any(w.startswith("clusters skipped: not available") for w in again.warnings)
    assert "lifecycle:vip" in again.sizes


def test_a_rule_on_a_skipped_model_segment_reads_its_last_snapshot(
    engine: Engine, store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(engine, store)
    import segments.clustering
    import segments.predictions

    (tmp_path / "segments").mkdir()
    (tmp_path / "segments" / "save.yaml").write_text(
        "name: save_them\nrule:\n  all:\n    - in_segment: predicted:churn_risk\n"
        "    - orders: {gte: 3}\n"
    )
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(tmp_path))
    get_settings.cache_clear()
    monkeypatch.setattr(segments.clustering, "cluster_segments", lambda engine, **_: {})
    with engine.connect() as conn:
        ids = sorted(conn.execute(select(Customer.id)).scalars())

    def churn(engine: Engine, *, as_of: date) -> dict[str, list[int]]:
        return {"predicted:churn_risk": ids[::3]}

    monkeypatch.setattr(segments.predictions, "predicted_segments", churn)
    first = refresh(engine, as_of=END - timedelta(days=7))
    yesterday = members(engine, "save_them")
    assert first.sizes["save_them"] == len(yesterday) > 0

    def fail(engine: Engine, *, as_of: date) -> dict[str, list[int]]:
        raise PredictionError("did not converge")

    monkeypatch.setattr(segments.predictions, "predicted_segments", fail)
    second = refresh(engine, as_of=END)
    with engine.connect() as conn:
        buyers = set(
            conn.execute(
                select(CustomerFeatures.customer_id).where(CustomerFeatures.orders >= 3)
            ).scalars()
        )
    assert "predicted:churn_risk" not in second.sizes
    assert members(engine, "save_them") == set(ids[::3]) & buyers


def test_second_refresh_records_who_entered_and_left(engine: Engine, store: Path) -> None:
    load(engine, store)
    first = refresh(engine, as_of=END - timedelta(days=60), with_models=False)
    second = refresh(engine, as_of=END, with_models=False)
    for name in ("lifecycle:lapsed", "rfm:champions", "lifecycle:new"):
        before = members(engine, name, END - timedelta(days=1))
        now = members(engine, name)
        assert second.entered[name] == len(now - before)
        assert second.left[name] == len(before - now)
        assert first.sizes[name] == len(before) and second.sizes[name] == len(now)
    assert second.entered["lifecycle:lapsed"] > 0 and second.left["lifecycle:new"] > 0


def test_refreshing_the_same_day_replaces_it(engine: Engine, store: Path) -> None:
    load(engine, store)
    first = refresh(engine, as_of=END, with_models=False)
    again = refresh(engine, as_of=END, with_models=False)
    assert first.sizes == again.sizes
    assert all(again.entered[n] == again.sizes[n] for n in again.sizes)  # still the first
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(SegmentSnapshot)) == len(first.sizes)
        assert conn.scalar(select(func.count()).select_from(SegmentMember)) == sum(
            first.sizes.values()
        )


def test_readers_see_the_previous_refresh_until_the_new_one_is_complete(
    engine: Engine, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(engine, store)
    refresh(engine, as_of=END - timedelta(days=30), with_models=False)
    settled = members(engine, "lifecycle:lapsed")
    seen: list[set[int]] = []
    import segments.clustering
    import segments.predictions

    def peek(engine: Engine, *, as_of: date, **_: object) -> dict[str, list[int]]:
        seen.append(members(engine, "lifecycle:lapsed"))  # in the middle of the refresh
        return {}

    monkeypatch.setattr(segments.predictions, "predicted_segments", peek)
    monkeypatch.setattr(segments.clustering, "cluster_segments", peek)
    refresh(engine, as_of=END)
    refresh(engine, as_of=END)  # a re-run of the same day, too
    assert seen[0] == seen[1] == settled
    latest = members(engine, "lifecycle:lapsed")
    assert seen[2] == seen[3] == latest != settled


def test_cli_refresh_json_show_list(database_url: str, engine: Engine, store: Path) -> None:
    load(engine, store)
    out = runner.invoke(app, ["refresh", "--as-of", END.isoformat(), "--json"])
    assert out.exit_code == 0, out.output
    sizes = json.loads(out.stdout)["segments"]
    assert {f"rfm:{s}" for s in rfm.SEGMENTS} <= set(sizes)
    shown = runner.invoke(app, ["show", "lifecycle:vip", "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["size"] == sizes["lifecycle:vip"] == data["profile"]["members_with_features"]
    assert sum(data["profile"]["top_locales"].values()) <= data["size"]
    assert data["description"]
    listed = json.loads(runner.invoke(app, ["list", "--json"]).stdout)["segments"]
    assert {d["segment"]: d["size"] for d in listed} == sizes
    assert all(d["description"] for d in listed if d["segment"].startswith("cluster:"))
    missing = runner.invoke(app, ["show", "nope"])
    assert missing.exit_code == 2 and "no segment 'nope'" in missing.output


def test_cli_validate_reports_file_and_line(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["validate"]).exit_code == 0
    (tmp_path / "segments").mkdir()
    bad = tmp_path / "segments" / "bad.yaml"
    bad.write_text("name: bad\nrule:\n  all:\n    - orders: {gte: 2}\n    - spend: {gt: 5}\n")
    monkeypatch.setenv("HOMECOMING_DEFINITIONS_DIR", str(tmp_path))
    get_settings.cache_clear()
    out = runner.invoke(app, ["validate", "--json"])
    assert out.exit_code == 1
    (error,) = json.loads(out.stdout)["errors"]
    assert (error["file"], error["line"]) == (str(bad), 5)
    assert "unknown field 'spend'; valid fields: " in error["message"]
    assert "revenue" in error["message"]


def test_cli_preview_matches_a_refresh_and_leaves_no_trace(
    database_url: str, engine: Engine, store: Path, tmp_path: Path
) -> None:
    load(engine, store)
    candidate = tmp_path / "lapsed_buyers.yaml"
    candidate.write_text(
        "name: lapsed_buyers\nrule:\n  all:\n    - in_segment: lifecycle:lapsed\n"
        "    - orders: {gte: 2}\n"
    )
    refresh(engine, as_of=END, with_models=False)
    out = runner.invoke(app, ["preview", str(candidate), "--json"])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.stdout)
    with engine.connect() as conn:
        want = sorted(
            conn.execute(
                select(CustomerFeatures.customer_id).where(
                    CustomerFeatures.customer_id.in_(members_select("lifecycle:lapsed")),
                    CustomerFeatures.orders >= 2,
                )
            ).scalars()
        )
    assert shown["size"] == len(want) > 0 and shown["sample_customer_ids"] == want[:10]
    assert shown["as_of"] == END.isoformat() and not shown["computed"]

    earlier = (END - timedelta(days=90)).isoformat()
    out = runner.invoke(app, ["preview", str(candidate), "--as-of", earlier, "--json"])
    assert out.exit_code == 0, out.output
    earlier_preview = json.loads(out.stdout)
    assert earlier_preview["computed"] and earlier_preview["as_of"] == earlier
    assert "in_segment 'lifecycle:lapsed' (line 4) has no snapshot" in earlier_preview["notes"][0]
    with engine.connect() as conn:
        assert conn.scalar(select(func.max(CustomerFeatures.as_of))) == END  # rolled back

    candidate.write_text("name: lapsed_buyers\nrule:\n  in_segment: lifecycle:lapsd\n")
    out = runner.invoke(app, ["preview", str(candidate)])
    assert out.exit_code == 2
    assert f"{candidate}:3: unknown segment 'lifecycle:lapsd'" in " ".join(out.output.split())


def test_flow_publishes_sizes(
    database_url: str, engine: Engine, store: Path, prefect_harness: None
) -> None:
    from prefect.artifacts import Artifact

    from flows.segments import refresh_segments_flow

    load(engine, store)
    result = refresh_segments_flow(as_of=END.isoformat())
    assert result["sizes"]["lifecycle:lapsed"] > 0
    artifact = Artifact.get("segment-sizes")
    assert artifact is not None
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert {r["segment"]: r["size"] for r in rows} == result["sizes"]


def clusters(engine: Engine, as_of: date) -> dict[str, set[int]]:
    """Members of each cluster segment with members as of ``as_of``."""
    found = {
        name: members(engine, name, as_of)
        for name in segment_names(engine)
        if name.startswith("cluster:")
    }
    return {name: ids for name, ids in found.items() if ids}


def test_refreshing_unchanged_data_changes_no_cluster(engine: Engine, store: Path) -> None:
    load(engine, store)
    first = refresh(engine, as_of=END)
    before = clusters(engine, END)
    again = refresh(engine, as_of=END)
    after = clusters(engine, END)
    assert len(before) >= 2 and after == before
    assert {n: s for n, s in again.sizes.items() if n.startswith("cluster:")} == {
        n: s for n, s in first.sizes.items() if n.startswith("cluster:")
    }
    with engine.connect() as conn:
        fits = conn.execute(select(ClusterModel.profiles).order_by(ClusterModel.version)).all()
    assert len(fits) == 2 and fits[0][0] == fits[1][0]  # same ids, sizes and words


def test_a_later_refresh_keeps_the_ids_of_clusters_still_there(engine: Engine, store: Path) -> None:
    load(engine, store)
    refresh(engine, as_of=END - timedelta(days=7))
    earlier = clusters(engine, END - timedelta(days=7))
    refresh(engine, as_of=END)  # the store's last week of orders is new
    later = clusters(engine, END)
    still_there = 0
    for name, ids in earlier.items():
        # The cluster now holding most of its customers, who are most of that cluster too,
        # is the same cluster: it must have kept its name.
        heir = max(later, key=lambda other: len(later[other] & ids))
        shared = len(later[heir] & ids)
        if shared > len(ids) / 2 and shared > len(later[heir]) / 2:
            assert heir == name
            still_there += 1
    assert still_there == len(earlier) >= 2  # a week of orders moves no cluster away


def test_cli_show_describes_a_cluster_in_words(
    database_url: str, engine: Engine, store: Path
) -> None:
    load(engine, store)
    refresh(engine, as_of=END)
    name = next(n for n in clusters(engine, END))
    data = json.loads(runner.invoke(app, ["show", name, "--json"]).stdout)
    words = data["cluster"]["words"]
    assert words.endswith(" customers") and data["cluster"]["size"] == data["size"]
    assert data["description"] == words
    shown = runner.invoke(app, ["show", name])
    assert shown.exit_code == 0 and words in re.sub(r"[│\s]+", " ", shown.output)
