"""Behavioural clusters: KMeans on log-transformed, standardised recency, frequency, spend, tenure.

Features come from ``customer_features`` (computed in SQL by the refresh) for customers
with an order; each is log1p-transformed (they are heavily skewed) and standardised.
The number of clusters is the one with the best silhouette, on a sample, among 2..8
unless given. A fixed seed makes everything reproducible. Clusters are described in plain
words from where their centre falls in the overall distribution ("recent, frequent,
high-spend, long-standing customers"). Each fit is stored in ``cluster_model`` with a new
version, its features, scaler and centres, so a later refresh can assign customers with
it (``reuse=True``) and analysts can see what it was.

Ids are stable across refits, so ``cluster:3`` keeps meaning the same kind of customer:
a new fit is matched to the previous model (:func:`stable_ids`), centre to centre, in the
new fit's standardised space (the previous centres are taken back to log1p units with
their own scaler). The assignment minimises the total distance
(``scipy.optimize.linear_sum_assignment``); a pair counts as the same cluster when the new
centre lies within ``MATCH_SHARE`` (half) of the distance from the previous centre to its
nearest other previous centre, i.e. it is unambiguously nearer to that cluster than to
any other. Matched clusters keep the previous id and words; any other cluster takes a new
id (one more than the highest ever used), and ids of clusters that vanished are never
reused. The first fit numbers clusters by spend (``cluster:0`` the lowest).

The ids live in the ``profiles`` keys (``cluster:N``); ``centroids`` are stored in ascending
id order, so no other column is needed (:func:`cluster_ids`).

Plain KMeans (``n_init="auto"``) rather than MiniBatchKMeans: measured by
``bench/predictions.py`` on 1,000,000 customers, MiniBatchKMeans was slower and ended
with a worse inertia.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any, TypedDict

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances, pairwise_distances_argmin, silhouette_score
from sklearn.preprocessing import StandardScaler
from sqlalchemy import Engine, func, insert, select
from threadpoolctl import threadpool_limits

from models.base import table, utcnow
from models.predictions import ClusterModel
from models.segments import CustomerFeatures, SegmentSnapshot, latest_snapshots
from segments.errors import PredictionError

FEATURES = ("days_since_last_order", "orders", "revenue", "tenure_days")
TRANSFORM = "log1p"
K_RANGE = range(2, 9)
FIT_SAMPLE = 10_000  # candidate k are fitted on this many customers ...
SCORE_SAMPLE = 3_000  # ... and scored on this many (silhouette is quadratic in rows)
MIN_CUSTOMERS = 20
# One thread: on this 2-core machine, shared with the database, scikit-learn's default
# thread pool made choosing k 20 times slower and the fit on 1,000,000 customers slower too.
THREADS = 1
FETCH = 50_000
# A new centre keeps a previous cluster's id when nearer to it than this share of the
# distance from that centre to its nearest other previous centre (see the module text).
MATCH_SHARE = 0.5
ONE_TIME = 1.5  # a centre below this many orders is a cluster of one-time buyers
# Words for the lower, middle and upper third of each feature's distribution.
WORDS = {
    "days_since_last_order": ("recent", "cooling", "lapsed"),
    "orders": ("infrequent", "occasional", "frequent"),
    "revenue": ("low-spend", "mid-spend", "high-spend"),
    "tenure_days": ("new", "", "long-standing"),
}


class ClusterDescription(TypedDict):
    """Where a cluster's centre falls among customers: :func:`describe`'s answer."""

    words: str
    centre: dict[str, float]
    percentile: dict[str, float]


def feature_matrix(engine: Engine, *, as_of: date) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Customer ids and the raw features of customers with an order, as of ``as_of``."""
    c = table(CustomerFeatures).c
    query = (
        select(c.customer_id, *(c[f] for f in FEATURES))
        .where(c.as_of == as_of, c.orders > 0)
        .order_by(c.customer_id)
    )
    parts = []
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=FETCH).execute(query)
        for chunk in result.partitions():
            parts.append(np.array([tuple(row) for row in chunk], dtype=float))
        if not parts:
            other = conn.execute(select(func.max(c.as_of))).scalar()
            if other is not None and other != as_of:
                raise PredictionError(
                    f"customer features are as of {other}, not {as_of}; "
                    "compute them first (a segment refresh does)"
                )
    data = np.concatenate(parts) if parts else np.empty((0, len(FEATURES) + 1))
    return data[:, 0].astype(np.int64), np.nan_to_num(data[:, 1:])


def transform(raw: NDArray[np.float64]) -> NDArray[np.float64]:
    """log1p of the features, negatives (net revenue after returns) counted as 0."""
    return np.log1p(np.clip(raw, 0, None))


