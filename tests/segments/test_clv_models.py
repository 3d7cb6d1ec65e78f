"""BG/NBD and Gamma-Gamma reproduce the published CDNOW estimates; the SQL summary matches the papers'."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from ingest.run import ingest_file
from models import Customer
from segments import bgnbd, gamma_gamma
from segments.errors import PredictionError
from segments.summary import customer_summary
from tests.conftest import DATA, SHARED_DATA

CDNOW = SHARED_DATA / "cdnow"
CALIBRATION_END = date(1997, 9, 30)


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")


def test_bgnbd_reproduces_fader_hardie_lee_2005(published: pd.DataFrame) -> None:
    model = bgnbd.fit(published.x.to_numpy(), published.t_x.to_numpy(), published["T"].to_numpy())
    assert [sig3(v) for v in (model.r, model.alpha, model.a, model.b)] == [0.243, 4.41, 0.793, 2.43]
    assert round(model.loglik, 1) == -9582.4


def test_gamma_gamma_reproduces_fader_hardie(published: pd.DataFrame) -> None:
    model = gamma_gamma.fit(published.x.to_numpy(), published.zbar.to_numpy())
    assert [sig3(v) for v in (model.p, model.q, model.v)] == [6.25, 3.74, 15.4]
    assert round(model.v, 2) == pytest.approx(15.44, abs=0.01)


def test_p_alive_and_expectations_behave(published: pd.DataFrame) -> None:
    model = bgnbd.fit(published.x.to_numpy(), published.t_x.to_numpy(), published["T"].to_numpy())
    # No repeat purchase: alive for sure in this model; a long silence after many purchases: likely gone.
    assert model.p_alive(np.array([0]), np.array([0.0]), np.array([38.0]))[0] == 1.0
    assert model.p_alive(np.array([10]), np.array([5.0]), np.array([38.0]))[0] < 0.05
    # Paper, section 5: a customer with x=2, t_x=30.43, T=38.86 expects 1.23 purchases in 39 weeks... roughly.
    recent = model.expected_purchases(39, np.array([2]), np.array([30.43]), np.array([38.86]))[0]
    stale = model.expected_purchases(39, np.array([2]), np.array([5.0]), np.array([38.86]))[0]
    assert recent > stale > 0
    # Aggregate check: predicted repeat purchases in weeks 40-78 close to the observed 1,788 of the sample.
    total = model.expected_purchases(39, published.x, published.t_x, published["T"]).sum()
    assert 1500 < total < 2100


def test_summary_from_transactions_matches_the_published_one(engine: Engine) -> None:
    ingest_file(kind="orders", path=DATA / "CDNOW_sample.txt", fmt="cdnow", engine=engine)
    got = customer_summary(engine, calibration_end=CALIBRATION_END, time_unit="weeks")
    want = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").set_index("ID")
    # The published ID is the sample id; the file maps master ids (our external ids) to it.
    sample_id = {}
    for line in (DATA / "CDNOW_sample.txt").read_text().splitlines():
        master, sample = line.split()[:2]
        sample_id[str(int(master))] = int(sample)
    with engine.connect() as conn:
        external = dict(conn.execute(select(Customer.id, Customer.external_id)).all())
    order = [sample_id[external[int(c)]] for c in got.customer_id]
    want = want.loc[order]
    assert len(got) == len(want) == 2357
    np.testing.assert_array_equal(got.x, want.x)
    np.testing.assert_allclose(got.t_x, want.t_x, atol=0.006)
    np.testing.assert_allclose(got.T, want["T"], atol=0.006)
    np.testing.assert_allclose(got.monetary, want.zbar, atol=0.006)


def test_clear_errors_instead_of_silent_nonsense() -> None:
    with pytest.raises(PredictionError, match="only 3 customers with orders"):
        bgnbd.fit(np.array([1, 0, 2]), np.array([1.0, 0, 3]), np.array([5.0, 5, 5]))
    x = np.zeros(100)
    with pytest.raises(PredictionError, match="only 0 customers bought more than once"):
        bgnbd.fit(x, x, np.full(100, 10.0))
    x = np.ones(100)
    with pytest.raises(PredictionError, match="t_x > T"):
        bgnbd.fit(x, np.full(100, 11.0), np.full(100, 10.0))
    with pytest.raises(PredictionError, match="Gamma-Gamma needs at least"):
        gamma_gamma.fit(np.array([1, 2]), np.array([5.0, 6.0]))
