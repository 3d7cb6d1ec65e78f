"""One robust minimiser for the model fits."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import OptimizeResult, minimize


def polish(objective: Callable[[np.ndarray], float], start: np.ndarray) -> OptimizeResult:
    """Nelder-Mead to find the basin, then L-BFGS-B to polish; the better result wins.

    L-BFGS-B sometimes stops with a line-search warning right at the optimum; the fit has
    converged when either method reports success.
    """
    simplex = minimize(
        objective,
        start,
        method="Nelder-Mead",
        options={"maxiter": 20_000, "xatol": 1e-9, "fatol": 1e-9},
    )
    gradient = minimize(objective, simplex.x, method="L-BFGS-B")
    best = gradient if gradient.fun <= simplex.fun else simplex
    best.success = bool(simplex.success or gradient.success)
    if not best.success:
        best.message = f"{simplex.message}; {gradient.message}"
    return best
