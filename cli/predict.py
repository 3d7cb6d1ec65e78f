"""``homecoming segments predict``: the fitted BG/NBD and Gamma-Gamma parameters."""

from __future__ import annotations

from datetime import date

import typer

from cli.output import console, fail, key_values, print_json


def _date(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r} is not a date; expected YYYY-MM-DD") from None


def predict(
    as_of: str | None = typer.Option(
        None, "--as-of", metavar="YYYY-MM-DD", help="Date of the data (default today)"
    ),
    calibration_end: str | None = typer.Option(
        None,
        "--calibration-end",
        metavar="YYYY-MM-DD",
        help="Fit on purchases up to this day (default --as-of)",
    ),
    time_unit: str = typer.Option(
        "weeks", "--time-unit", metavar="days|weeks", help="Unit of t_x, T and alpha"
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
) -> None:
    """Fit BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma to the orders; print the parameters."""
    # imported on use: keeps `homecoming --help` fast (SciPy, NumPy)
    from sqlalchemy.exc import SQLAlchemyError

    from models.db import get_engine
    from segments.errors import PredictionError
    from segments.predictions import fit_parameters
    from segments.summary import TIME_UNITS

    if time_unit not in TIME_UNITS:
        raise fail(f"--time-unit {time_unit!r} is not valid; expected days or weeks")
    try:
        params = fit_parameters(
            get_engine(),
            as_of=_date("--as-of", as_of),
            calibration_end=_date("--calibration-end", calibration_end),
            time_unit=time_unit,
        )
    except PredictionError as exc:
        raise fail(str(exc)) from None
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise fail(f"database error: {detail} (is it migrated? `homecoming db upgrade`)") from None
    if json_out:
        print_json(params)
        return
    about = {k: v for k, v in params.items() if k not in ("bgnbd", "gamma_gamma")}
    console.print(key_values("data", about))
    console.print(key_values("BG/NBD", {k: f"{v:.4g}" for k, v in params["bgnbd"].items()}))
    gg = {"p": params["gamma_gamma"]["p"], "q": params["gamma_gamma"]["q"]}
    gg["gamma (v)"] = params["gamma_gamma"]["v"]
    console.print(key_values("Gamma-Gamma", {k: f"{v:.4g}" for k, v in gg.items()}))
