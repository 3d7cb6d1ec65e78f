"""Start-up: how long a ``homecoming`` command takes as a whole process, next to bare Python.

    .venv/bin/python -m bench.startup [--runs 7] [--json]

Times ``homecoming --help``, ``homecoming campaigns --help`` and ``homecoming db current``
(on a fresh SQLite database, migrated once before the timing) as the user runs them: a new
process each time, from start to exit. The baseline is ``python -c pass`` with the same
interpreter, in the same run. After one warm-up of each, the commands take turns run by
run, so a machine that slows down midway slows all of them alike; the figure is the median
wall time, with the slowest and fastest run, and its ratio to the baseline's median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_S = 0.5  # `homecoming --help`


def homecoming() -> list[str]:
    """The installed ``homecoming`` script next to this interpreter, else its module."""
    script = Path(sys.executable).parent / "homecoming"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


def commands() -> dict[str, list[str]]:
    command = homecoming()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "homecoming --help": [*command, "--help"],
        "homecoming campaigns --help": [*command, "campaigns", "--help"],
        "homecoming db current": [*command, "db", "current"],
    }


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr.decode(errors='replace')}")
    return seconds


def bench(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="homecoming-startup-") as folder:
        home = Path(folder)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOMECOMING_")}
        env |= {
            "HOMECOMING_HOME": str(home),
            "HOMECOMING_DATABASE_URL": f"sqlite:///{home / 'startup.db'}",
        }
        run_once([*homecoming(), "db", "upgrade"], env, home)
        todo = commands()
        times: dict[str, list[float]] = {name: [] for name in todo}
        for argv in todo.values():  # warm-up: file cache, bytecode, Prefect home
            run_once(argv, env, home)
        for _ in range(runs):
            for name, argv in todo.items():
                times[name].append(run_once(argv, env, home))
    base = statistics.median(times["python -c pass"])
    return {
        "runs": runs,
        "python": sys.version.split()[0],
        "commands": {
            name: {
                "median_s": round(statistics.median(values), 3),
                "min_s": round(min(values), 3),
                "max_s": round(max(values), 3),
                "ratio_to_python": round(statistics.median(values) / base, 1),
            }
            for name, values in times.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)

    result = bench(max(1, args.runs))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['runs']} runs each, Python {result['python']}, wall time of the whole process")
    for name, c in result["commands"].items():
        print(
            f"  {name:30} median {c['median_s']:6.3f} s  "
            f"(min {c['min_s']:.3f}, max {c['max_s']:.3f})  "
            f"{c['ratio_to_python']:5.1f} x python -c pass"
        )
    help_s = result["commands"]["homecoming --help"]["median_s"]
    print(f"goal for `homecoming --help`, {GOAL_S} s: {'met' if help_s < GOAL_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
