"""Tests of the synthetic store generator (``synthetic/``)."""
