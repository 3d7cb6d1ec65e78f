"""The generated store's customers respond to campaigns, and the report recovers the effect.

Each seed is a whole new store (its customers, their natural orders, who falls in each
hold-out), campaigns sent through the real send path, then the generator's response
orders; the campaign report is computed from the database as an analyst would see it.
Over the seeds, the 95 % intervals must cover the generator's true effects at about
their nominal rate, and campaigns with no effect must almost never be flagged once the
report corrects for the number of comparisons.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from analytics.campaigns import campaign_effects
from analytics.orders import Window
from flows.demo import (
    KINDS,
    DemoContext,
    fresh_database,
    generate_store,
    refresh_segments,
    respond_to_campaigns,
    send_campaigns,
)
from ingest.run import ingest_file

SEEDS = range(1, 7)
CUSTOMERS = 1500
# The demo's end: its two campaign weeks are 9 and 16 November, both with a promotion.
END = date(2026, 12, 1)


def _store(folder: Path, seed: int) -> tuple[list[dict], dict[tuple, float]]:
    ctx = DemoContext(folder, CUSTOMERS, seed, END)
    fresh_database(ctx)
    generate_store(ctx)
    for kind in KINDS:
        ingest_file(kind=kind, path=ctx.store / f"{kind}.csv", engine=ctx.engine)
    refresh_segments(ctx)
    send_campaigns(ctx)
    respond_to_campaigns(ctx)
    rows, _ = campaign_effects(ctx.engine, window=Window())
    truth = json.loads((ctx.store / "truth.json").read_text())["comparisons"]
    return rows, {(t["campaign"], t["period"], t["variant"]): t["true_uplift"] for t in truth}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[list[dict], dict]]:
    folder = tmp_path_factory.mktemp("responding")
    return [_store(folder / f"seed-{seed}", seed) for seed in SEEDS]


def test_intervals_cover_the_true_effects_at_their_nominal_rate(seeds: list) -> None:
    covered, errors = [], []
    for rows, truth in seeds:
        assert rows and all(r["uplift"] is not None for r in rows)  # every window observed
        for r in rows:
            true = truth[(r["campaign"], r["period"], r["variant"])]
            covered.append(r["ci_low"] <= true <= r["ci_high"])
            errors.append(r["uplift"] - true)
    n = len(covered)
    assert n >= 60
    # Fewer covered than a 95 % interval would give with probability 1 in 1000 fails.
    assert sum(covered) >= binom.ppf(0.001, n, 0.95), f"{sum(covered)} of {n} covered"
    # And no bias: the mean error is within 3 standard errors of 0.
    assert abs(np.mean(errors)) < 3 * np.std(errors, ddof=1) / np.sqrt(n)


def test_effects_are_found_and_null_campaigns_are_not_flagged(seeds: list) -> None:
    flagged_null = flagged_real = real = 0
    for rows, truth in seeds:
        for r in rows:
            true = truth[(r["campaign"], r["period"], r["variant"])]
            if true == 0:
                assert r["campaign"] == "weekly_newsletter"
                flagged_null += r["significant"]
            else:
                real += 1
                flagged_real += r["significant"]
    assert flagged_real >= real / 5  # effects large enough to be found, so the check below bites
    # Benjamini-Hochberg keeps the share of noise among what is flagged near 5 %.
    assert flagged_null <= 0.1 * (flagged_null + flagged_real)
