"""`python -m processors.summary`: serve the chapter summary processor on STUDIO_SUMMARY_PORT."""

from __future__ import annotations

from servicekit.runner import serve

from .app import create_app
from .settings import Settings

if __name__ == "__main__":
    serve("summary", Settings.from_env, create_app)
