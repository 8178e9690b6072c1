"""The typed request context every resolver receives as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from app.accounts.models import Session, User
from app.accounts.totp import TotpCipher
from app.context import Actor
from app.errors import NotAuthenticated
from app.graphql.loaders import Loaders, build_loaders
from app.keysets.keys import KeyMaterial
from app.keysets.reveals import RevealAllowance
from app.notifications.mail import Mailer
from app.settings import Settings
from app.verify.service import Verifier
from app.webhooks.signing import WebhookSigning


@dataclass
class Context:
    request: HTTPConnection  # a Request, or the WebSocket of a subscription
    response: Response | None
    settings: Settings
    keys: KeyMaterial
    totp: TotpCipher
    verifier: Verifier
    webhook_signing: WebhookSigning
    mailer: Mailer | None
    session: Session | None
    token_rejected: bool
    # A WebSocket's `connection_init` payload (strawberry sets it).
    connection_params: dict[str, object] = field(default_factory=dict)
    # The caller's latest notification when their socket was authenticated: its
    # subscriptions deliver every later one, those written before they start included.
    notifications_since: int | None = None
    loaders: Loaders = field(init=False)
    # Per-request answers derived from the query document, keyed by its AST nodes.
    memo: dict[object, object] = field(init=False, default_factory=dict)
    reveals: RevealAllowance = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = build_loaders(self.user)
        self.reveals = RevealAllowance(self.settings.max_reveals_per_request)

    def release(self) -> None:
        """Let go of what this request loaded, once its answer is written.

        graphql-core's executor refers to itself (its resolve-info helpers are its own
        bound methods) and to this context, so both wait for the cyclic garbage
        collector; under load those collections, and the objects they promote, cost more
        CPU than anything else of a list page. Dropping the loaders here frees the rows
        and models they hold at once, by reference counting, as nothing else refers to
        them (see app/graphql/loaders.py)."""
        del self.loaders

    def renew(self) -> None:
        """Forget what was loaded so far: a subscription's next event reads afresh, as the
        caller may now see more or less than when the socket opened."""
        self.loaders = build_loaders(self.user)
        self.memo.clear()

    @property
    def user(self) -> User | None:
        return self.session.user if self.session else None

    @property
    def actor(self) -> Actor:
        """The authenticated caller, with where the request came from (for the audit log)."""
        if self.session is None:
            raise NotAuthenticated(
                "Invalid or expired session token." if self.token_rejected else None
            )
        return Actor(
            user=self.session.user,
            session_id=self.session.id,
            ip_address=self.request.client.host if self.request.client else None,
            user_agent=self.request.headers.get("user-agent"),
        )


Info = StrawberryInfo[Context, None]
