"""The Gamma-Gamma model of spend per transaction.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves
for Customer Base Analysis. Journal of Marketing Research 42(4), 415-430; and Fader &
Hardie (2013), "The Gamma-Gamma Model of Monetary Value".

A customer's transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers.
For ``x`` repeat transactions with mean value ``m``:

    ln L = ln Γ(px + q) − ln Γ(px) − ln Γ(q) + q ln γ + (px − 1) ln m + px ln x − (px + q) ln(γ + m x)

and the expected mean value is E[M | x, m] = p (γ + m x) / (p x + q − 1).
Only customers with a repeat transaction (x ≥ 1) and positive spend enter the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from segments.errors import PredictionError
from segments.optimize import polish

MIN_REPEAT_CUSTOMERS = 20


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float  # γ, the scale of the spend distribution
    loglik: float

    def expected_value(
        self, x: np.ndarray, m: np.ndarray, fallback: float | None = None
    ) -> np.ndarray:
        """E[M | x, m]; customers without a repeat purchase get the population mean p·γ/(q−1)."""
        x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
        population = self.p * self.v / (self.q - 1) if self.q > 1 else (fallback or 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            conditional = self.p * (self.v + m * x) / (self.p * x + self.q - 1)
        return np.where(x > 0, conditional, population)


def log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    p, q, v = params
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(v + m * x)
    )


def fit(x: np.ndarray, m: np.ndarray) -> GammaGamma:
    """Maximum-likelihood fit on the customers with x ≥ 1 and m > 0."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    if keep.sum() < MIN_REPEAT_CUSTOMERS:
        raise PredictionError(
            f"only {int(keep.sum())} customers have a repeat purchase with spend; Gamma-Gamma needs at least {MIN_REPEAT_CUSTOMERS}"
        )
    x, m = x[keep], m[keep]
    scale = float(np.median(m))

    def objective(log_params: np.ndarray) -> float:
        value = -log_likelihood(np.exp(log_params), x, m / scale).sum()
        return float(value) if np.isfinite(value) else 1e300

    result = polish(objective, np.zeros(3))
    p, q, v = np.exp(result.x)
    v *= scale  # γ carries the money unit
    loglik = float(log_likelihood(np.array([p, q, v]), x, m).sum())
    if not result.success or not np.isfinite(loglik):
        raise PredictionError(f"Gamma-Gamma fit did not converge: {result.message}")
    return GammaGamma(float(p), float(q), float(v), loglik)
