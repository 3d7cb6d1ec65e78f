"""What the ``homecoming`` command imports before it does anything.

``homecoming --help`` lists the commands and needs none of the heavy packages; a group's
help and ``homecoming db current`` need the models (the callback reads the settings), but
not scikit-learn, Prefect or pandas. Each command is run in a fresh interpreter, the way
the ``homecoming`` script runs it, and the modules it imported are read afterwards. No
timing here: `python -m bench.startup` measures how long these take.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The ``homecoming`` script's own lines, then the modules the command imported.
PROBE = """
import json, sys
out = sys.argv[1]
sys.argv = ["homecoming", *sys.argv[2:]]
from cli.main import app
code = None
try:
    app()
except SystemExit as exc:
    code = exc.code
with open(out, "w", encoding="utf-8") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""
HEAVY = {
    "alembic",
    "boto3",
    "botocore",
    "fastapi",
    "jinja2",
    "mjml",
    "numpy",
    "pandas",
    "prefect",
    "psycopg",
    "pydantic",
    "scipy",
    "sklearn",
    "sqlalchemy",
    "sqlmodel",
    "uvicorn",
}
OURS = {
    "analytics",
    "campaigns",
    "flows",
    "ingest",
    "models",
    "segments",
    "synthetic",
    "templates",
    "web",
}
NEVER_FOR_HELP = {"sklearn", "prefect", "pandas"}


def _run(tmp_path: Path, *args: str) -> tuple[set[str], str]:
    """The top-level packages ``homecoming ARGS`` imported, and what it printed."""
    out = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOMECOMING_", "PREFECT_"))}
    env |= {
        "HOMECOMING_HOME": str(tmp_path),
        "HOMECOMING_DATABASE_URL": f"sqlite:///{tmp_path / 'startup.db'}",
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.exists(), done.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["code"] in (0, None), done.stdout + done.stderr
    return {name.split(".")[0] for name in result["modules"]}, done.stdout


def test_help_imports_none_of_the_heavy_packages_nor_ours(tmp_path: Path) -> None:
    imported, printed = _run(tmp_path, "--help")
    assert "campaigns" in printed and "report" in printed
    assert imported & HEAVY == set()
    assert imported & OURS == set()


@pytest.mark.parametrize("group", ["campaigns", "segments", "surveys", "templates", "db"])
def test_group_help_leaves_out_scikit_learn_prefect_pandas_and_scipy(
    tmp_path: Path, group: str
) -> None:
    imported, printed = _run(tmp_path, group, "--help")
    assert "Commands" in printed
    assert imported & (NEVER_FOR_HELP | {"scipy", "numpy", "jinja2", "mjml", "fastapi"}) == set()


def test_report_help_names_what_analytics_defines(tmp_path: Path) -> None:
    from analytics.build import BY, KINDS

    imported, printed = _run(tmp_path, "report", "--help")
    assert imported & NEVER_FOR_HELP == set()
    for kind in KINDS:
        assert kind in printed
    for kind, values in BY.items():
        assert f"{kind}: {'|'.join(values)}" in printed
    assert "df = pd.read_csv(path)" in printed  # the CSV layout, in the help of --format


def test_db_current_needs_only_the_models(tmp_path: Path) -> None:
    imported, printed = _run(tmp_path, "db", "current")
    assert "revision" in printed
    assert {"sqlalchemy", "alembic", "models"} <= imported
    unneeded = NEVER_FOR_HELP | {"scipy", "numpy", "jinja2", "mjml", "fastapi", "uvicorn"}
    assert imported & (unneeded | {"boto3", "segments", "analytics", "campaigns"}) == set()
