"""Purchase predictions: BG/NBD (alive, future purchases) with Gamma-Gamma (order value).

Both models are fitted on the per-customer summary of ``segments.summary``; predicted
customer value is expected purchases over a horizon times expected order value,
optionally discounted. They feed two segments:

- ``predicted:churn_risk``: probably gone (P(alive) < 0.3) although they used to come
  back (at least 2 repeat purchase days);
- ``predicted:high_value``: the top decile of predicted value over the next 365 days.

Each buyer's figures are kept too (``customer_prediction``: ``p_alive``,
``expected_orders_90d``, ``clv``), so rules can use them with thresholds of their own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, delete, insert

from models.base import table, utcnow
from models.dialect import load_rows
from models.predictions import ClvFit
from models.segments import CustomerPrediction
from segments import bgnbd, gamma_gamma
from segments.errors import PredictionError
from segments.summary import Summary, customer_summary

HORIZON_DAYS = 365
EXPECTED_ORDERS_DAYS = 90
CHURN_P_ALIVE = 0.3
CHURN_MIN_REPEAT = 2
HIGH_VALUE_SHARE = 0.10
# Beyond this many customers the parameters are fitted on a fixed-seed random sample: the
# estimates are already precise there, and every customer is still scored.
MAX_FIT_CUSTOMERS = 50_000

__all__ = [
    "Fitted",
    "PredictionError",
    "customer_value",
    "fit_models",
    "fit_parameters",
    "predicted_segments",
]


@dataclass(frozen=True)
class Fitted:
    summary: Summary
    bgnbd: bgnbd.BGNBD
    gamma_gamma: gamma_gamma.GammaGamma
    seconds: float

    @property
    def fit_customers(self) -> int:
        return self.bgnbd.customers


def fit_models(summary: Summary, *, seed: int = 0) -> Fitted:
    """Fit BG/NBD and Gamma-Gamma on ``summary`` (a sample of it when it is large)."""
    started = time.perf_counter()
    rows = np.arange(len(summary))
    if len(summary) > MAX_FIT_CUSTOMERS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, MAX_FIT_CUSTOMERS, replace=False))
    sample = summary.subset(rows)
    bg = bgnbd.fit(sample.x, sample.t_x, sample.T)
    gg = gamma_gamma.fit(sample.x, sample.monetary)
    return Fitted(summary, bg, gg, round(time.perf_counter() - started, 3))


def customer_value(
    fitted: Fitted,
    *,
    horizon: float,
    discount_rate: float = 0.0,
    steps: int = 12,
) -> NDArray[np.float64]:
    """Predicted value per customer over ``horizon`` (in the summary's time unit).

    Σ_k (E[Y(t_k)] − E[Y(t_{k−1})]) · E[M] / (1 + d)^k with t_k = k · horizon / steps and
    ``discount_rate`` d per step; without discounting it is E[Y(horizon)] · E[M]. Customers
    without a repeat purchase are valued at the population mean order value (or, when the
    Gamma-Gamma q ≤ 1 leaves that undefined, the mean of the observed repeat values).
    """
    if horizon < 0 or steps < 1 or discount_rate <= -1:
        raise ValueError("horizon must be >= 0, steps >= 1 and discount_rate > -1")
    s, bg, gg = fitted.summary, fitted.bgnbd, fitted.gamma_gamma
    order_value = gg.expected_value(s.x, s.monetary)
    if np.isnan(order_value).any():
        observed = s.monetary[(s.x > 0) & (s.monetary > 0)]
        order_value = np.where(np.isnan(order_value), observed.mean(), order_value)
    if discount_rate == 0:
        return bg.expected_purchases(horizon, s.x, s.t_x, s.T) * order_value
    value = np.zeros(len(s))
    before = np.zeros(len(s))
    for k in range(1, steps + 1):
        upto = bg.expected_purchases(horizon * k / steps, s.x, s.t_x, s.T)
        value += (upto - before) / (1 + discount_rate) ** k
        before = upto
    return value * order_value


def fit_parameters(
    engine: Engine,
    *,
    as_of: date | None = None,
    calibration_end: date | None = None,
    time_unit: str = "weeks",
) -> dict[str, Any]:
    """Fit both models on purchases up to ``calibration_end`` (default ``as_of``, default today).

    Returns ``{"bgnbd": {r, alpha, a, b, loglik}, "gamma_gamma": {p, q, v}, ...}`` with the
    counts behind them; nothing is stored.
    """
    end = calibration_end or as_of or date.today()
    if as_of is not None and end > as_of:
        raise PredictionError(
            f"the calibration end {end} is after the as-of date {as_of}; it must be on or before"
        )
    fitted = fit_models(customer_summary(engine, calibration_end=end, time_unit=time_unit))
    s, bg, gg = fitted.summary, fitted.bgnbd, fitted.gamma_gamma
    return {
        "calibration_end": end.isoformat(),
        "time_unit": time_unit,
        "customers": len(s),
        "repeat_customers": int((s.x > 0).sum()),
        "fit_customers": fitted.fit_customers,
        "bgnbd": {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "loglik": bg.loglik},
        "gamma_gamma": {"p": gg.p, "q": gg.q, "v": gg.v},
        "gamma_gamma_customers": gg.customers,
        "x_m_correlation": gg.correlation,
        "seconds": fitted.seconds,
    }


def predicted_segments(engine: Engine, *, as_of: date) -> dict[str, list[int]]:
    """Members of ``predicted:churn_risk`` and ``predicted:high_value`` as of ``as_of``.

    Fits on purchases up to ``as_of`` in days, stores the parameters in ``clv_fit``, and
    raises :class:`PredictionError` when the data cannot support a fit.
    """
    summary = customer_summary(engine, calibration_end=as_of, time_unit="days")
    fitted = fit_models(summary)
    s, bg, gg = fitted.summary, fitted.bgnbd, fitted.gamma_gamma
    alive = bg.p_alive(s.x, s.t_x, s.T)
    value = customer_value(fitted, horizon=HORIZON_DAYS)
    churn = (alive < CHURN_P_ALIVE) & (s.x >= CHURN_MIN_REPEAT)
    high = (value >= np.quantile(value, 1 - HIGH_VALUE_SHARE)) & (value > 0)
    with engine.begin() as conn:
        conn.execute(
            insert(ClvFit).values(
                as_of=as_of,
                calibration_end=as_of,
                time_unit="days",
                customers=len(s),
                repeat_customers=int((s.x > 0).sum()),
                fit_customers=fitted.fit_customers,
                r=bg.r,
                alpha=bg.alpha,
                a=bg.a,
                b=bg.b,
                bgnbd_loglik=bg.loglik,
                p=gg.p,
                q=gg.q,
                v=gg.v,
                gamma_gamma_loglik=gg.loglik,
                gamma_gamma_customers=gg.customers,
                seconds=fitted.seconds,
                created_at=utcnow(),
            )
        )
        expected = bg.expected_purchases(EXPECTED_ORDERS_DAYS, s.x, s.t_x, s.T)
        store_predictions(conn, s.customer_id, as_of, alive, expected, value)
    return {
        "predicted:churn_risk": s.customer_id[churn].tolist(),
        "predicted:high_value": s.customer_id[high].tolist(),
    }


def store_predictions(
    conn: Connection,
    customer_ids: NDArray[np.int64],
    as_of: date,
    alive: NDArray[np.float64],
    expected_orders: NDArray[np.float64],
    value: NDArray[np.float64],
) -> None:
    """Replace ``customer_prediction`` with one fit's figures (bulk loaded: one row per buyer;
    a customer whose figures did not come out finite gets none, so compares false)."""
    conn.execute(delete(CustomerPrediction))
    finite = np.isfinite(alive) & np.isfinite(expected_orders) & np.isfinite(value)
    rows = (
        (int(c), as_of, float(a), float(e), float(v))
        for c, a, e, v, ok in zip(customer_ids, alive, expected_orders, value, finite, strict=True)
        if ok
    )
    columns = ("customer_id", "as_of", "p_alive", "expected_orders_90d", "clv")
    load_rows(conn, table(CustomerPrediction), columns, rows)
