"""Prefect flows and deployments: thin orchestration over the other folders.

Importing this package changes nothing: Prefect's defaults for homecoming's processes are
set by :func:`flows.environment.prefect_defaults`, which the ``homecoming`` command calls
before it runs anything (see ``cli.main``).
"""
