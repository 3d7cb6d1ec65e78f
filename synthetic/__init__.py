"""The synthetic store: realistic store exports drawn from a seed (``homecoming generate``).

Not ingestion: this package writes the CSV files that ``ingest/`` reads, in the generic
layout of docs/formats.md, for the demo, the tests and the benchmarks. It owns the
markets and catalogue (:mod:`synthetic.markets`), local time (:mod:`synthetic.localtime`),
the population-wide tables (:mod:`synthetic.world`), the CSV files
(:mod:`synthetic.output`), customers and devices (:mod:`synthetic.people`), purchases,
returns and cancellations (:mod:`synthetic.purchases`), shipments and support tickets
(:mod:`synthetic.aftersales`), and the chunk-by-chunk driver (:mod:`synthetic.store`).
"""

from __future__ import annotations

from synthetic.store import write_store

__all__ = ["write_store"]
