"""The BG/NBD model: how many purchases a customer will make, and whether they are still "alive".

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy
Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.

While alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
purchase they drop out with probability p ~ Beta(a, b). With ``x`` repeat purchases, the
last at ``t_x``, observed until ``T`` (eq. 6 of the paper):

    L(r, α, a, b | x, t_x, T) = A1 · A2 · (A3 + δ(x>0) · A4)
    ln A1 = ln Γ(r + x) − ln Γ(r) + r ln α
    ln A2 = ln B(a, b + x) − ln B(a, b)
    ln A3 = −(r + x) ln(α + T)
    ln A4 = ln a − ln(b + x − 1) − (r + x) ln(α + t_x)

Parameters are fitted by maximum likelihood on their logarithms (so they stay positive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, gammaln, hyp2f1

from segments.errors import PredictionError
from segments.optimize import polish

MIN_CUSTOMERS = 50
MIN_REPEAT = 10


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float
    loglik: float
    converged: bool = True

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(alive | x, t_x, T) = 1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))  (eq. 11)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        ratio = np.where(
            x > 0,
            np.exp(
                np.log(self.a)
                - np.log(np.maximum(self.b + x - 1, 1e-12))
                + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x))
            ),
            0.0,
        )
        return 1.0 / (1.0 + ratio)

    def expected_purchases(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` periods (eq. 10)."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if abs(a - 1) < 1e-9:
            raise PredictionError("expected purchases are undefined at a = 1 exactly")
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        numer = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
        return numer * self.p_alive(x, t_x, T)


def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood for ``params`` = (r, α, a, b)."""
    r, alpha, a, b = params
    ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    ln_a2 = betaln(a, b + x) - betaln(a, b)
    ln_a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4)


def check_inputs(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if not (len(x) == len(t_x) == len(T)):
        raise PredictionError("x, t_x and T must have the same length")
    if len(x) < MIN_CUSTOMERS:
        raise PredictionError(
            f"only {len(x)} customers with orders; the model needs at least {MIN_CUSTOMERS}"
        )
    if (x < 0).any() or (t_x < 0).any():
        raise PredictionError("x and t_x must not be negative")
    if (t_x > T + 1e-9).any():
        raise PredictionError(
            f"{int((t_x > T + 1e-9).sum())} customers have t_x > T: the last purchase is after the end"
        )
    if (x > 0).sum() < MIN_REPEAT:
        raise PredictionError(
            f"only {int((x > 0).sum())} customers bought more than once; BG/NBD needs at least {MIN_REPEAT}"
        )


def fit(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> BGNBD:
    """Maximum-likelihood fit; raises :class:`PredictionError` on bad input or no convergence."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    check_inputs(x, t_x, T)
    scale = float(T.max()) or 1.0  # fit on times scaled to ~1 for a well-conditioned problem

    def objective(log_params: np.ndarray) -> float:
        value = -log_likelihood(np.exp(log_params), x, t_x / scale, T / scale).sum()
        return float(value) if np.isfinite(value) else 1e300

    best = None
    # One start usually suffices; the others are tried only when it fails to converge.
    for start in ([0.0, 0.0, 0.0, 0.0], [-1.0, -2.0, 0.0, 1.0], [0.5, -1.0, -0.5, 0.5]):
        result = polish(objective, np.array(start))
        if best is None or result.fun < best.fun:
            best = result
        if best.success:
            break
    assert best is not None
    r, alpha, a, b = np.exp(best.x)
    alpha *= scale  # α is a time scale: undo the scaling
    loglik = float(log_likelihood(np.array([r, alpha, a, b]), x, t_x, T).sum())
    if not np.isfinite(loglik) or not best.success:
        raise PredictionError(f"BG/NBD fit did not converge: {best.message}")
    return BGNBD(float(r), float(alpha), float(a), float(b), loglik, bool(best.success))
