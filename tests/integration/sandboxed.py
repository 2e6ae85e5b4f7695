"""Functions the sandbox tests run in a render's process (as a renderer would be run)."""

from __future__ import annotations

import os


def environment(job: bytes) -> bytes:
    """The render's whole environment, one `NAME=value` a line."""
    return "\n".join(f"{k}={v}" for k, v in sorted(os.environ.items())).encode()
