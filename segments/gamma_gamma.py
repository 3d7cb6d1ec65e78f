"""The Gamma-Gamma model of spend per transaction.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves
for Customer Base Analysis. Journal of Marketing Research 42(4), 415-430; and Fader, P. S.
& Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.

A customer's transaction values are Gamma(p, ν) around their own mean p/ν, with
ν ~ Gamma(q, γ) across customers (γ is called ``v`` in code). For ``x`` repeat
transactions with mean value ``m`` (the first transaction left out), the likelihood is

    ln L = ln Γ(px + q) − ln Γ(px) − ln Γ(q) + q ln γ + (px − 1) ln m + px ln x
           − (px + q) ln(γ + m x)

and a customer's expected mean transaction value is

    E[M | x, m] = p (γ + m x) / (p x + q − 1),

a weighted mean of the population mean p γ / (q − 1) and the customer's own ``m``.
Only customers with a repeat transaction (x ≥ 1) and positive spend enter the fit. The
model assumes spend does not depend on how often a customer buys; the fit reports the
correlation of x and m so that can be checked (Fader & Hardie find 0.11 on CDNOW).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import digamma, gammaln

from segments.errors import PredictionError
from segments.optimize import minimize_log_params

MIN_REPEAT_CUSTOMERS = 20
STARTS = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (2.0, 0.5, 0.0))


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float  # γ, the scale of the spend distribution, in money
    loglik: float
    converged: bool
    message: str = ""
    customers: int = 0  # repeat customers with positive spend, the ones fitted
    left_out: int = 0  # repeat customers whose repeat purchases were worth nothing
    correlation: float = float("nan")  # of x and m among the fitted customers

    @property
    def population_mean(self) -> float:
        """E[M] of a customer not yet seen: p γ / (q − 1), infinite when q ≤ 1."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else float("inf")

    def expected_value(self, x: NDArray[np.float64], m: NDArray[np.float64]) -> NDArray[np.float64]:
        """E[M | x, m]; a customer without repeat purchases gets the population mean.

        With q ≤ 1 the population mean does not exist and ``nan`` is returned for them.
        """
        x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
        repeat = x > 0
        out = np.full(x.shape, self.population_mean if self.q > 1 else np.nan)
        out[repeat] = self.p * (self.v + m[repeat] * x[repeat]) / (self.p * x[repeat] + self.q - 1)
        return out


def log_likelihood(
    params: NDArray[np.float64], x: NDArray[np.float64], m: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per-customer ln L for ``params`` = (p, q, γ), customers with x ≥ 1 and m > 0."""
    p, q, v = params
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + m * x)
    )


def _gradient(
    params: NDArray[np.float64], x: NDArray[np.float64], m: NDArray[np.float64]
) -> NDArray[np.float64]:
    """∂/∂p = Σ x [ψ(px+q) − ψ(px) + ln m + ln x − ln(γ+mx)];
    ∂/∂q = Σ [ψ(px+q) − ψ(q) + ln γ − ln(γ+mx)];  ∂/∂γ = Σ [q/γ − (px+q)/(γ+mx)]."""
    p, q, v = params
    px = p * x
    psi = digamma(px + q)
    log_vmx = np.log(v + m * x)
    return np.array(
        [
            np.sum(x * (psi - digamma(px) + np.log(m) + np.log(x) - log_vmx)),
            np.sum(psi - log_vmx) + len(x) * (np.log(v) - digamma(q)),
            len(x) * q / v - np.sum((px + q) / (v + m * x)),
        ]
    )


def check_inputs(x: NDArray[np.float64], m: NDArray[np.float64]) -> None:
    if len(x) != len(m):
        raise PredictionError(
            f"x and m must have one value per customer; got {len(x)} and {len(m)}"
        )
    checks = (
        (~(np.isfinite(x) & np.isfinite(m)), "a missing or infinite value"),
        (x < 0, "x < 0 (x counts repeat purchases)"),
        (m < 0, "a negative mean spend m"),
    )
    for bad, what in checks:
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise PredictionError(
                f"{what}: {int(bad.sum())} customers, the first at position {first}"
            )


def fit(x: NDArray[np.float64], m: NDArray[np.float64]) -> GammaGamma:
    """Maximum-likelihood estimates of (p, q, γ) on the customers with x ≥ 1 and m > 0.

    Raises :class:`PredictionError` on bad input, too few repeat customers, or when the
    optimizer does not converge (with its message).
    """
    x, m = np.atleast_1d(np.asarray(x, dtype=float)), np.atleast_1d(np.asarray(m, dtype=float))
    check_inputs(x, m)
    keep = (x > 0) & (m > 0)
    left_out = int(((x > 0) & (m == 0)).sum())
    n = int(keep.sum())
    if n < MIN_REPEAT_CUSTOMERS:
        raise PredictionError(
            f"only {n} customers have a repeat purchase with a positive value; "
            f"Gamma-Gamma needs at least {MIN_REPEAT_CUSTOMERS}"
        )
    x, m = x[keep], m[keep]
    scale = float(np.mean(m))  # money unit in which γ starts near 1
    ms = m / scale

    def objective(log_params: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        params = np.exp(log_params)
        value = -float(log_likelihood(params, x, ms).sum())
        if not np.isfinite(value):
            return 1e300, np.zeros(3)
        return value / n, -_gradient(params, x, ms) * params / n

    result, converged = minimize_log_params(objective, STARTS)
    p, q, v = np.exp(result.x)
    v *= scale  # γ carries the money unit
    loglik = float(log_likelihood(np.array([p, q, v]), x, m).sum())
    if not converged or not np.isfinite(loglik):
        raise PredictionError(
            f"Gamma-Gamma fit did not converge on {n} repeat customers: {result.message}"
        )
    correlation = float(np.corrcoef(x, m)[0, 1]) if np.ptp(x) > 0 and np.ptp(m) > 0 else 0.0
    return GammaGamma(
        float(p),
        float(q),
        float(v),
        loglik,
        converged,
        str(result.message),
        n,
        left_out,
        correlation,
    )
