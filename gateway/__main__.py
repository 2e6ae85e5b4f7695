"""`python -m gateway`: serve the client API on STUDIO_GATEWAY_HOST:STUDIO_GATEWAY_PORT."""

from __future__ import annotations

from gateway.app import create_app
from gateway.settings import Settings
from servicekit.runner import serve

if __name__ == "__main__":
    serve("gateway", Settings.from_env, create_app)
