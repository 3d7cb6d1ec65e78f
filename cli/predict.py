"""``homecoming segments predict``: the fitted BG/NBD and Gamma-Gamma parameters."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import typer

from cli.output import console, fail, key_values, print_json
from models.db import get_engine
from segments.errors import PredictionError
from segments.predictions import fit_parameters


class TimeUnit(StrEnum):
    days = "days"
    weeks = "weeks"


def predict(
    as_of: datetime | None = typer.Option(
        None, "--as-of", formats=["%Y-%m-%d"], help="Date of the data (default today)"
    ),
    calibration_end: datetime | None = typer.Option(
        None,
        "--calibration-end",
        formats=["%Y-%m-%d"],
        help="Fit on purchases up to this day (default --as-of)",
    ),
    time_unit: TimeUnit = typer.Option(
        TimeUnit.weeks, "--time-unit", help="Unit of t_x, T and alpha"
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
) -> None:
    """Fit BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma to the orders and print the parameters."""
    try:
        params = fit_parameters(
            get_engine(),
            as_of=as_of.date() if as_of else None,
            calibration_end=calibration_end.date() if calibration_end else None,
            time_unit=time_unit.value,
        )
    except PredictionError as exc:
        raise fail(str(exc)) from None
    if json_out:
        print_json(params)
        return
    console.print(key_values("BG/NBD", {k: f"{v:.4g}" for k, v in params["bgnbd"].items()}))
    console.print(
        key_values("Gamma-Gamma", {k: f"{v:.4g}" for k, v in params["gamma_gamma"].items()})
    )
