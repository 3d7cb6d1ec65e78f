"""The minimiser the model fits share: L-BFGS-B on log-parameters from several starts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult, minimize

LOG_BOUND = 25.0  # parameters stay within e^±25: beyond, the likelihood is flat


def minimize_log_params(
    objective: Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]],
    starts: Sequence[Sequence[float]],
) -> tuple[OptimizeResult, bool]:
    """(the best result, whether it converged) of L-BFGS-B with analytic gradients.

    Tries the starts in order and stops at the first when it converges; otherwise keeps the
    converged result with the lowest objective. L-BFGS-B sometimes ends with a line-search
    warning right at the optimum, so a gradient below 1e-5 also counts as converged.
    """
    best: tuple[OptimizeResult, bool] | None = None
    for start in starts:
        result = minimize(
            objective,
            np.array(start),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-LOG_BOUND, LOG_BOUND)] * len(start),
            options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-7},
        )
        converged = bool(result.success) or float(np.max(np.abs(result.jac))) < 1e-5
        if best is None or (converged, -result.fun) > (best[1], -best[0].fun):
            best = (result, converged)
        if converged and start is starts[0]:
            break
    if best is None:
        raise ValueError("no starting point given")
    return best