def choose_k(scaled: NDArray[np.float64], *, seed: int) -> tuple[int, float, dict[int, float]]:
    """The k in ``K_RANGE`` with the best silhouette, each fitted and scored on a sample."""
    rng = np.random.default_rng(seed)
    fit_rows = rng.choice(len(scaled), size=min(FIT_SAMPLE, len(scaled)), replace=False)
    sample = scaled[fit_rows]
    score_rows = rng.choice(len(sample), size=min(SCORE_SAMPLE, len(sample)), replace=False)
    distances = pairwise_distances(sample[score_rows])  # once for every k: half the time
    scores: dict[int, float] = {}
    for k in K_RANGE:
        if k >= len(sample):
            break
        labels = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit_predict(sample)
        if len(set(labels[score_rows])) < 2:
            continue
        scores[k] = float(silhouette_score(distances, labels[score_rows], metric="precomputed"))
    if not scores:
        raise PredictionError("customers are too alike to form two clusters")
    best = max(scores, key=lambda k: (scores[k], -k))
    return best, scores[best], scores


def describe(centroid: NDArray[np.float64], raw: NDArray[np.float64]) -> ClusterDescription:
    """Where a centre (raw units) falls in each feature's distribution, and in words.

    The percentile counts ties as half, so a centre of 1 order among many one-order
    customers sits in the middle of them rather than at the bottom. For one-time buyers
    tenure is the same number as recency, so it is not said twice.
    """
    percentiles: dict[str, float] = {}
    words: list[str] = []
    one_time = centroid[FEATURES.index("orders")] < ONE_TIME
    for i, feature in enumerate(FEATURES):
        column = np.sort(raw[:, i])
        below = np.searchsorted(column, centroid[i], side="left")
        upto = np.searchsorted(column, centroid[i], side="right")
        pct = (below + upto) / 2 / len(column)
        percentiles[feature] = round(float(pct), 3)
        low, mid, high = WORDS[feature]
        word = low if pct < 1 / 3 else high if pct > 2 / 3 else mid
        if feature == "orders" and one_time:
            word = "one-time"
        if feature == "tenure_days" and one_time:
            word = ""
        if word:
            words.append(word)
    return {
        "words": ", ".join(words) + " customers",
        "centre": {f: round(float(v), 2) for f, v in zip(FEATURES, centroid, strict=True)},
        "percentile": percentiles,
    }


def cluster_ids(model: dict[str, Any]) -> NDArray[np.int64]:
    """The id of each stored centre, in the order of ``centroids`` (ascending ids)."""
    return np.array(sorted(int(key.split(":")[1]) for key in model["profiles"]), dtype=np.int64)


def stable_ids(
    centres: NDArray[np.float64],
    previous: NDArray[np.float64],
    previous_ids: NDArray[np.int64],
    *,
    next_id: int,
    spend: NDArray[np.float64],
) -> NDArray[np.int64]:
    """An id for each new centre: the matched previous centre's, else a new one.

    ``centres`` and ``previous`` are in one space. New ids go to unmatched clusters in
    order of ``spend``, from ``next_id`` up.
    """
    ids = np.full(len(centres), -1, dtype=np.int64)
    if len(previous):
        apart = np.linalg.norm(previous[:, None, :] - previous[None, :, :], axis=2)
        np.fill_diagonal(apart, np.inf)
        reach = MATCH_SHARE * apart.min(axis=1)
        cost = np.linalg.norm(centres[:, None, :] - previous[None, :, :], axis=2)
        for i, j in zip(*linear_sum_assignment(cost), strict=True):
            if cost[i, j] < reach[j]:
                ids[i] = previous_ids[j]
    for i in np.argsort(spend, kind="stable"):
        if ids[i] < 0:
            ids[i], next_id = next_id, next_id + 1
    return ids


def _highest_id(engine: Engine) -> int:
    """The highest cluster id any stored model ever used (-1 before the first fit)."""
    with engine.connect() as conn:
        rows = conn.execute(select(table(ClusterModel).c.profiles)).scalars()
        return max((int(max(cluster_ids({"profiles": p}), default=-1)) for p in rows), default=-1)


