"""BG/NBD reproduces Fader, Hardie & Lee (2005) on CDNOW, recovers simulated parameters,
and refuses data it cannot describe with a clear error."""

from __future__ import annotations

import mpmath
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import OptimizeResult, approx_fprime

from segments import bgnbd
from segments.errors import PredictionError
from tests.conftest import DATA


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """x (``frequency``), t_x (``recency``) and T in weeks, calibration to 1997-09-30."""
    return pd.read_csv(DATA / "cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> bgnbd.BGNBD:
    return bgnbd.fit(cdnow.frequency, cdnow.recency, cdnow["T"])


def simulate(
    n: int, r: float, alpha: float, a: float, b: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The BG/NBD story told forwards: Poisson purchases, a coin after each repeat purchase."""
    T = rng.uniform(20, 60, n)
    rate = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    x, t_x, now = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        now = np.where(active, now + rng.exponential(1 / rate), now)
        bought = active & (now <= T)
        x[bought] += 1
        t_x[bought] = now[bought]
        active = bought & (rng.random(n) >= drop)
    return x, t_x, T


def test_reproduces_the_published_estimates(fitted: bgnbd.BGNBD) -> None:
    # Fader, Hardie & Lee (2005), table 1: r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL −9582.4
    assert fitted.converged
    assert [sig3(v) for v in (fitted.r, fitted.alpha, fitted.a, fitted.b)] == [
        0.243,
        4.41,
        0.793,
        2.43,
    ]
    assert round(fitted.loglik, 1) == -9582.4
    assert fitted.customers == 2357


def test_expectations_match_hardies_spreadsheet(fitted: bgnbd.BGNBD) -> None:
    # The worked example of the paper's spreadsheet: x = 2, t_x = 30.43, T = 38.86 → 1.226
    # purchases expected in the next 39 weeks.
    assert fitted.expected_purchases(39, 2, 30.43, 38.86)[0] == pytest.approx(1.226, abs=1e-3)
    # E[X(t)] for a new customer (eq. 9), as tabulated in the same spreadsheet.
    times = np.array([0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0])
    published = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    np.testing.assert_allclose(fitted.expected_purchases_new(times), published, atol=5e-4)


def test_p_alive_follows_eq_11(fitted: bgnbd.BGNBD, cdnow: pd.DataFrame) -> None:
    x, t_x, T = cdnow.frequency.to_numpy(), cdnow.recency.to_numpy(), cdnow["T"].to_numpy()
    r, alpha, a, b = fitted.r, fitted.alpha, fitted.a, fitted.b
    expected = [
        1.0 if xi == 0 else 1 / (1 + a / (b + xi - 1) * ((alpha + Ti) / (alpha + ti)) ** (r + xi))
        for xi, ti, Ti in zip(x, t_x, T, strict=True)
    ]
    np.testing.assert_allclose(fitted.p_alive(x, t_x, T), expected, rtol=1e-12)
    # A long silence after frequent buying: probably gone; the same buying lately: alive.
    gone, recent = fitted.p_alive([10, 10], [5.0, 37.0], [38.0, 38.0])
    assert gone < 0.05 < 0.9 < recent


@pytest.mark.parametrize(
    ("x", "t_x", "T", "t"),
    [(2, 30.43, 38.86, 39), (50, 55, 60, 3650), (300, 390, 400, 3650), (1000, 1090, 1100, 36500)],
)
def test_conditional_expectation_is_exact_for_heavy_buyers(
    fitted: bgnbd.BGNBD, x: int, t_x: float, T: float, t: float
) -> None:
    """Eq. 10 evaluated with 50-digit arithmetic agrees, also where the textbook form fails."""
    mpmath.mp.dps = 50
    r, alpha, a, b = (mpmath.mpf(v) for v in (fitted.r, fitted.alpha, fitted.a, fitted.b))
    z = t / (alpha + T + t)
    bracket = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * mpmath.hyp2f1(
        r + x, b + x, a + b + x - 1, z, maxterms=10**6
    )
    alive = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    exact = float((a + b + x - 1) / (a - 1) * bracket * alive)
    assert fitted.expected_purchases(t, x, t_x, T)[0] == pytest.approx(exact, rel=1e-9)


def test_gradient_is_the_derivative_of_the_likelihood(cdnow: pd.DataFrame) -> None:
    x, t_x, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    params = np.array([0.4, 3.0, 0.6, 2.0])
    _, analytic = bgnbd._loglik_and_gradient(params, x, t_x, T)
    numeric = approx_fprime(params, lambda p: bgnbd.log_likelihood(p, x, t_x, T).sum(), 1e-7)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4)


def test_recovers_the_parameters_it_simulated() -> None:
    true = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    x, t_x, T = simulate(30_000, **true, rng=np.random.default_rng(7))
    model = bgnbd.fit(x, t_x, T)
    assert model.r == pytest.approx(true["r"], rel=0.05)
    assert model.alpha == pytest.approx(true["alpha"], rel=0.05)
    assert model.a == pytest.approx(true["a"], rel=0.1)
    assert model.b == pytest.approx(true["b"], rel=0.1)


def test_units_only_rescale_alpha(cdnow: pd.DataFrame, fitted: bgnbd.BGNBD) -> None:
    in_days = bgnbd.fit(cdnow.frequency, cdnow.recency * 7, cdnow["T"] * 7)
    assert in_days.alpha == pytest.approx(fitted.alpha * 7, rel=1e-4)
    assert (in_days.r, in_days.a, in_days.b) == pytest.approx(
        (fitted.r, fitted.a, fitted.b), rel=1e-4
    )


@pytest.mark.parametrize(
    ("x", "t_x", "T", "message"),
    [
        ([1, 2], [1.0, 2.0], [5.0], "one value per customer; got 2, 2 and 1"),
        (
            [1, -1],
            [1.0, 0.0],
            [5.0, 5.0],
            r"x < 0 \(x counts repeat purchases\): 1 customers, the first at position 1",
        ),
        (
            [1.5, 1],
            [1.0, 1.0],
            [5.0, 5.0],
            r"a fractional x .*: 1 customers, the first at position 0",
        ),
        ([1, 1], [1.0, 6.0], [5.0, 5.0], r"t_x > T .*: 1 customers, the first at position 1"),
        ([0, 1], [2.0, 1.0], [5.0, 5.0], r"x = 0 but t_x > 0 .*position 0"),
        ([1, 1], [1.0, float("nan")], [5.0, 5.0], "missing or infinite value"),
        (
            [1, 0, 2],
            [1.0, 0.0, 3.0],
            [5.0, 5.0, 5.0],
            r"only 3 customers with orders; .* at least 50",
        ),
    ],
)
def test_inconsistent_input_is_refused(
    x: list[float], t_x: list[float], T: list[float], message: str
) -> None:
    with pytest.raises(PredictionError, match=message):
        bgnbd.fit(x, t_x, T)


def test_too_few_repeat_customers_says_how_many() -> None:
    x = np.zeros(100)
    x[:4] = 1
    t_x = np.where(x > 0, 3.0, 0.0)
    with pytest.raises(
        PredictionError, match=r"only 4 customers bought more than once.*at least 10"
    ):
        bgnbd.fit(x, t_x, np.full(100, 10.0))


def test_a_fit_that_does_not_converge_says_so(
    cdnow: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stuck(fun, x0, **kwargs):  # type: ignore[no-untyped-def]
        return OptimizeResult(
            x=x0, fun=fun(x0)[0], jac=np.ones(4), success=False, message="ABNORMAL: stuck"
        )

    monkeypatch.setattr("segments.optimize.minimize", stuck)
    with pytest.raises(PredictionError, match="did not converge on 2357 customers: ABNORMAL"):
        bgnbd.fit(cdnow.frequency, cdnow.recency, cdnow["T"])
