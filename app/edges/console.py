"""The web console at `/console`, served from the installed package like GraphiQL.

Plain ES modules from `app/static/console/` (no build step), under a Content-Security-Policy
that allows no inline script and nothing from another host: the console talks to
`/graphql` on the same origin and nowhere else.
"""

from __future__ import annotations

import re
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
# A host as the Host header may name one: anything else is left out of the policy.
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def page_policy(request: Request) -> str:
    """The page's policy, whose connect-src names this origin's WebSocket URL as well:
    the bell listens on ws(s)://<host>/graphql, which not every browser counts as 'self'."""
    host = request.url.netloc
    if not _HOST.fullmatch(host):
        return PAGE_CSP
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return PAGE_CSP.replace("connect-src 'self'", f"connect-src 'self' {scheme}://{host}")


async def console_page(request: Request) -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"content-security-policy": page_policy(request)})


def console_routes() -> list[BaseRoute]:
    """The page (its routes live after `#`, so one URL serves them all) and its files."""
    return [
        Route(PATH, console_page, methods=["GET"]),
        Mount(f"{PATH}/static", StaticFiles(directory=_FILES)),
    ]
