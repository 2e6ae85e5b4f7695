"""`python -m bench.day`: a day of many writers at once (see `__main__`)."""
