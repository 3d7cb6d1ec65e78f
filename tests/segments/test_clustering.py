"""Clusters: the right number found, described in plain words, stored, reproducible, reusable,
and the same ids for the same clusters from one fit to the next."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import Engine, delete, func, select
from sqlmodel import Session

from models import ClusterModel, Customer, CustomerFeatures, SegmentMember
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


# A fourth kind, spending between the lapsed and the loyal: wholesale-like occasional buyers.
BULK = (100, (100, 140), (4, 6), (400, 700), (250, 300))


def load_features(
    engine: Engine, *, as_of: date = AS_OF, seed: int = 1, groups: dict | None = None
) -> dict[str, set[int]]:
    """Customer features for the groups (replacing any), returns the ids in each; a group
    keeps its ids whatever other groups are loaded."""
    rng = np.random.default_rng(seed)
    ids: dict[str, set[int]] = {}
    rows = []
    next_id = 1
    for name, (n, days, orders, revenue, tenure) in (groups or GROUPS).items():
        next_id = {"loyal": 1, "lapsed": 121, "new": 271, "bulk": 361}[name]
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
    rows.append(  # a customer who never ordered is in no cluster
        {"customer_id": 1000, "days_since_last_order": None, "orders": 0, "revenue": 0.0}
    )
    created = datetime(2025, 1, 1, tzinfo=UTC)
    with Session(engine) as s:
        s.execute(delete(CustomerFeatures))
        known = set(s.execute(select(Customer.id)).scalars())
        s.add_all(
            Customer(id=r["customer_id"], external_id=f"c{r['customer_id']}", created_at=created)
            for r in rows
            if r["customer_id"] not in known
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
    assert words["loyal"] == "recent, frequent, high-spend, long-standing customers"
    # one-time buyers: tenure is their recency, not said twice
    assert words["lapsed"] == "lapsed, one-time, low-spend customers"
    assert words["new"].startswith("recent, one-time, ") and words["new"].count(",") == 2
    # The first fit numbers by spend: cluster:0 spends least, the loyal are the last cluster.
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
    member_of = {cid: name for name, ids in found.items() for cid in ids}
    stored = sorted(model.profiles, key=lambda name: int(name.split(":")[1]))  # centres' order
    assert [member_of[r[0]] for r in rows] == [stored[i] for i in nearest]


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


def named(found: dict[str, list[int]]) -> dict[frozenset[int], str]:
    return {frozenset(ids): name for name, ids in found.items() if ids}


def test_a_refit_keeps_the_ids_of_the_same_clusters(engine: Engine) -> None:
    groups = load_features(engine)
    first = named(cluster_segments(engine, as_of=AS_OF, k=3))
    for seed in (1, 2, 3):  # other seeds: KMeans may order its centres otherwise
        assert named(cluster_segments(engine, as_of=AS_OF, k=3, seed=seed)) == first
    # A later day: everyone's last order is 10 days older, and a new kind of customer
    # spends between the others. Spend numbering would shift the loyal customers' id.
    later = date(2026, 11, 30)
    shifted = {
        name: (n, (lo + 10, hi + 10), *rest) for name, (n, (lo, hi), *rest) in GROUPS.items()
    }
    groups |= load_features(engine, as_of=later, groups=shifted | {"bulk": BULK})
    second = cluster_segments(engine, as_of=later, k=4)
    by_group = {
        name: next(c for c, m in second.items() if set(m) == ids) for name, ids in groups.items()
    }
    for name in GROUPS:
        assert by_group[name] == first[frozenset(groups[name])]
    assert by_group["bulk"] == "cluster:3"  # a new id, one more than the highest
    words = {c: p["words"] for c, p in models(engine)[0].profiles.items()}
    assert all(models(engine)[-1].profiles[c]["words"] == w for c, w in words.items())
    # The bulk buyers stay, the new customers go: their id is not reused for anyone.
    load_features(
        engine,
        as_of=later,
        groups={n: g for n, g in shifted.items() if n != "new"} | {"bulk": BULK},
    )
    third = cluster_segments(engine, as_of=later, k=3)
    assert by_group["new"] not in third
    assert named(third) == {frozenset(groups[n]): by_group[n] for n in ("loyal", "lapsed", "bulk")}
    # ... and the next new kind of customer takes the next id, 4.
    load_features(engine, as_of=later, groups=shifted | {"bulk": BULK})
    fourth = named(cluster_segments(engine, as_of=later, k=4))
    assert fourth[frozenset(groups["new"])] == "cluster:4"
    # Reuse assigns with the stored ids; show finds the vanished id in the model that had it.
    assert named(cluster_segments(engine, as_of=later, reuse=True)) == fourth
    old = cluster_profile(engine, by_group["new"])
    assert old is not None and old["model_version"] == 5 and old["words"].startswith("recent")


def test_a_new_centre_keeps_an_id_only_when_unambiguously_nearest() -> None:
    previous = np.array([[0.0, 0.0], [4.0, 0.0]])  # 4 apart: each reaches 2 around it
    ids = np.array([7, 3])
    spend = np.array([0.0, 1.0])

    def stable(*centres: tuple[float, float]) -> list[int]:
        return clustering.stable_ids(
            np.array(centres), previous, ids, next_id=8, spend=spend[: len(centres)]
        ).tolist()

    assert stable((1.9, 0.0), (4.5, 0.0)) == [7, 3]
    assert stable((4.5, 0.0), (1.9, 0.0)) == [3, 7]
    assert stable((1.9, 0.0), (9.0, 0.0)) == [7, 8]  # 5 from its nearest: a new cluster
    assert stable((2.1, 0.0), (0.0, 3.0)) == [3, 8]  # (0, 3) is 3 from (0, 0): too far
    assert clustering.stable_ids(
        np.array([[0.0], [1.0]]),
        np.empty((0, 1)),
        np.empty(0, dtype=np.int64),
        next_id=0,
        spend=np.array([5.0, 2.0]),
    ).tolist() == [1, 0]  # no previous model: numbered by spend


def test_a_vanished_cluster_is_refreshed_empty(engine: Engine) -> None:
    from segments.membership import members_select
    from segments.refresh import snapshot, write_members

    groups = load_features(engine)

    def refresh_clusters(as_of: date, k: int) -> dict[str, list[int]]:
        found = cluster_segments(engine, as_of=as_of, k=k)
        with engine.begin() as conn:
            conn.execute(delete(SegmentMember).where(SegmentMember.as_of == as_of))
            for name, ids in found.items():
                write_members(conn, segment=name, as_of=as_of, customer_ids=ids)
            snapshot(conn, as_of=as_of, segments=list(found))
        return found

    first = named(refresh_clusters(AS_OF, 3))
    gone = first[frozenset(groups["new"])]
    later = date(2026, 11, 21)
    load_features(engine, as_of=later, groups={n: g for n, g in GROUPS.items() if n != "new"})
    second = refresh_clusters(later, 2)
    assert second[gone] == [] and len(second) == 3
    with engine.connect() as conn:
        assert conn.execute(members_select(gone, as_of=later)).all() == []
        assert set(conn.execute(members_select(gone, as_of=AS_OF)).scalars()) == groups["new"]
    assert refresh_clusters(later, 2)[gone] == []  # a re-run of the day empties it again
    load_features(
        engine, as_of=date(2026, 11, 22), groups={n: g for n, g in GROUPS.items() if n != "new"}
    )
    assert gone not in refresh_clusters(date(2026, 11, 22), 2)  # emptied, then left alone
