"""Errors of segment definitions and models, each saying what is wrong and what would be valid."""


class PredictionError(ValueError):
    """The data cannot support a model fit (too few customers, bad input, no convergence)."""
