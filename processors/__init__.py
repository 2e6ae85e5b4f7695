"""Processors of the federation; the shared runtime arrives with the first processor."""
