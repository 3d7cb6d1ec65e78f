"""Recipients against hold-out: intervals and tests that keep their stated error rates.

- Difference of conversion rates p_t − p_c: Newcombe's hybrid score interval (Newcombe
  1998, Statistics in Medicine 17, method 10), built from each group's Wilson interval; it
  keeps close to 95 % coverage with small groups and rates near 0, where Wald does not.
- Relative uplift p_t / p_c − 1: the log risk-ratio interval (delta method),
  se = √(1/x_t − 1/n_t + 1/x_c − 1/n_c); undefined when a group has no conversions.
- p-value: the pooled two-proportion z-test, or Fisher's exact test when an expected
  cell count is below 5.
- Minimum detectable effect: the difference a two-sided 5 % test would find 80 % of the
  time with these group sizes and the hold-out's rate.
- Revenue per customer: Welch's interval for the difference of means, from sums and sums
  of squares the database returns.
- Many comparisons at once: Benjamini-Hochberg adjusted p-values (q-values; Benjamini &
  Hochberg 1995, JRSS B 57), so that among the comparisons called significant at q < 5 %
  at most 5 % are expected to be noise, however many a report shows. Nine comparisons
  at 95 % each would otherwise flag a campaign with no effect one time in three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import fisher_exact, norm
from scipy.stats import t as student_t

CONFIDENCE = 0.95
Z = float(norm.ppf(1 - (1 - CONFIDENCE) / 2))
Z_POWER = float(norm.ppf(0.80))
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
    p_value: float | None
    test: str
    mde: float | None
    warning: str | None


def wilson(x: int, n: int, z: float = Z) -> tuple[float, float]:
    """Wilson score interval of a proportion x / n."""
    if n == 0:
        return 0.0, 1.0
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x_t: int, n_t: int, x_c: int, n_c: int) -> tuple[float, float]:
    """95 % interval of p_t − p_c (hybrid score)."""
    p_t, p_c = x_t / n_t, x_c / n_c
    l_t, u_t = wilson(x_t, n_t)
    l_c, u_c = wilson(x_c, n_c)
    d = p_t - p_c
    return (  # clamped: rounding can take an extreme case a hair past ±1
        max(-1.0, d - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2)),
        min(1.0, d + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2)),
    )


def log_ratio(x_t: int, n_t: int, x_c: int, n_c: int) -> tuple[float, float, float] | None:
    """(p_t / p_c − 1, low, high), or None when either group has no conversions."""
    if x_t == 0 or x_c == 0:
        return None
    rr = (x_t / n_t) / (x_c / n_c)
    se = math.sqrt(1 / x_t - 1 / n_t + 1 / x_c - 1 / n_c)
    return rr - 1, rr * math.exp(-Z * se) - 1, rr * math.exp(Z * se) - 1


def p_value(x_t: int, n_t: int, x_c: int, n_c: int) -> tuple[float, str]:
    """Two-sided p-value of p_t = p_c, and the test used."""
    total, converted = n_t + n_c, x_t + x_c
    expected = [n * k / total for n in (n_t, n_c) for k in (converted, total - converted)]
    if min(expected) < MIN_EXPECTED:
        return float(fisher_exact([[x_t, n_t - x_t], [x_c, n_c - x_c]])[1]), "fisher"
    pooled = converted / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    return float(2 * norm.sf(abs(x_t / n_t - x_c / n_c) / se)), "z"


def mde(p_c: float, n_t: int, n_c: int) -> float:
    """Smallest absolute uplift found 80 % of the time by a two-sided test at 5 %."""
    base = min(max(p_c, 1 / (2 * n_c)), 1 - 1 / (2 * n_c))  # a 0 % hold-out still has variance
    return (Z + Z_POWER) * math.sqrt(base * (1 - base) * (1 / n_t + 1 / n_c))


def compare(x_t: int, n_t: int, x_c: int, n_c: int) -> Comparison:
    """Treatment (recipients, x_t of n_t converted) against control (hold-out)."""
    p_t = x_t / n_t if n_t else 0.0
    p_c = x_c / n_c if n_c else 0.0
    if n_t == 0 or n_c == 0:
        which = "hold-out" if n_c == 0 else "recipient"
        return Comparison(
            n_t, x_t, n_c, x_c, p_t, p_c, p_t - p_c, math.nan, math.nan, None, None, None,
            None, "", None, f"no {which} group: the effect cannot be measured",
        )  # fmt: skip
    low, high = newcombe(x_t, n_t, x_c, n_c)
    relative, rel_low, rel_high = log_ratio(x_t, n_t, x_c, n_c) or (None, None, None)
    p, test = p_value(x_t, n_t, x_c, n_c)
    smallest = mde(p_c, n_t, n_c)
    warning = None
    if test == "fisher":
        warning = "too few conversions to tell: an expected count is below 5 (Fisher's exact test)"
    elif p >= 1 - CONFIDENCE and smallest > max(p_c, 0.01) / 2:
        warning = (
            f"groups too small to tell: only an uplift of {100 * smallest:.1f} percentage "
            "points or more would be found 80 % of the time"
        )
    return Comparison(
        n_t, x_t, n_c, x_c, p_t, p_c, p_t - p_c, low, high,
        relative, rel_low, rel_high, p, test, smallest, warning,
    )  # fmt: skip


def benjamini_hochberg(p_values: list[float | None]) -> list[float | None]:
    """Adjusted p-values in the given order (None where there is no test).

    q_(i) = min over j >= i of p_(j) · m / j, p sorted ascending, capped at 1.
    """
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(tested)
    out: list[float | None] = [None] * len(p_values)
    running = 1.0
    for rank in range(m, 0, -1):
        p, i = tested[rank - 1]
        running = min(running, p * m / rank)
        out[i] = running
    return out


@dataclass(frozen=True)
class MeanDifference:
    mean_t: float
    mean_c: float
    difference: float
    low: float
    high: float


def welch(
    n_t: int, sum_t: float, sq_t: float, n_c: int, sum_c: float, sq_c: float
) -> MeanDifference | None:
    """Difference of means with Welch's 95 % interval, from counts, sums and sums of squares."""
    if n_t < 2 or n_c < 2:
        return None
    m_t, m_c = sum_t / n_t, sum_c / n_c
    v_t = max(0.0, (sq_t - n_t * m_t * m_t) / (n_t - 1)) / n_t
    v_c = max(0.0, (sq_c - n_c * m_c * m_c) / (n_c - 1)) / n_c
    se = math.sqrt(v_t + v_c)
    if se == 0:
        return MeanDifference(m_t, m_c, m_t - m_c, m_t - m_c, m_t - m_c)
    df = (v_t + v_c) ** 2 / (v_t**2 / (n_t - 1) + v_c**2 / (n_c - 1))
    half = float(student_t.ppf(1 - (1 - CONFIDENCE) / 2, df)) * se
    return MeanDifference(m_t, m_c, m_t - m_c, m_t - m_c - half, m_t - m_c + half)
