"""`python -m index_service`: serve the index service on STUDIO_INDEX_HOST:STUDIO_INDEX_PORT."""

from __future__ import annotations

from servicekit.runner import serve

from .app import create_app
from .settings import Settings

if __name__ == "__main__":
    serve("index", Settings.from_env, create_app)
