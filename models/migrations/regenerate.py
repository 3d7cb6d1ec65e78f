"""Regenerate the initial migration from the tables (``make migration``).

Until the first release the schema lives in one migration, ``0001``; later changes
get migrations of their own that revise it (hand-written ones such as views too).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from models.db import alembic_config

VERSIONS = Path(__file__).parent / "versions"


def main() -> None:
    for old in VERSIONS.glob("0001_*.py"):
        old.unlink()
    later = sorted(VERSIONS.glob("0*.py"))
    parked = [p.rename(p.with_suffix(".parked")) for p in later]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = alembic_config(f"sqlite:///{tmp}/empty.db")
            command.revision(cfg, message="initial", autogenerate=True, rev_id="0001")
    finally:
        for p in parked:
            p.rename(p.with_suffix(".py"))
    for new in VERSIONS.glob("0001_*.py"):
        new.rename(VERSIONS / "0001_initial.py")


if __name__ == "__main__":
    main()
