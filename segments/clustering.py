"""Behavioural clusters: KMeans on log-transformed, scaled recency, frequency, spend and tenure.

The number of clusters is chosen by silhouette on a sample unless given; a fixed seed
makes the result reproducible; clusters are numbered by average spend (``cluster:0`` the
lowest) and described in plain words from their centres. The fitted scaler and centres
are stored, so a later refresh can assign customers without refitting.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from sqlalchemy import Engine, insert, select

from models.predictions import FittedModel
from models.segments import CustomerFeatures
from segments.errors import PredictionError

VERSION = 1
FEATURES = ("days_since_last_order", "orders", "revenue", "tenure_days")
SAMPLE = 3_000  # silhouette is quadratic in the sample; 3,000 rows decide k as well as 10,000
K_RANGE = range(2, 9)
MIN_CUSTOMERS = 20


def _matrix(engine: Engine) -> tuple[np.ndarray, np.ndarray]:
    F = CustomerFeatures.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(F.customer_id, *(F[f] for f in FEATURES))
            .where(F.orders > 0)
            .order_by(F.customer_id)
        ).all()
    data = np.array(rows, dtype=float).reshape(-1, len(FEATURES) + 1)
    return data[:, 0].astype(np.int64), np.log1p(np.clip(data[:, 1:], 0, None))


def _choose_k(scaled: np.ndarray, seed: int) -> tuple[int, float]:
    rng = np.random.default_rng(seed)
    sample = scaled[rng.choice(len(scaled), size=min(SAMPLE, len(scaled)), replace=False)]
    best = (2, -1.0)
    for k in K_RANGE:
        if k >= len(sample):
            break
        labels = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit_predict(sample)
        score = float(silhouette_score(sample, labels))
        if score > best[1]:
            best = (k, score)
    return best


def describe(centre: np.ndarray, overall: np.ndarray) -> str:
    """Plain words for a centre in log space against the population's medians."""
    recency, frequency, spend, _tenure = centre - overall
    words = [
        "recent" if recency < -0.3 else "lapsed" if recency > 0.3 else "mid-recency",
        "frequent" if frequency > 0.3 else "one-off" if frequency < -0.3 else "occasional",
        "high spend" if spend > 0.3 else "low spend" if spend < -0.3 else "mid spend",
    ]
    return ", ".join(words)


def fit(engine: Engine, *, as_of: date, k: int | None = None, seed: int = 0) -> dict[str, Any]:
    ids, X = _matrix(engine)
    if len(ids) < MIN_CUSTOMERS:
        raise PredictionError(
            f"only {len(ids)} customers with orders; clustering needs at least {MIN_CUSTOMERS}"
        )
    scaler = StandardScaler().fit(X)
    scaled = scaler.transform(X)
    silhouette = None
    if k is None:
        k, silhouette = _choose_k(scaled, seed)
    model = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit(scaled)
    centres = scaler.inverse_transform(model.cluster_centers_)
    order = np.argsort(centres[:, FEATURES.index("revenue")])
    centres = centres[order]
    overall = np.median(X, axis=0)
    params = {
        "version": VERSION,
        "features": list(FEATURES),
        "transform": "log1p",
        "scaler_mean": scaler.mean_.tolist(),
        "scaler_scale": scaler.scale_.tolist(),
        "centres": centres.tolist(),
        "k": int(k),
        "seed": seed,
        "silhouette": silhouette,
        "profiles": {f"cluster:{i}": describe(c, overall) for i, c in enumerate(centres)},
    }
    with engine.begin() as conn:
        conn.execute(
            insert(FittedModel).values(kind="kmeans", version=VERSION, as_of=as_of, params=params)
        )
    return params


def assign(X: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Nearest stored centre, in the stored scaler's space."""
    mean, scale = np.array(params["scaler_mean"]), np.array(params["scaler_scale"])
    centres = (np.array(params["centres"]) - mean) / scale
    scaled = (X - mean) / scale
    return np.argmin(((scaled[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)


def latest(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        return conn.execute(
            select(FittedModel.params)
            .where(FittedModel.kind == "kmeans")
            .order_by(FittedModel.id.desc())
            .limit(1)
        ).scalar()


def cluster_segments(
    engine: Engine, *, as_of: date, k: int | None = None, seed: int = 0, reuse: bool = False
) -> dict[str, list[int]]:
    """Members per ``cluster:N``; ``reuse`` assigns with the last stored model instead of refitting."""
    params = latest(engine) if reuse else None
    if params is None:
        params = fit(engine, as_of=as_of, k=k, seed=seed)
    ids, X = _matrix(engine)
    labels = assign(X, params) if len(ids) else np.array([], dtype=int)
    return {f"cluster:{i}": ids[labels == i].tolist() for i in range(params["k"])}
