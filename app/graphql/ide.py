"""GraphiQL, served from the installed package: no CDN, so it works offline too.

The page is static HTML whose scripts and styles come from `app/static/graphiql/`
(vendored npm builds, see the README there) under a Content-Security-Policy that allows
nothing from elsewhere and no inline script.
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ASSETS_PATH = "/graphiql"
_ASSETS_DIR = Path(__file__).resolve().parent.parent / "static" / "graphiql"
_PAGE = (Path(__file__).resolve().parent / "graphiql.html").read_text(encoding="utf-8")

PAGE_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        # GraphiQL's stylesheet embeds its fonts and icons as data: URLs.
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
# The vendored files change only with a Keyrack release.
_ASSET_CACHE_CONTROL = b"public, max-age=86400"


def graphiql_page() -> HTMLResponse:
    return HTMLResponse(
        _PAGE.replace("{assets}", ASSETS_PATH),
        headers={"content-security-policy": PAGE_CSP},
    )


class _Cacheable:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cacheable(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"cache-control", _ASSET_CACHE_CONTROL),
                ]
            await send(message)

        await self.app(scope, receive, send_cacheable)


def graphiql_assets() -> ASGIApp:
    """The page's scripts and styles, compressed (GraphiQL's bundle is 3.5 MB)."""
    return _Cacheable(GZipMiddleware(StaticFiles(directory=_ASSETS_DIR), minimum_size=1024))
