"""The ``homecoming`` command line: one module per command group."""
