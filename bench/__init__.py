"""Benchmarks that print figures and ratios measured side by side; run each as `python -m bench.<name>`."""
