"""Fitted models kept with their parameters, so a refresh can reuse them and analysts can see them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime, utcnow


class ClvFit(SQLModel, table=True):
    """BG/NBD and Gamma-Gamma parameters fitted on purchases up to ``calibration_end``.

    Times (``alpha``) are in ``time_unit``; ``v`` (γ) is in the store's money.
    """

    __tablename__ = "clv_fit"

    id: int | None = Field(default=None, primary_key=True)
    as_of: date = Field(index=True)
    calibration_end: date
    time_unit: str = Field(max_length=8)
    customers: int = Field(description="Customers with a purchase by the calibration end")
    repeat_customers: int = Field(description="Customers who bought on more than one day")
    fit_customers: int = Field(description="Customers the BG/NBD fit used (a sample when large)")
    r: float
    alpha: float
    a: float
    b: float
    bgnbd_loglik: float
    p: float
    q: float
    v: float = Field(description="Gamma-Gamma scale γ")
    gamma_gamma_loglik: float
    gamma_gamma_customers: int = Field(description="Repeat customers with spend, fitted")
    seconds: float = 0.0
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))


class ClusterModel(SQLModel, table=True):
    """A fitted KMeans clustering: what it was trained on and how to assign new customers.

    Features are log1p-transformed, then standardised with ``scaler_mean`` and
    ``scaler_scale``; ``centroids`` are in that standardised space (one list per cluster,
    in ascending cluster id, the ids being the ``profiles`` keys); ``profiles`` describe each
    cluster in plain words, and keep their ids from one fit to the next.
    """

    __tablename__ = "cluster_model"

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(unique=True, description="1 for the first fit, then one more per fit")
    as_of: date = Field(index=True)
    algorithm: str = Field(default="kmeans", max_length=32)
    k: int
    seed: int = 0
    customers: int = 0
    silhouette: float | None = Field(default=None, description="On the sample that chose k")
    features: list[str] = Field(sa_column=Column(JSON, nullable=False))
    transform: str = Field(default="log1p", max_length=32)
    scaler_mean: list[float] = Field(sa_column=Column(JSON, nullable=False))
    scaler_scale: list[float] = Field(sa_column=Column(JSON, nullable=False))
    centroids: list[list[float]] = Field(sa_column=Column(JSON, nullable=False))
    profiles: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    seconds: float = 0.0
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime()))
