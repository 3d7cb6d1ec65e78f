"""The purchase summary computed in SQL, the predictive segments and ``segments predict``.

The summary is checked against plain pandas and against the published CDNOW summary; the
command reproduces Fader, Hardie & Lee (2005) from the raw CDNOW transactions.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import typer
from sqlalchemy import Engine, func, insert, select
from typer.testing import CliRunner

from cli.predict import predict
from ingest.run import ingest_file
from models import ClvFit, Customer, Order
from segments import bgnbd, gamma_gamma
from segments.errors import PredictionError
from segments.predictions import (
    CHURN_MIN_REPEAT,
    CHURN_P_ALIVE,
    Fitted,
    customer_value,
    fit_parameters,
    predicted_segments,
)
from segments.summary import Summary, customer_summary
from tests.conftest import DATA

CALIBRATION_END = date(1997, 9, 30)
runner = CliRunner()


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


def ingest_cdnow(engine: Engine) -> None:
    ingest_file(kind="orders", path=DATA / "CDNOW_sample.txt", fmt="cdnow", engine=engine)


def cli() -> typer.Typer:
    """The command as the ``segments`` group will carry it."""
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("predict")(predict)
    return app


# --- the summary ------------------------------------------------------------------------


def random_orders(rng: np.random.Generator, end: date) -> pd.DataFrame:
    """Orders of 60 customers, with what must not count: guests, empty orders, later orders."""
    n = 900
    start = datetime(2025, 1, 1, tzinfo=UTC)
    # Several orders a day for some customers, and times on both sides of midnight UTC.
    day = rng.integers(0, 400, n)
    seconds = rng.choice([0, 1, 43_200, 86_399], n) + rng.integers(0, 2, n)
    customer = rng.integers(1, 61, n).astype(object)
    customer[rng.random(n) < 0.05] = None  # guest orders
    items = np.where(rng.random(n) < 0.05, 0, rng.integers(1, 4, n))
    total = np.where(rng.random(n) < 0.05, 0.0, np.round(rng.gamma(2.0, 20.0, n), 2))
    at = [start + timedelta(days=int(d), seconds=int(s)) for d, s in zip(day, seconds, strict=True)]
    frame = pd.DataFrame(
        {"customer_id": customer, "ordered_at": at, "total": total, "items": items}
    )
    assert (frame.ordered_at.dt.date > end).any()  # some orders fall after the end
    return frame


def load_orders(engine: Engine, orders: pd.DataFrame) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Customer),
            [
                {
                    "id": i,
                    "external_id": f"c{i}",
                    "locale": "en",
                    "time_zone": "UTC",
                    "created_at": now,
                }
                for i in range(1, 61)
            ],
        )
        conn.execute(
            insert(Order),
            [
                {
                    "external_id": f"o{i}",
                    "customer_id": row.customer_id,
                    "ordered_at": row.ordered_at,
                    "currency": "EUR",
                    "total": float(row.total),
                    "items": int(row["items"]),
                }
                for i, row in orders.iterrows()
            ],
        )


def pandas_summary(orders: pd.DataFrame, end: date) -> pd.DataFrame:
    """The FHL summary the plain way: per customer, per UTC day, then per customer."""
    bought = orders[
        orders.customer_id.notna() & (orders["items"] > 0) & (orders.ordered_at.dt.date <= end)
    ].copy()
    bought["day"] = pd.to_datetime(bought.ordered_at.dt.date)
    days = bought.groupby(["customer_id", "day"], as_index=False).total.sum()
    rows = []
    for customer, group in days.groupby("customer_id"):
        group = group.sort_values("day")
        first, last = group.day.iloc[0], group.day.iloc[-1]
        repeat = group.total.iloc[1:]
        rows.append(
            {
                "customer_id": int(customer),
                "x": len(group) - 1,
                "t_x": (last - first).days,
                "T": (pd.Timestamp(end) - first).days,
                "monetary": repeat.mean() if len(repeat) else 0.0,
            }
        )
    return pd.DataFrame(rows).sort_values("customer_id").reset_index(drop=True)


@pytest.mark.parametrize("unit", ["days", "weeks"])
def test_summary_matches_pandas(engine: Engine, unit: str) -> None:
    end = date(2025, 11, 30)
    orders = random_orders(np.random.default_rng(11), end)
    load_orders(engine, orders)
    got = customer_summary(engine, calibration_end=end, time_unit=unit)
    want = pandas_summary(orders, end)
    scale = 7 if unit == "weeks" else 1
    np.testing.assert_array_equal(got.customer_id, want.customer_id)
    np.testing.assert_array_equal(got.x, want.x)
    np.testing.assert_allclose(got.t_x, want.t_x / scale, rtol=1e-12)
    np.testing.assert_allclose(got.T, want["T"] / scale, rtol=1e-12)
    np.testing.assert_allclose(got.monetary, want.monetary, rtol=1e-9)
    assert got.time_unit == unit


def test_summary_of_the_cdnow_transactions_is_the_published_one(engine: Engine) -> None:
    ingest_cdnow(engine)
    got = customer_summary(engine, calibration_end=CALIBRATION_END, time_unit="weeks")
    published = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    # The published ID is the sample id; the transaction file maps master ids (ours) to it.
    sample_id = {}
    for line in (DATA / "CDNOW_sample.txt").read_text().splitlines():
        master, sample = line.split()[:2]
        sample_id[str(int(master))] = int(sample)
    with engine.connect() as conn:
        external = dict(conn.execute(select(Customer.id, Customer.external_id)).all())
    want = published.set_index("ID").loc[[sample_id[external[int(c)]] for c in got.customer_id]]
    assert len(got) == len(want) == 2357
    np.testing.assert_array_equal(got.x, want.x)
    # Published to two decimals.
    np.testing.assert_allclose(got.t_x, want.t_x, atol=0.005 + 1e-9)
    np.testing.assert_allclose(got.T, want["T"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(got.monetary, want.zbar, atol=0.005 + 1e-9)


def test_unknown_time_unit_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="'months' is not valid; expected days or weeks"):
        customer_summary(engine, calibration_end=CALIBRATION_END, time_unit="months")


# --- segments predict -------------------------------------------------------------------


def test_predict_reproduces_the_paper_from_the_transactions(engine: Engine) -> None:
    ingest_cdnow(engine)
    args = ["predict", "--calibration-end", "1997-09-30", "--time-unit", "weeks", "--json"]
    result = runner.invoke(cli(), args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    bg, gg = out["bgnbd"], out["gamma_gamma"]
    assert [sig3(bg[k]) for k in ("r", "alpha", "a", "b")] == [0.243, 4.41, 0.793, 2.43]
    assert sig3(bg["loglik"]) == -9580.0 and bg["loglik"] == pytest.approx(-9582.4, abs=0.5)
    assert [sig3(gg[k]) for k in ("p", "q", "v")] == [6.25, 3.74, 15.4]
    assert (out["customers"], out["repeat_customers"], out["gamma_gamma_customers"]) == (
        2357,
        946,
        946,
    )
    with engine.connect() as conn:  # printing parameters stores nothing
        assert conn.scalar(select(func.count()).select_from(ClvFit)) == 0


def test_predict_prints_a_table_for_people(engine: Engine) -> None:
    ingest_cdnow(engine)
    result = runner.invoke(cli(), ["predict", "--as-of", "1997-09-30"])
    assert result.exit_code == 0, result.output
    params = fit_parameters(engine, calibration_end=CALIBRATION_END)
    assert "BG/NBD" in result.stdout and "Gamma-Gamma" in result.stdout
    for value in [*params["bgnbd"].values(), *params["gamma_gamma"].values()]:
        assert f"{value:.4g}" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "1997-13-01"], "--as-of '1997-13-01' is not a date; expected YYYY-MM-DD"),
        (["--time-unit", "months"], "--time-unit 'months' is not valid; expected days or weeks"),
        (
            ["--as-of", "1997-09-30", "--calibration-end", "1997-10-30"],
            "the calibration end 1997-10-30 is after the as-of date 1997-09-30",
        ),
        ([], "only 0 customers with orders; BG/NBD needs at least 50"),
    ],
)
def test_predict_errors_are_one_clear_line(engine: Engine, args: list[str], message: str) -> None:
    result = runner.invoke(cli(), ["predict", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


# --- predictive segments ----------------------------------------------------------------


def test_predicted_segments_and_their_stored_fit(engine: Engine) -> None:
    ingest_cdnow(engine)
    found = predicted_segments(engine, as_of=CALIBRATION_END)
    with engine.connect() as conn:
        fit = conn.execute(select(ClvFit)).one()
    # Fitted in days on the same data: the same r, a, b as in weeks, α seven times larger.
    assert (fit.as_of, fit.time_unit, fit.customers, fit.fit_customers) == (
        CALIBRATION_END,
        "days",
        2357,
        2357,
    )
    assert [sig3(v) for v in (fit.r, fit.alpha / 7, fit.a, fit.b)] == [0.243, 4.41, 0.793, 2.43]
    assert [sig3(v) for v in (fit.p, fit.q, fit.v)] == [6.25, 3.74, 15.4]

    s = customer_summary(engine, calibration_end=CALIBRATION_END, time_unit="days")
    alive = [
        1.0
        if x == 0
        else 1 / (1 + fit.a / (fit.b + x - 1) * ((fit.alpha + T) / (fit.alpha + t)) ** (fit.r + x))
        for x, t, T in zip(s.x, s.t_x, s.T, strict=True)
    ]
    churn = {
        int(c)
        for c, p, x in zip(s.customer_id, alive, s.x, strict=True)
        if p < CHURN_P_ALIVE and x >= CHURN_MIN_REPEAT
    }
    assert set(found["predicted:churn_risk"]) == churn and churn

    bg = bgnbd.BGNBD(fit.r, fit.alpha, fit.a, fit.b, fit.bgnbd_loglik, True)
    gg = gamma_gamma.GammaGamma(fit.p, fit.q, fit.v, fit.gamma_gamma_loglik, True)
    value = dict(
        zip(s.customer_id.tolist(), customer_value(Fitted(s, bg, gg, 0), horizon=365), strict=False)
    )
    high = set(found["predicted:high_value"])
    assert 0.09 * len(s) <= len(high) <= 0.11 * len(s)
    assert min(value[c] for c in high) >= max(v for c, v in value.items() if c not in high)


def test_too_little_data_is_a_clear_error_and_stores_nothing(engine: Engine) -> None:
    orders = random_orders(np.random.default_rng(2), date(2025, 6, 30))
    load_orders(engine, orders[orders.customer_id.isin(range(1, 21))])
    with pytest.raises(PredictionError, match=r"only 20 customers with orders; .* at least 50"):
        predicted_segments(engine, as_of=date(2025, 6, 30))
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ClvFit)) == 0


def test_customer_value_discounts_future_purchases() -> None:
    published = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    s = Summary(
        published.ID.to_numpy(),
        published.x.to_numpy(float),
        published.t_x.to_numpy(float),
        published["T"].to_numpy(float),
        published.zbar.to_numpy(float),
        "weeks",
    )
    fitted = Fitted(s, bgnbd.fit(s.x, s.t_x, s.T), gamma_gamma.fit(s.x, s.monetary), seconds=0.0)
    plain = customer_value(fitted, horizon=52)
    expected = fitted.bgnbd.expected_purchases(52, s.x, s.t_x, s.T) * (
        fitted.gamma_gamma.expected_value(s.x, s.monetary)
    )
    np.testing.assert_allclose(plain, expected, rtol=1e-12)
    undiscounted = customer_value(fitted, horizon=52, discount_rate=1e-12, steps=5)
    np.testing.assert_allclose(undiscounted, plain, rtol=1e-9)
    discounted = customer_value(fitted, horizon=52, discount_rate=0.01, steps=12)
    assert np.all(discounted < plain) and np.all(discounted > plain / 1.01**12)
