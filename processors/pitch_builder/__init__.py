"""Pitch builder: pitch notes into a structured pitch, in its own PostgreSQL."""