def fit(
    engine: Engine, *, as_of: date, k: int | None = None, seed: int = 0
) -> tuple[dict[str, Any], NDArray[np.int64], NDArray[np.int64]]:
    """Fit, store and return the model (as a dict of its row), with customer and cluster ids."""
    started = time.perf_counter()
    ids, raw = feature_matrix(engine, as_of=as_of)
    if len(ids) < MIN_CUSTOMERS:
        raise PredictionError(
            f"only {len(ids)} customers with an order as of {as_of}; "
            f"clustering needs at least {MIN_CUSTOMERS}"
        )
    if k is not None and not 2 <= k <= len(ids):
        raise PredictionError(f"k = {k} is not valid; expected 2 to {len(ids)} clusters")
    logged = transform(raw)
    scaler = StandardScaler().fit(logged)
    scaled = scaler.transform(logged)
    silhouette = None
    with threadpool_limits(THREADS):
        if k is None:
            k, silhouette, _ = choose_k(scaled, seed=seed)
        kmeans = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit(scaled)
    before = latest_model(engine)
    if before is None:
        previous, previous_ids = np.empty((0, len(FEATURES))), np.empty(0, dtype=np.int64)
    else:  # the previous centres, back to log1p units, then in the new scaler's space
        logged_before = np.array(before["centroids"]) * before["scaler_scale"]
        previous = scaler.transform(logged_before + np.array(before["scaler_mean"]))
        previous_ids = cluster_ids(before)
    spend = kmeans.cluster_centers_[:, FEATURES.index("revenue")]
    fitted_ids = stable_ids(
        kmeans.cluster_centers_,
        previous,
        previous_ids,
        next_id=_highest_id(engine) + 1,
        spend=spend,
    )
    order = np.argsort(fitted_ids)  # centres stored in ascending id order
    centroids = kmeans.cluster_centers_[order]
    labels = fitted_ids[kmeans.labels_]
    raw_centres = np.expm1(scaler.inverse_transform(centroids))
    profiles = {}
    for cid, centre in zip(fitted_ids[order], raw_centres, strict=True):
        key = f"cluster:{cid}"
        profiles[key] = {"size": int((labels == cid).sum()), **describe(centre, raw)}
        if before is not None and key in before["profiles"]:  # the same cluster: same words
            profiles[key]["words"] = before["profiles"][key]["words"]
    with engine.begin() as conn:
        version = (conn.execute(select(func.max(ClusterModel.version))).scalar() or 0) + 1
        row = {
            "version": version,
            "as_of": as_of,
            "algorithm": "kmeans",
            "k": int(k),
            "seed": seed,
            "customers": len(ids),
            "silhouette": silhouette,
            "features": list(FEATURES),
            "transform": TRANSFORM,
            "scaler_mean": scaler.mean_.tolist(),
            "scaler_scale": scaler.scale_.tolist(),
            "centroids": centroids.tolist(),
            "profiles": profiles,
            "seconds": round(time.perf_counter() - started, 3),
        }
        conn.execute(insert(ClusterModel).values(**row, created_at=utcnow()))
    return row, ids, labels


def assign(raw: NDArray[np.float64], model: dict[str, Any]) -> NDArray[np.int64]:
    """The id of the nearest stored centre of each customer, in the stored scaler's space."""
    mean, scale = np.array(model["scaler_mean"]), np.array(model["scaler_scale"])
    centroids = np.array(model["centroids"])
    with threadpool_limits(THREADS):
        nearest = pairwise_distances_argmin((transform(raw) - mean) / scale, centroids)
    return cluster_ids(model)[nearest]


def latest_model(engine: Engine) -> dict[str, Any] | None:
    """The last stored model that uses today's features, as a dict of its row."""
    with engine.connect() as conn:
        row = conn.execute(
            select(ClusterModel).order_by(table(ClusterModel).c.version.desc()).limit(1)
        ).first()
    if row is None:
        return None
    model = dict(row._mapping)
    if model["features"] != list(FEATURES) or model["transform"] != TRANSFORM:
        return None
    return model


def cluster_profile(engine: Engine, segment: str) -> dict[str, Any] | None:
    """The plain-words profile of ``cluster:N`` in the latest model that has it, for ``show``."""
    c = table(ClusterModel).c
    with engine.connect() as conn:
        for version, profiles in conn.execute(
            select(c.version, c.profiles).order_by(c.version.desc())
        ):
            if segment in profiles:  # the words first: what ``show`` prints leads with them
                profile = profiles[segment]
                return {"words": profile["words"], "model_version": version} | profile
    return None


def _left_over(engine: Engine, *, as_of: date) -> set[str]:
    """Cluster segments that had members at their last snapshot before ``as_of``."""
    s = table(SegmentSnapshot).c
    last = latest_snapshots(before=as_of).where(s.segment.like("cluster:%")).subquery()
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(s.segment)
                .join(last, (last.c.segment == s.segment) & (last.c.as_of == s.as_of))
                .where(s.size > 0)
            ).scalars()
        )


def cluster_segments(
    engine: Engine,
    *,
    as_of: date,
    k: int | None = None,
    seed: int = 0,
    reuse: bool = False,
) -> dict[str, list[int]]:
    """Members of each ``cluster:N`` as of ``as_of``; clusters of an earlier fit that no
    longer exist come back empty, so their snapshot says so (rather than the old members).

    ``reuse`` assigns customers with the last stored model instead of refitting (it fits
    when there is none); otherwise a new model is fitted and stored.
    """
    model = latest_model(engine) if reuse else None
    if model is None:
        model, ids, labels = fit(engine, as_of=as_of, k=k, seed=seed)
    else:
        ids, raw = feature_matrix(engine, as_of=as_of)
        labels = assign(raw, model) if len(ids) else np.empty(0, dtype=np.int64)
    found = {f"cluster:{i}": ids[labels == i].tolist() for i in cluster_ids(model)}
    return {name: [] for name in sorted(_left_over(engine, as_of=as_of))} | found
