"""The web console at `/console`, served from the installed package like GraphiQL.

Plain ES modules from `app/static/console/` (no build step), under a Content-Security-Policy
that allows no inline script and nothing from another host: the console talks to
`/graphql` on the same origin and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

PATH = "/console"
_FILES = Path(__file__).resolve().parents[1] / "static" / "console"
_PAGE = (_FILES / "index.html").read_text(encoding="utf-8")

PAGE_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


async def console_page(request: Request) -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"content-security-policy": PAGE_CSP})


def console_routes() -> list[BaseRoute]:
    """The page (its routes live after `#`, so one URL serves them all) and its files."""
    return [
        Route(PATH, console_page, methods=["GET"]),
        Mount(f"{PATH}/static", StaticFiles(directory=_FILES)),
    ]
