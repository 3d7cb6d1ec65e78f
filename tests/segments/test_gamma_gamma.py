"""Gamma-Gamma reproduces Fader & Hardie's CDNOW estimates and spend predictions, recovers
simulated parameters, and refuses data it cannot fit with a clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import OptimizeResult, approx_fprime

from segments import gamma_gamma
from segments.errors import PredictionError
from tests.conftest import DATA


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """x repeat purchases and zbar, their mean value, for the 39-week calibration period."""
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def fitted(cdnow: pd.DataFrame) -> gamma_gamma.GammaGamma:
    return gamma_gamma.fit(cdnow.x, cdnow.zbar)


def test_reproduces_the_published_estimates(
    fitted: gamma_gamma.GammaGamma, cdnow: pd.DataFrame
) -> None:
    # Fader & Hardie (2013), on the 946 repeat customers: p = 6.25, q = 3.74, γ = 15.44
    assert fitted.converged
    assert fitted.customers == int((cdnow.x > 0).sum()) == 946
    assert [sig3(v) for v in (fitted.p, fitted.q, fitted.v)] == [6.25, 3.74, 15.4]
    assert fitted.v == pytest.approx(15.44, abs=0.01)
    # The note checks the model's assumption: x and the mean spend barely correlate (0.11).
    assert round(fitted.correlation, 2) == 0.11


def test_expected_spend_matches_the_note(
    fitted: gamma_gamma.GammaGamma, cdnow: pd.DataFrame
) -> None:
    # E[M | x, m] for the first ten customers, as tabulated in Fader & Hardie's spreadsheet;
    # those without repeat purchases get the population mean p γ / (q − 1) = 35.17.
    published = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    head = cdnow.head(10)
    np.testing.assert_allclose(fitted.expected_value(head.x, head.zbar), published, atol=0.015)
    assert fitted.population_mean == pytest.approx(35.17, abs=0.005)


def test_expected_spend_shrinks_towards_the_mean(fitted: gamma_gamma.GammaGamma) -> None:
    """The more purchases, the more a customer's own mean counts."""
    few, many = fitted.expected_value(np.array([1, 50]), np.array([100.0, 100.0]))
    assert fitted.population_mean < few < many < 100


def test_gradient_is_the_derivative_of_the_likelihood(cdnow: pd.DataFrame) -> None:
    repeat = cdnow[cdnow.x > 0]
    x, m = repeat.x.to_numpy(float), repeat.zbar.to_numpy(float)
    params = np.array([4.0, 3.0, 10.0])
    numeric = approx_fprime(params, lambda p: gamma_gamma.log_likelihood(p, x, m).sum(), 1e-7)
    np.testing.assert_allclose(gamma_gamma._gradient(params, x, m), numeric, rtol=1e-4)


def test_recovers_the_parameters_it_simulated() -> None:
    rng = np.random.default_rng(3)
    p, q, v = 4.0, 5.0, 40.0
    n = 20_000
    x = 1 + rng.poisson(3, n)
    nu = rng.gamma(q, 1 / v, n)
    m = rng.gamma(p * x, 1 / nu) / x  # the mean of x Gamma(p, ν) transaction values
    model = gamma_gamma.fit(x, m)
    assert (model.p, model.q, model.v) == pytest.approx((p, q, v), rel=0.1)


def test_zero_value_repeats_are_left_out_and_counted(cdnow: pd.DataFrame) -> None:
    m = cdnow.zbar.to_numpy(copy=True)
    m[np.flatnonzero(cdnow.x > 0)[:5]] = 0.0
    model = gamma_gamma.fit(cdnow.x, m)
    assert (model.customers, model.left_out) == (941, 5)


def test_too_few_repeat_customers_says_how_many() -> None:
    with pytest.raises(PredictionError, match=r"only 2 customers .* at least 20"):
        gamma_gamma.fit([1, 2, 0, 0], [5.0, 6.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("x", "m", "message"),
    [
        ([1, 2], [5.0], "one value per customer; got 2 and 1"),
        ([1, 2], [5.0, -6.0], r"a negative mean spend m: 1 customers, the first at position 1"),
        ([-1, 2], [5.0, 6.0], r"x < 0 .*position 0"),
        ([1, 2], [float("inf"), 6.0], "missing or infinite"),
    ],
)
def test_bad_input_is_refused(x: list[float], m: list[float], message: str) -> None:
    with pytest.raises(PredictionError, match=message):
        gamma_gamma.fit(x, m)


def test_a_fit_that_does_not_converge_says_so(
    cdnow: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stuck(fun, x0, **kwargs):  # type: ignore[no-untyped-def]
        return OptimizeResult(
            x=x0, fun=fun(x0)[0], jac=np.ones(3), success=False, message="ABNORMAL: stuck"
        )

    monkeypatch.setattr("segments.optimize.minimize", stuck)
    with pytest.raises(PredictionError, match="did not converge on 946 repeat customers"):
        gamma_gamma.fit(cdnow.x, cdnow.zbar)
