"""Did it work? Repeat purchase, cohort, segment and campaign retention, uplift and CSAT.

Imports only ``models`` (and its SQL date helpers): the database aggregates, Python
only shapes the small result tables into reports.
"""
