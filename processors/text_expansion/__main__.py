"""`python -m processors.text_expansion`: serve text expansion on STUDIO_TEXT_EXPANSION_PORT."""

from __future__ import annotations

from servicekit.runner import serve

from .app import create_app
from .settings import Settings

if __name__ == "__main__":
    serve("text-expansion", Settings.from_env, create_app)
