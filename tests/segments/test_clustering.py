"""Clusters: the right number found, described in plain words, stored, reproducible, reusable."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from models import ClusterModel, Customer, CustomerFeatures
from segments import clustering
from segments.clustering import cluster_profile, cluster_segments
from segments.errors import PredictionError

AS_OF = date(2026, 11, 20)
# Three kinds of customers: (how many, days since last order, orders, revenue, tenure days)
GROUPS = {
    "loyal": (120, (3, 20), (15, 30), (2_000, 5_000), (600, 700)),
    "lapsed": (150, (300, 400), (1, 1), (20, 60), None),  # one order: tenure = days since
    "new": (90, (2, 20), (1, 1), (40, 90), None),
}


def load_features(engine: Engine, *, as_of: date = AS_OF, seed: int = 1) -> dict[str, set[int]]:
    """Customer features for the three groups; returns the ids in each."""
    rng = np.random.default_rng(seed)
    ids: dict[str, set[int]] = {}
    rows = []
    next_id = 1
    for name, (n, days, orders, revenue, tenure) in GROUPS.items():
        ids[name] = set(range(next_id, next_id + n))
        for cid in sorted(ids[name]):
            since = int(rng.integers(*days, endpoint=True))
            rows.append(
                {
                    "customer_id": cid,
                    "days_since_last_order": since,
                    "orders": int(rng.integers(*orders, endpoint=True)),
                    "revenue": float(rng.uniform(*revenue)),
                    "tenure_days": int(rng.integers(*tenure, endpoint=True)) if tenure else since,
                }
            )
        next_id += n
    rows.append(  # a customer who never ordered is in no cluster
        {"customer_id": next_id, "days_since_last_order": None, "orders": 0, "revenue": 0.0}
    )
    created = datetime(2025, 1, 1, tzinfo=UTC)
    with Session(engine) as s:
        s.add_all(
            Customer(id=r["customer_id"], external_id=f"c{r['customer_id']}", created_at=created)
            for r in rows
        )
        s.flush()
        s.add_all(CustomerFeatures(as_of=as_of, locale="en", time_zone="UTC", **r) for r in rows)
        s.commit()
    return ids


def models(engine: Engine) -> list[ClusterModel]:
    with Session(engine) as s:
        return list(s.exec(select(ClusterModel).order_by(ClusterModel.version)).scalars())


def test_finds_the_groups_and_describes_them(engine: Engine) -> None:
    groups = load_features(engine)
    found = cluster_segments(engine, as_of=AS_OF, seed=0)
    assert sorted(map(set, found.values()), key=min) == sorted(groups.values(), key=min)
    (model,) = models(engine)
    assert (model.version, model.k, model.customers, model.as_of) == (1, 3, 360, AS_OF)
    assert model.silhouette is not None and model.silhouette > 0.5
    words = {
        name: model.profiles[next(c for c, m in found.items() if set(m) == ids)]["words"]
        for name, ids in groups.items()
    }
    assert words["loyal"] == "recent, frequent, high spend, long-standing"
    assert words["lapsed"].startswith("lapsed, one-off, low spend")
    assert words["new"].startswith("recent, one-off") and words["new"].endswith("new")
    # Numbered by spend: cluster:0 spends least, the loyal customers are the last cluster.
    assert set(found[f"cluster:{model.k - 1}"]) == groups["loyal"]
    spend = [model.profiles[f"cluster:{i}"]["centre"]["revenue"] for i in range(model.k)]
    assert spend == sorted(spend)
    assert [model.profiles[c]["size"] for c in sorted(found)] == [
        len(found[c]) for c in sorted(found)
    ]


def test_stores_the_scaler_and_centres_it_used(engine: Engine) -> None:
    load_features(engine)
    found = cluster_segments(engine, as_of=AS_OF)
    (model,) = models(engine)
    with engine.connect() as conn:
        c = CustomerFeatures.__table__.c
        rows = conn.execute(
            select(c.customer_id, *(c[f] for f in model.features))
            .where(c.orders > 0)
            .order_by(c.customer_id)
        ).all()
    raw = np.array([tuple(r)[1:] for r in rows], dtype=float)
    logged = np.log1p(raw)
    np.testing.assert_allclose(model.scaler_mean, logged.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(model.scaler_scale, logged.std(axis=0), rtol=1e-9)
    # Every customer is in the cluster of the nearest stored centre.
    scaled = (logged - model.scaler_mean) / model.scaler_scale
    nearest = ((scaled[:, None, :] - np.array(model.centroids)[None]) ** 2).sum(axis=2).argmin(1)
    member_of = {cid: int(name.split(":")[1]) for name, ids in found.items() for cid in ids}
    assert [member_of[r[0]] for r in rows] == nearest.tolist()


def test_same_seed_same_clusters_and_reuse_refits_nothing(engine: Engine) -> None:
    load_features(engine)
    first = cluster_segments(engine, as_of=AS_OF, seed=4, k=4)
    again = cluster_segments(engine, as_of=AS_OF, seed=4, k=4)
    reused = cluster_segments(engine, as_of=AS_OF, reuse=True)
    assert first == again == reused
    one, two = models(engine)  # reuse stored no third model
    assert (one.version, two.version) == (1, 2)
    assert one.centroids == two.centroids and one.profiles == two.profiles
    assert one.silhouette is None and one.k == 4  # k given: no search


def test_reuse_without_a_stored_model_fits_one(engine: Engine) -> None:
    load_features(engine)
    found = cluster_segments(engine, as_of=AS_OF, reuse=True)
    assert len(models(engine)) == 1 and sum(map(len, found.values())) == 360


def test_profile_for_segments_show(engine: Engine) -> None:
    load_features(engine)
    cluster_segments(engine, as_of=AS_OF)
    profile = cluster_profile(engine, "cluster:0")
    assert profile is not None and profile["model_version"] == 1 and profile["words"]
    assert set(profile["percentile"]) == set(clustering.FEATURES)
    assert cluster_profile(engine, "cluster:99") is None


def test_features_of_another_day_are_refused(engine: Engine) -> None:
    load_features(engine, as_of=date(2026, 11, 19))
    with pytest.raises(PredictionError, match="features are as of 2026-11-19, not 2026-11-20"):
        cluster_segments(engine, as_of=AS_OF)


def test_too_few_customers_or_a_bad_k_are_clear_errors(engine: Engine) -> None:
    with pytest.raises(PredictionError, match=r"only 0 customers with an order .* at least 20"):
        cluster_segments(engine, as_of=AS_OF)
    load_features(engine)
    with pytest.raises(PredictionError, match="k = 1 is not valid; expected 2 to 360 clusters"):
        cluster_segments(engine, as_of=AS_OF, k=1)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ClusterModel)) == 0
