"""Ingestion: store exports (generic CSV, UCI Online Retail, CDNOW) into the tables.

Rows are validated one by one; a bad row goes to quarantine with its file, line, field
and reason while good rows load. A file-level problem (unreadable, empty, truncated,
wrong encoding, missing column) loads nothing.
"""
