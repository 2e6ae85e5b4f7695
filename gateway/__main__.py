"""`python -m gateway`: serve the client API on STUDIO_GATEWAY_HOST:STUDIO_GATEWAY_PORT."""

from __future__ import annotations

from servicekit.runner import serve

from .app import create_app
from .settings import Settings

if __name__ == "__main__":
    serve("gateway", Settings.from_env, create_app)
