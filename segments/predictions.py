"""Predictive segments from BG/NBD (alive, future purchases) and Gamma-Gamma (order value)."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert

from models.predictions import FittedModel
from segments import bgnbd, gamma_gamma
from segments.errors import PredictionError
from segments.summary import customer_summary

HORIZON_DAYS = 365
CHURN_P_ALIVE = 0.3
CHURN_MIN_REPEAT = 2
HIGH_VALUE_QUANTILE = 0.9
# Parameters are fitted on a fixed-seed sample of at most this many customers: at that size
# the estimates are already precise, and every customer is still scored.
MAX_FIT_CUSTOMERS = 50_000

__all__ = ["PredictionError", "fit_parameters", "predicted_segments"]


def fit_parameters(
    engine: Engine,
    *,
    as_of: date | None = None,
    calibration_end: date | None = None,
    time_unit: str = "weeks",
) -> dict[str, Any]:
    """Fit both models on purchases up to ``calibration_end`` (default ``as_of``, default today)."""
    end = calibration_end or as_of or date.today()
    summary = customer_summary(engine, calibration_end=end, time_unit=time_unit)
    bg = bgnbd.fit(summary.x, summary.t_x, summary.T)
    gg = gamma_gamma.fit(summary.x, summary.monetary)
    return {
        "calibration_end": end.isoformat(),
        "time_unit": time_unit,
        "customers": len(summary),
        "repeat_customers": int((summary.x > 0).sum()),
        "bgnbd": {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "loglik": bg.loglik},
        "gamma_gamma": {"p": gg.p, "q": gg.q, "v": gg.v},
    }


def predicted_segments(engine: Engine, *, as_of: date) -> dict[str, list[int]]:
    """``predicted:churn_risk`` (likely gone, though they used to buy often) and
    ``predicted:high_value`` (top decile of expected value over the next year)."""
    s = customer_summary(engine, calibration_end=as_of, time_unit="days")
    fit_on = np.arange(len(s))
    if len(s) > MAX_FIT_CUSTOMERS:
        fit_on = np.random.default_rng(0).choice(len(s), MAX_FIT_CUSTOMERS, replace=False)
    bg = bgnbd.fit(s.x[fit_on], s.t_x[fit_on], s.T[fit_on])
    gg = gamma_gamma.fit(s.x[fit_on], s.monetary[fit_on])
    alive = bg.p_alive(s.x, s.t_x, s.T)
    value = bg.expected_purchases(HORIZON_DAYS, s.x, s.t_x, s.T) * gg.expected_value(
        s.x, s.monetary
    )
    churn = (alive < CHURN_P_ALIVE) & (s.x >= CHURN_MIN_REPEAT)
    high = value >= np.quantile(value, HIGH_VALUE_QUANTILE)
    with engine.begin() as conn:
        conn.execute(
            insert(FittedModel),
            [
                {
                    "kind": "bgnbd",
                    "as_of": as_of,
                    "params": {
                        "r": bg.r,
                        "alpha": bg.alpha,
                        "a": bg.a,
                        "b": bg.b,
                        "loglik": bg.loglik,
                        "time_unit": "days",
                    },
                },
                {
                    "kind": "gamma_gamma",
                    "as_of": as_of,
                    "params": {"p": gg.p, "q": gg.q, "v": gg.v},
                },
            ],
        )
    return {
        "predicted:churn_risk": s.customer_id[churn].tolist(),
        "predicted:high_value": s.customer_id[high & (value > 0)].tolist(),
    }
