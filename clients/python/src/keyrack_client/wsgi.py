"""`KeyrackMiddleware` for WSGI apps (Flask, Django, ...).

    app.wsgi_app = KeyrackMiddleware(app.wsgi_app, verifier=Verifier(url, token),
                                     permission="DEPLOY_PACKAGES", exclude=["/healthz"])

A request with a valid key goes on with the result in `environ["keyrack.result"]`
(Flask: `request.environ["keyrack.result"]`; Django: `request.META["keyrack.result"]`);
any other is answered here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from keyrack_client._errors import KeyrackError
from keyrack_client._middleware import Denial, Guard, failed, judge, missing, usable_ip
from keyrack_client._sync import Verifier

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
else:
    StartResponse = WSGIApplication = WSGIEnvironment = Any

OnDenied = Callable[["WSGIEnvironment", Denial], "WSGIApplication"]
RESULT = "keyrack.result"

__all__ = ["RESULT", "Denial", "KeyrackMiddleware"]

_REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


class KeyrackMiddleware:
    """Lets through only requests that carry a key Keyrack says is valid.

    The same options as `keyrack_client.asgi.KeyrackMiddleware`; `on_denied(environ,
    denial)` returns the WSGI app (a Flask or Werkzeug `Response` is one) that answers a
    refused request, and `client_ip(environ)` defaults to `REMOTE_ADDR`.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        verifier: Verifier,
        header: str = "Authorization",
        permission: str | None = None,
        permissions: str | None = None,
        exclude: Iterable[str] = (),
        on_denied: OnDenied | None = None,
        client_ip: Callable[[WSGIEnvironment], str | None] | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.guard = Guard(
            header=header, permission=permission, permissions=permissions, exclude=exclude
        )
        self.on_denied = on_denied or _json_denial
        self.client_ip = client_ip or (lambda environ: environ.get("REMOTE_ADDR"))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.guard.excluded(environ.get("PATH_INFO") or "/"):
            return self.app(environ, start_response)
        denial = self._check(environ)
        if denial is None:
            return self.app(environ, start_response)
        return self.on_denied(environ, denial)(environ, start_response)

    def _check(self, environ: WSGIEnvironment) -> Denial | None:
        name = "HTTP_" + self.guard.header.upper().replace("-", "_")
        key = self.guard.key_from(environ.get(name))
        if key is None:
            return missing()
        try:
            result = self.verifier.verify(
                key,
                permission=self.guard.permission,
                permissions=self.guard.permissions,
                ip=usable_ip(self.client_ip(environ)),
            )
        except KeyrackError as error:
            return failed(error)
        environ[RESULT] = result
        return judge(result)


def _json_denial(environ: WSGIEnvironment, denial: Denial) -> WSGIApplication:
    def respond(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = denial.json_body()
        status = f"{denial.status} {_REASONS.get(denial.status, 'Error')}"
        start_response(status, [*denial.headers, ("content-length", str(len(body)))])
        return [body]

    return respond
