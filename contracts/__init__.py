"""The shared language of the federation: wire models, JSON Schemas, subject names, validation.

Nothing in this package performs network I/O; it is imported by every service.
"""
