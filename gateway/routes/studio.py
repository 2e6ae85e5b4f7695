"""The web studio: its pages and its static files, served by the gateway (no Node toolchain at install).

Pages carry no data: they are the same HTML for everyone, and the studio's script calls the API with
the signed-in writer's token. Every addressable page (the dashboard, a book's writer, a pitch)
answers `index.html`, whose script routes itself.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

WEB = Path(__file__).parent.parent / "web"  # gateway/web
PAGES = ("/", "/books/{book_id}", "/pitches/{blob_id}")
HEADERS = {
    # Only the studio's own scripts, styles and socket (CSP3: 'self' covers ws:/wss: of this origin);
    # nothing inline, no framing, no referrer.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def is_studio(path: str) -> bool:
    """Is `path` a page or a file of the studio (served to anyone)?"""
    return path == "/" or path.startswith(("/static/", "/books/", "/pitches/"))


async def page(request: web.Request) -> web.FileResponse:
    """The studio's one HTML page."""
    return web.FileResponse(WEB / "index.html", headers=HEADERS)


CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


def files() -> dict[str, Path]:
    """`/static/<name>` -> the file, for every script and style of the studio (nothing else is served)."""
    return {
        "/static/" + path.relative_to(WEB).as_posix(): path
        for path in sorted(WEB.rglob("*"))
        if path.is_file() and path.suffix in CONTENT_TYPES
    }


def install(app: web.Application) -> None:
    """Serve the studio from `app`: its pages, and its files under `/static/`."""
    known = files()

    async def static(request: web.Request) -> web.FileResponse:
        found = known.get(request.path)
        if found is None:
            raise web.HTTPNotFound()
        return web.FileResponse(found, headers={**HEADERS, "Content-Type": CONTENT_TYPES[found.suffix]})

    for path in PAGES:
        app.router.add_get(path, page)
    app.router.add_get("/static/{name:.+}", static)
