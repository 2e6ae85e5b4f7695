"""`python -m processors.pitch_builder`: serve the pitch builder on STUDIO_PITCH_BUILDER_PORT."""

from __future__ import annotations

from servicekit.runner import serve

from .app import create_app
from .settings import Settings

if __name__ == "__main__":
    serve("pitch-builder", Settings.from_env, create_app)
