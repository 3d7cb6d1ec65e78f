"""Campaigns: definitions, cadences, audience planning, the message ledger and channels.

Plain functions only; ``flows/campaigns.py`` wraps them for Prefect. The entry points are
``campaigns.definitions.load_all``, ``campaigns.planning.plan``,
``campaigns.run.run_period`` and ``campaigns.send.send_due``.
"""
