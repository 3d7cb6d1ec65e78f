"""The BG/NBD model: how many purchases a customer will make, and whether they are still "alive".

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy
Way: An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.

While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
purchase they drop out for good with probability p ~ Beta(a, b). A customer is summarised
by ``x`` repeat purchases (distinct purchase days after the first), the time ``t_x`` of
the last one and the length ``T`` of the observation, both measured from the first
purchase. The likelihood of one customer (eq. 6 of the paper) is

    L(r, α, a, b | x, t_x, T) = A1 · A2 · (A3 + δ(x > 0) · A4)
    ln A1 = ln Γ(r + x) − ln Γ(r) + r ln α
    ln A2 = ln B(a, b + x) − ln B(a, b)
    ln A3 = −(r + x) ln(α + T)
    ln A4 = ln a − ln(b + x − 1) − (r + x) ln(α + t_x)

and the sum of ln L is maximised over the logarithms of the parameters (so they stay
positive), with the analytic gradient, after rescaling time so that α starts near 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaln, digamma, gammaln, hyp2f1

from segments.errors import PredictionError
from segments.optimize import minimize_log_params

MIN_CUSTOMERS = 50
MIN_REPEAT_CUSTOMERS = 10
# Starting points on the log scale (r, α in rescaled time, a, b); the first usually wins,
# the others guard against a poor basin.
STARTS = ((0.0, 0.0, 0.0, 0.0), (-1.0, -1.0, -0.5, 1.0), (1.0, 1.0, 1.0, 2.0))


@dataclass(frozen=True)
class BGNBD:
    """Fitted BG/NBD parameters; times are in the unit of the data they were fitted on."""

    r: float
    alpha: float
    a: float
    b: float
    loglik: float
    converged: bool
    message: str = ""
    customers: int = 0

    def p_alive(
        self, x: NDArray[np.float64], t_x: NDArray[np.float64], T: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """P(alive | x, t_x, T) (eq. 11); a customer without repeat purchases is alive for sure.

        1 / (1 + δ(x > 0) · a / (b + x − 1) · ((α + T) / (α + t_x))^(r + x))
        """
        x, t_x, T = _arrays(x, t_x, T)
        repeat = x > 0
        log_odds = np.full(x.shape, -np.inf)
        xr = x[repeat]
        log_odds[repeat] = (
            np.log(self.a)
            - np.log(self.b + xr - 1)
            + (self.r + xr) * (np.log(self.alpha + T[repeat]) - np.log(self.alpha + t_x[repeat]))
        )
        return 1.0 / (1.0 + np.exp(log_odds))

    def expected_purchases(
        self, t: float, x: NDArray[np.float64], t_x: NDArray[np.float64], T: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` periods (eq. 10).

        (a + b + x − 1)/(a − 1) · [1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z)]
        · P(alive), with z = t / (α + T + t). Euler's transformation turns the bracket into
        1 − (1 − z)^(a−1) · 2F1(a+b−1−r, a−1; a+b+x−1; z), the same value, whose parameters
        no longer grow with x: the first form overflows to nan for a customer with 1,000
        purchase days over a long horizon, this one stays accurate.
        """
        x, t_x, T = _arrays(x, t_x, T)
        r, alpha, a, b = self.r, self.alpha, self._a_off_one(), self.b
        z = t / (alpha + T + t)
        bracket = 1.0 - (1.0 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        return (a + b + x - 1) / (a - 1) * bracket * self.p_alive(x, t_x, T)

    def expected_purchases_new(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """E[X(t)]: expected purchases of a new customer in their first ``t`` periods (eq. 9).

        (a + b − 1)/(a − 1) · [1 − (α/(α+t))^r · 2F1(r, b; a+b−1; t/(α+t))]
        """
        t = np.asarray(t, dtype=float)
        r, alpha, a, b = self.r, self.alpha, self._a_off_one(), self.b
        hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1.0 - (alpha / (alpha + t)) ** r * hyp)

    def _a_off_one(self) -> float:
        """The expectations divide by a − 1; at a = 1 exactly they are the limit a → 1."""
        return self.a if abs(self.a - 1.0) > 1e-7 else 1.0 + 1e-7


def _arrays(*values: object) -> tuple[NDArray[np.float64], ...]:
    return tuple(np.atleast_1d(np.asarray(v, dtype=float)) for v in values)


def log_likelihood(
    params: NDArray[np.float64],
    x: NDArray[np.float64],
    t_x: NDArray[np.float64],
    T: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Per-customer ln L for ``params`` = (r, α, a, b)."""
    return _loglik_and_gradient(np.asarray(params, dtype=float), x, t_x, T, gradient=False)[0]


def _loglik_and_gradient(
    params: NDArray[np.float64],
    x: NDArray[np.float64],
    t_x: NDArray[np.float64],
    T: NDArray[np.float64],
    *,
    gradient: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """ln L per customer and, if asked, the gradient of Σ ln L with respect to the parameters.

    With w = A4 / (A3 + A4) the share of the "dropped out at t_x" term:
    ∂/∂r = ψ(r+x) − ψ(r) + ln α − (1−w) ln(α+T) − w ln(α+t_x)
    ∂/∂α = r/α − (r+x) · [(1−w)/(α+T) + w/(α+t_x)]
    ∂/∂a = ψ(a+b) − ψ(a+b+x) + w/a
    ∂/∂b = ψ(b+x) − ψ(b) + ψ(a+b) − ψ(a+b+x) − w/(b+x−1)
    """
    r, alpha, a, b = params
    repeat = x > 0
    log_t = np.log(alpha + T)
    log_tx = np.log(alpha + t_x)
    ln_a3 = -(r + x) * log_t
    ln_a4 = np.full(x.shape, -np.inf)
    ln_a4[repeat] = np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * log_tx[repeat]
    ln_mix = np.logaddexp(ln_a3, ln_a4)
    ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b) + ln_mix
    if not gradient:
        return ll, None
    w = np.exp(ln_a4 - ln_mix)
    psi_abx = digamma(a + b + x)
    psi_ab = digamma(a + b)
    inv_bx = np.zeros(x.shape)
    inv_bx[repeat] = 1.0 / (b + x[repeat] - 1)
    grad = np.array(
        [
            np.sum(digamma(r + x) - (1 - w) * log_t - w * log_tx)
            + len(x) * (np.log(alpha) - digamma(r)),
            np.sum(-(r + x) * ((1 - w) / (alpha + T) + w / (alpha + t_x))) + len(x) * r / alpha,
            np.sum(w) / a + np.sum(psi_ab - psi_abx),
            np.sum(digamma(b + x) - psi_abx - w * inv_bx) + len(x) * (psi_ab - digamma(b)),
        ]
    )
    return ll, grad


def check_inputs(x: NDArray[np.float64], t_x: NDArray[np.float64], T: NDArray[np.float64]) -> None:
    """Refuse data the model cannot describe, saying which customers and why."""
    if not (len(x) == len(t_x) == len(T)):
        raise PredictionError(
            f"x, t_x and T must have one value per customer; got {len(x)}, {len(t_x)} and {len(T)}"
        )
    checks = (
        (~(np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T)), "a missing or infinite value"),
        (x < 0, "x < 0 (x counts repeat purchases)"),
        (x != np.round(x), "a fractional x (x counts repeat purchase days)"),
        (t_x < 0, "t_x < 0 (t_x is the time from the first to the last purchase)"),
        (t_x > T, "t_x > T (the last purchase is after the end of the observation)"),
        (
            (x == 0) & (t_x > 0),
            "x = 0 but t_x > 0 (without repeats the last purchase is the first)",
        ),
    )
    for bad, what in checks:
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise PredictionError(
                f"{what}: {int(bad.sum())} customers, the first at position {first}"
            )
    if len(x) < MIN_CUSTOMERS:
        raise PredictionError(
            f"only {len(x)} customers with orders; BG/NBD needs at least {MIN_CUSTOMERS}"
        )
    repeat = int((x > 0).sum())
    if repeat < MIN_REPEAT_CUSTOMERS:
        raise PredictionError(
            f"only {repeat} customers bought more than once (on another day); "
            f"BG/NBD needs at least {MIN_REPEAT_CUSTOMERS}"
        )


def fit(x: NDArray[np.float64], t_x: NDArray[np.float64], T: NDArray[np.float64]) -> BGNBD:
    """Maximum-likelihood estimates of (r, α, a, b).

    Raises :class:`PredictionError` on inconsistent input, too few customers or repeat
    customers, or when no start converges (with the optimizer's message).
    """
    x, t_x, T = _arrays(x, t_x, T)
    check_inputs(x, t_x, T)
    scale = float(np.mean(T)) or 1.0  # time unit in which α starts near 1
    xs, txs, Ts = x, t_x / scale, T / scale
    n = len(x)

    def objective(log_params: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        params = np.exp(log_params)
        ll, grad = _loglik_and_gradient(params, xs, txs, Ts)
        assert grad is not None  # asked for (gradient=True)
        value = -float(ll.sum())
        if not np.isfinite(value):
            return 1e300, np.zeros(4)
        return value / n, -grad * params / n  # mean, so tolerances do not depend on n

    result, converged = minimize_log_params(objective, STARTS)
    r, alpha, a, b = np.exp(result.x)
    alpha *= scale  # α is a time scale: back to the data's unit
    loglik = float(log_likelihood(np.array([r, alpha, a, b]), x, t_x, T).sum())
    if not converged or not np.isfinite(loglik):
        raise PredictionError(f"BG/NBD fit did not converge on {n} customers: {result.message}")
    return BGNBD(
        float(r), float(alpha), float(a), float(b), loglik, converged, str(result.message), n
    )
