"""The uplift interval covers a known effect at its nominal 95 % rate."""

from __future__ import annotations

import numpy as np

from analytics.stats import compare


def test_interval_coverage_in_simulation() -> None:
    rng = np.random.default_rng(2026)
    p_c, p_t, n_t, n_c = 0.10, 0.13, 1500, 400
    trials = 1000
    covered = 0
    for _ in range(trials):
        c = compare(int(rng.binomial(n_t, p_t)), n_t, int(rng.binomial(n_c, p_c)), n_c)
        covered += c.ci_low <= p_t - p_c <= c.ci_high
    assert 0.93 <= covered / trials <= 0.97


def test_clear_effect_is_significant_and_none_is_not() -> None:
    strong = compare(300, 1000, 100, 1000)
    assert strong.p_value < 1e-6 and strong.ci_low > 0 and strong.warning is None
    assert abs(strong.relative - 2.0) < 1e-9 and strong.rel_low < 2.0 < strong.rel_high
    null = compare(100, 1000, 100, 1000)
    assert null.p_value > 0.9 and null.ci_low < 0 < null.ci_high


def test_small_groups_warn_and_use_an_exact_test() -> None:
    small = compare(3, 20, 0, 8)
    assert small.warning and "too small" in small.warning
    assert 0 < small.p_value <= 1
