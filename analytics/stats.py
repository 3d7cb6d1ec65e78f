"""Two-group comparison of conversion rates with intervals that hold their coverage.

- Difference p_t − p_c: Newcombe's hybrid score interval (Newcombe 1998, "Interval
  estimation for the difference between independent proportions", Statistics in
  Medicine 17, method 10), built from Wilson intervals of each group.
- Relative uplift p_t / p_c − 1: the log risk-ratio interval, se = √(1/x_t − 1/n_t + 1/x_c − 1/n_c).
- p-value: the pooled two-proportion z-test, or Fisher's exact test when an expected
  cell count is below 5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import fisher_exact, norm

Z95 = float(norm.ppf(0.975))
MIN_EXPECTED = 5


@dataclass(frozen=True)
class Comparison:
    n_t: int
    x_t: int
    n_c: int
    x_c: int
    p_t: float
    p_c: float
    uplift: float
    ci_low: float
    ci_high: float
    relative: float | None
    rel_low: float | None
    rel_high: float | None
    p_value: float
    warning: str | None


def wilson(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def compare(x_t: int, n_t: int, x_c: int, n_c: int) -> Comparison:
    """Treatment (recipients) against control (hold-out)."""
    p_t = x_t / n_t if n_t else 0.0
    p_c = x_c / n_c if n_c else 0.0
    l_t, u_t = wilson(x_t, n_t)
    l_c, u_c = wilson(x_c, n_c)
    d = p_t - p_c
    low = d - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2)
    high = d + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2)
    relative = rel_low = rel_high = None
    if x_t > 0 and x_c > 0:
        rr = p_t / p_c
        se = math.sqrt(1 / x_t - 1 / n_t + 1 / x_c - 1 / n_c)
        relative, rel_low, rel_high = (
            rr - 1,
            rr * math.exp(-Z95 * se) - 1,
            rr * math.exp(Z95 * se) - 1,
        )
    total, converted = n_t + n_c, x_t + x_c
    expected = (
        [n * converted / total for n in (n_t, n_c)]
        + [n * (total - converted) / total for n in (n_t, n_c)]
        if total
        else [0]
    )
    if n_t == 0 or n_c == 0:
        p_value = 1.0
    elif min(expected) < MIN_EXPECTED:
        p_value = float(fisher_exact([[x_t, n_t - x_t], [x_c, n_c - x_c]])[1])
    else:
        pooled = converted / total
        se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        p_value = float(2 * norm.sf(abs(d) / se0)) if se0 > 0 else 1.0
    warning = None
    if n_c == 0:
        warning = "no hold-out group: the effect cannot be measured"
    elif min(expected) < MIN_EXPECTED or min(n_t, n_c) < 100:
        warning = "groups too small to tell: fewer than 100 customers or 5 expected conversions in a group"
    return Comparison(
        n_t, x_t, n_c, x_c, p_t, p_c, d, low, high, relative, rel_low, rel_high, p_value, warning
    )
