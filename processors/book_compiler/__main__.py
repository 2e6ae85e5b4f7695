"""`python -m processors.book_compiler`: serve the book compiler on STUDIO_BOOK_COMPILER_PORT."""

from __future__ import annotations

from servicekit.runner import serve

from .app import create_app
from .settings import Settings

if __name__ == "__main__":
    serve("book-compiler", Settings.from_env, create_app)
