"""Behavioural clusters: KMeans on log-transformed, standardised recency, frequency, spend, tenure.

Features come from ``customer_features`` (computed in SQL by the refresh) for customers
with an order; each is log1p-transformed (they are heavily skewed) and standardised.
The number of clusters is the one with the best silhouette, on a sample, among 2..8
unless given. A fixed seed makes everything reproducible. Clusters are numbered by
spend (``cluster:0`` the lowest) and described in plain words from where their centre
falls in the overall distribution ("recent, frequent, high spend"). Each fit is stored
in ``cluster_model`` with a new version, its features, scaler and centres, so a later
refresh can assign customers with it (``reuse=True``) and analysts can see what it was.

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
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances, pairwise_distances_argmin, silhouette_score
from sklearn.preprocessing import StandardScaler
from sqlalchemy import Engine, func, insert, select
from threadpoolctl import threadpool_limits

from models.base import table, utcnow
from models.predictions import ClusterModel
from models.segments import CustomerFeatures
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
# Words for the lower, middle and upper third of each feature's distribution.
WORDS = {
    "days_since_last_order": ("recent", "cooling", "lapsed"),
    "orders": ("infrequent", "occasional", "frequent"),
    "revenue": ("low spend", "mid spend", "high spend"),
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
    customers sits in the middle of them rather than at the bottom.
    """
    percentiles: dict[str, float] = {}
    words: list[str] = []
    for i, feature in enumerate(FEATURES):
        column = np.sort(raw[:, i])
        below = np.searchsorted(column, centroid[i], side="left")
        upto = np.searchsorted(column, centroid[i], side="right")
        pct = (below + upto) / 2 / len(column)
        percentiles[feature] = round(float(pct), 3)
        low, mid, high = WORDS[feature]
        word = low if pct < 1 / 3 else high if pct > 2 / 3 else mid
        if feature == "orders" and centroid[i] < 1.5:
            word = "one-off"
        if word:
            words.append(word)
    return {
        "words": ", ".join(words),
        "centre": {f: round(float(v), 2) for f, v in zip(FEATURES, centroid, strict=True)},
        "percentile": percentiles,
    }


def fit(
    engine: Engine, *, as_of: date, k: int | None = None, seed: int = 0
) -> tuple[dict[str, Any], NDArray[np.int64], NDArray[np.int64]]:
    """Fit, store and return the model (as a dict of its row), with ids and labels."""
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
    # Number clusters by spend, so cluster:0 is always the lowest-spending one.
    order = np.argsort(kmeans.cluster_centers_[:, FEATURES.index("revenue")], kind="stable")
    centroids = kmeans.cluster_centers_[order]
    labels = np.argsort(order)[kmeans.labels_]
    raw_centres = np.expm1(scaler.inverse_transform(centroids))
    sizes = np.bincount(labels, minlength=k)
    profiles = {
        f"cluster:{i}": {"size": int(sizes[i]), **describe(raw_centres[i], raw)} for i in range(k)
    }
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
    """The nearest stored centre of each customer, in the stored scaler's space."""
    mean, scale = np.array(model["scaler_mean"]), np.array(model["scaler_scale"])
    centroids = np.array(model["centroids"])
    with threadpool_limits(THREADS):
        return pairwise_distances_argmin((transform(raw) - mean) / scale, centroids)


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
    """The stored plain-words profile of ``cluster:N`` in the latest model, for ``show``."""
    model = latest_model(engine)
    if model is None:
        return None
    profile = model["profiles"].get(segment)
    return None if profile is None else {"model_version": model["version"], **profile}


def cluster_segments(
    engine: Engine,
    *,
    as_of: date,
    k: int | None = None,
    seed: int = 0,
    reuse: bool = False,
) -> dict[str, list[int]]:
    """Members of each ``cluster:N`` as of ``as_of``.

    ``reuse`` assigns customers with the last stored model instead of refitting (it fits
    when there is none); otherwise a new model is fitted and stored.
    """
    model = latest_model(engine) if reuse else None
    if model is None:
        model, ids, labels = fit(engine, as_of=as_of, k=k, seed=seed)
    else:
        ids, raw = feature_matrix(engine, as_of=as_of)
        labels = assign(raw, model) if len(ids) else np.empty(0, dtype=int)
    return {f"cluster:{i}": ids[labels == i].tolist() for i in range(model["k"])}
