"""The uplift statistics: published values, coverage in simulation, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, false_discovery_control, fisher_exact, ttest_ind

from analytics.stats import benjamini_hochberg, compare, log_ratio, newcombe, welch

# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score).
NEWCOMBE = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE)
def test_newcombe_reproduces_the_published_intervals(counts: tuple, published: tuple) -> None:
    low, high = newcombe(*counts)
    assert (round(low, 4), round(high, 4)) == published


def test_difference_interval_covers_a_known_effect_at_95_percent() -> None:
    rng = np.random.default_rng(20261123)
    p_t, p_c, n_t, n_c = 0.13, 0.10, 1500, 400
    trials = 400
    covered = 0
    for _ in range(trials):
        c = compare(int(rng.binomial(n_t, p_t)), n_t, int(rng.binomial(n_c, p_c)), n_c)
        covered += c.ci_low <= p_t - p_c <= c.ci_high
    assert 0.93 <= covered / trials <= 0.97


def test_relative_interval_covers_a_known_effect_at_95_percent() -> None:
    rng = np.random.default_rng(7)
    p_t, p_c, n_t, n_c = 0.06, 0.05, 4000, 1000
    trials = 400
    covered = 0
    for _ in range(trials):
        r = log_ratio(int(rng.binomial(n_t, p_t)), n_t, int(rng.binomial(n_c, p_c)), n_c)
        assert r is not None
        covered += r[1] <= p_t / p_c - 1 <= r[2]
    assert 0.93 <= covered / trials <= 0.97


def test_null_effect_is_rejected_at_about_5_percent() -> None:
    rng = np.random.default_rng(11)
    rejected = sum(
        compare(int(rng.binomial(900, 0.2)), 900, int(rng.binomial(300, 0.2)), 300).p_value < 0.05
        for _ in range(400)
    )
    assert 0.02 <= rejected / 400 <= 0.08


def test_z_test_and_fisher_agree_with_scipy() -> None:
    c = compare(130, 1000, 100, 1000)
    table = [[130, 870], [100, 900]]
    assert c.test == "z"
    assert c.p_value == pytest.approx(chi2_contingency(table, correction=False).pvalue)
    small = compare(3, 20, 0, 8)
    assert small.test == "fisher"
    assert small.p_value == pytest.approx(fisher_exact([[3, 17], [0, 8]])[1])
    assert small.warning and "too few conversions" in small.warning


def test_warnings() -> None:
    assert compare(10, 100, 0, 0).warning.startswith("no hold-out group")
    tiny = compare(30, 300, 6, 60)  # 10 % against 10 %, far too few to see a small effect
    assert tiny.warning and "groups too small to tell" in tiny.warning
    big = compare(3000, 20000, 2000, 20000)
    assert big.warning is None and big.p_value < 1e-6


def test_welch_agrees_with_scipy() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.exponential(30, 400), rng.exponential(25, 150)
    got = welch(len(a), a.sum(), (a * a).sum(), len(b), b.sum(), (b * b).sum())
    ci = ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert got.difference == pytest.approx(a.mean() - b.mean())
    assert (got.low, got.high) == pytest.approx((ci.low, ci.high))


counts = st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@given(t=counts, c=counts)
def test_interval_properties(t: tuple[int, int], c: tuple[int, int]) -> None:
    (x_t, n_t), (x_c, n_c) = t, c
    got = compare(x_t, n_t, x_c, n_c)
    assert -1 <= got.ci_low <= got.uplift <= got.ci_high <= 1
    assert 0 <= got.p_value <= 1
    mirrored = compare(x_c, n_c, x_t, n_t)  # swapping the groups mirrors the interval
    assert mirrored.ci_low == pytest.approx(-got.ci_high)
    assert mirrored.ci_high == pytest.approx(-got.ci_low)
    assert mirrored.p_value == pytest.approx(got.p_value)
    if got.relative is not None:
        assert got.rel_low <= got.relative <= got.rel_high
        assert math.isclose(got.relative, (x_t / n_t) / (x_c / n_c) - 1)


def test_benjamini_hochberg_matches_scipy_and_skips_missing_tests() -> None:
    rng = np.random.default_rng(5)
    p = [float(v) for v in rng.uniform(0, 0.2, 12)] + [0.001, 0.9]
    with_gaps: list[float | None] = [None, *p[:5], None, *p[5:]]
    got = benjamini_hochberg(with_gaps)
    assert got[0] is None and got[6] is None
    assert [q for q in got if q is not None] == pytest.approx(
        list(false_discovery_control(p, method="bh"))
    )
    assert benjamini_hochberg([]) == []
