"""Test helpers: a GraphQL-over-HTTP client and short ways to build a world."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import httpx
import pyotp
from tortoise import Tortoise

from app import clock
from app.background import current_task_name
from app.clock import MovableClock
from tests.support import scenes

PASSWORD = "correct horse battery staple"
# A key value or verifier token as Keyrack hands it out: never in a log line, never to a
# non-admin.
KEY_PATTERN = re.compile(r"kr[osv]_[0-9A-Za-z]{49}")
_emails = itertools.count(1)

# Every secret this process's tests used or were handed: passwords sent, and tokens, keys,
# signing and TOTP secrets received. The session's log must hold none of them (conftest).
SECRETS_USED: set[str] = {PASSWORD}
# Response fields that hold a secret the server handed out.
SECRET_RESPONSE_FIELDS = frozenset(
    {
        "token",
        "primaryKey",
        "secondaryKey",
        "key",
        "value",
        "secret",
        "signingSecret",
        "invitationToken",
    }
)
# Variables that carry a password; codes are one-time and too short to search a log for.
SECRET_VARIABLES = frozenset({"password", "currentPassword", "newPassword"})
# Shorter strings could occur in a log line by chance: nothing the server hands out is.
_MIN_SECRET_LENGTH = 12


def remember_secret(value: object) -> None:
    """Adds a secret to SECRETS_USED, for the end-of-session log scan."""
    if isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH:
        SECRETS_USED.add(value)


def remember_secrets_in(data: object, fields: frozenset[str]) -> None:
    """Remembers the string values of `fields`, wherever they are nested in `data`."""
    if isinstance(data, dict):
        for name, value in data.items():
            if name in fields:
                remember_secret(value)
            remember_secrets_in(value, fields)
    elif isinstance(data, list):
        for item in data:
            remember_secrets_in(item, fields)


SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { token user { id email name } userErrors { code field message } }
}
"""
CREATE_ORGANIZATION = """
mutation CreateOrganization($input: CreateOrganizationInput!) {
  createOrganization(input: $input) {
    organization { id name viewerRole keyReveal }
    userErrors { code field message }
  }
}
"""
ADD_MEMBER = """
mutation AddMember($input: AddMemberInput!) {
  addMember(input: $input) {
    invitation { id email role status expiresAt }
    invitationToken
    userErrors { code field message }
  }
}
"""
ACCEPT_INVITATION = """
mutation AcceptInvitation($input: AcceptInvitationInput!) {
  acceptInvitation(input: $input) {
    member { user { id email } role }
    userErrors { code field message }
  }
}
"""
CREATE_SYSTEM = """
mutation CreateSystem($input: CreateSystemInput!) {
  createSystem(input: $input) { system { id name } userErrors { code field message } }
}
"""
GRANT_SYSTEM_ROLE = """
mutation Grant($input: GrantSystemRoleInput!) {
  grantSystemRole(input: $input) { assignment { role } userErrors { code field message } }
}
"""
CREATE_KEY_SET = """
mutation CreateKeySet($input: CreateKeySetInput!) {
  createKeySet(input: $input) {
    keySet { id label status scope permissions }
    primaryKey
    secondaryKey
    userErrors { code field message }
  }
}
"""
CREATE_PERMISSION = """
mutation CreatePermission($input: CreatePermissionInput!) {
  createPermission(input: $input) { permission { id } userErrors { code field message } }
}
"""
CREATE_VERIFIER = """
mutation CreateVerifier($input: CreateVerifierInput!) {
  createVerifier(input: $input) {
    verifier { id name scope hint organization { id } system { id } revokedAt }
    token
    userErrors { code field message }
  }
}
"""
ENROLL_TOTP = """
mutation EnrollTotp($input: EnrollTotpInput!) {
  enrollTotp(input: $input) {
    secret provisioningUri user { id totpEnabled } userErrors { code field message }
  }
}
"""
CONFIRM_TOTP = """
mutation ConfirmTotp($input: ConfirmTotpInput!) {
  confirmTotp(input: $input) { user { id totpEnabled } userErrors { code field message } }
}
"""
DISABLE_TOTP = """
mutation DisableTotp($input: DisableTotpInput!) {
  disableTotp(input: $input) { user { id totpEnabled } userErrors { code field message } }
}
"""

REVOKE_KEY_SET = """
mutation Revoke($input: RevokeKeySetInput!) {
  revokeKeySet(input: $input) { keySet { status } userErrors { code field message } }
}
"""

REGENERATE_KEY = """
mutation Regenerate($input: RegenerateKeyInput!) {
  regenerateKey(input: $input) { key userErrors { code field message } }
}
"""

UPDATE_KEY_SET = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) { keySet { label } userErrors { code field message } }
}
"""


class GraphQLError(AssertionError):
    pass


class GraphQL:
    """Posts GraphQL documents to /graphql, as one user (`token`) or anonymously."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = http
        self.token = token

    def as_user(self, token: str | None) -> GraphQL:
        return GraphQL(self.http, token)

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        if self.token:
            headers.setdefault("authorization", f"Bearer {self.token}")
        remember_secrets_in(variables, SECRET_VARIABLES)
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        with contextlib.suppress(ValueError):  # not JSON: nothing handed out
            remember_secrets_in(response.json(), SECRET_RESPONSE_FIELDS)
        return response

    async def result(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole response body: `data` and `errors`."""
        response = await self.raw(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """`data`, asserting that there were no top-level errors."""
        body = await self.result(query, variables)
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def mutate(self, name: str, query: str, input: dict[str, Any]) -> dict[str, Any]:
        """A mutation's payload, asserting that it reported no userErrors."""
        payload: dict[str, Any] = (await self(query, {"input": input}))[name]
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors") or []]


def codes_and_fields(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    """A payload's userErrors as (code, field) pairs."""
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def verify(http: httpx.AsyncClient, key: str, **extra: Any) -> dict[str, Any]:
    """What /v1/keys/verify answers for `key` (and `extra` body fields): a 200's body."""
    response = await http.post("/v1/keys/verify", json={"key": key, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def verify_code(http: httpx.AsyncClient, key: str, **extra: Any) -> str:
    """Only the verdict's code."""
    return str((await verify(http, key, **extra))["code"])


@dataclass
class Person:
    gql: GraphQL
    id: str
    email: str
    token: str


async def sign_up(gql: GraphQL, name: str = "user") -> Person:
    email = f"{name}-{next(_emails)}@example.com"
    payload = await GraphQL(gql.http).mutate(
        "signUp", SIGN_UP, {"email": email, "password": PASSWORD, "name": name.title()}
    )
    return Person(gql.as_user(payload["token"]), payload["user"]["id"], email, payload["token"])


async def create_organization(person: Person, name: str = "Acme") -> str:
    payload = await person.gql.mutate("createOrganization", CREATE_ORGANIZATION, {"name": name})
    return str(payload["organization"]["id"])


async def invite(admin: Person, organization_id: str, email: str, role: str, **extra: Any) -> str:
    """Invites `email` (no SMTP configured) and returns the invitation token; `extra` is
    more input (an `otp`)."""
    payload = await admin.gql.mutate(
        "addMember",
        ADD_MEMBER,
        {"organizationId": organization_id, "email": email, "role": role} | extra,
    )
    assert payload["invitation"]["status"] == "PENDING"
    return str(payload["invitationToken"])


async def add_member(
    admin: Person, organization_id: str, member: Person, role: str, **extra: Any
) -> None:
    """Makes `member` a member the only way there is: invited, then accepting."""
    token = await invite(admin, organization_id, member.email, role, **extra)
    payload = await member.gql.mutate("acceptInvitation", ACCEPT_INVITATION, {"token": token})
    assert payload["member"]["role"] == role


async def create_system(admin: Person, organization_id: str, name: str = "Payments") -> str:
    payload = await admin.gql.mutate(
        "createSystem", CREATE_SYSTEM, {"organizationId": organization_id, "name": name}
    )
    return str(payload["system"]["id"])


async def create_key_set(admin: Person, **input: Any) -> dict[str, Any]:
    return await admin.gql.mutate("createKeySet", CREATE_KEY_SET, input)


async def create_permission(admin: Person, organization_id: str, name: str, **input: Any) -> str:
    """A permission of the organization's own catalog (`scopes` default to both); its id."""
    input = {
        "organizationId": organization_id,
        "name": name,
        "scopes": ["ORGANIZATION", "SYSTEM"],
        **input,
    }
    payload = await admin.gql.mutate("createPermission", CREATE_PERMISSION, input)
    return str(payload["permission"]["id"])


async def create_verifier(admin: Person, **input: Any) -> str:
    """A verifier made through GraphQL (`organizationId` or `systemId`); its token."""
    input.setdefault("name", "billing-api")
    payload = await admin.gql.mutate("createVerifier", CREATE_VERIFIER, input)
    return str(payload["token"])


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def verifying_client(transport: httpx.AsyncBaseTransport, token: str) -> httpx.AsyncClient:
    """A client for POST /v1/keys/verify that presents the verifier `token`, as a service does."""
    return httpx.AsyncClient(
        transport=transport, base_url="http://keyrack.test", headers=bearer(token)
    )


@dataclass
class World:
    """One organization with a system, and a person in every role."""

    owner: Person
    admin: Person
    member: Person
    system_admin: Person
    outsider: Person
    organization_id: str
    system_id: str


async def build_world(gql: GraphQL) -> World:
    """Five people around two organizations (see `World`). Built through the API once per
    worker and database, then restored for each test that starts from it on an empty
    database (`tests/support/scenes.py`)."""
    return await scenes.restore_or_build("world", gql.http, lambda: _build_world(gql))


async def _build_world(gql: GraphQL) -> World:
    owner = await sign_up(gql, "owner")
    admin = await sign_up(gql, "admin")
    member = await sign_up(gql, "member")
    system_admin = await sign_up(gql, "sysadmin")
    outsider = await sign_up(gql, "outsider")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, admin, "ADMIN")
    await add_member(owner, organization_id, member, "MEMBER")
    await add_member(owner, organization_id, system_admin, "MEMBER")
    system_id = await create_system(owner, organization_id)
    await owner.gql.mutate(
        "grantSystemRole",
        GRANT_SYSTEM_ROLE,
        {"systemId": system_id, "email": system_admin.email, "role": "ADMIN"},
    )
    await create_organization(outsider, "Other Corp")
    return World(owner, admin, member, system_admin, outsider, organization_id, system_id)


def movable_clock() -> MovableClock:
    """The clock tests/conftest.py installs for the session."""
    current = clock.current()
    assert isinstance(current, MovableClock), "tests/conftest.py installs a MovableClock"
    return current


def advance(seconds: float | timedelta) -> None:
    """Lets `seconds` pass for the app in this process, at once (see app/clock.py)."""
    movable_clock().advance(seconds)


class MovingClock(Protocol):
    """A clock a test can read and move: this process's (`movable_clock()`) or a served
    process's (`tests.support.processes.ServedClock`)."""

    def time(self) -> float: ...

    def advance(self, seconds: float) -> None: ...


class Authenticator:
    """An authenticator app: pyotp holding the secret enrollTotp handed out.

    Keyrack accepts a step's code once, for the current step and one either side.
    `next_code` is the code of the earliest step not yet handed out that Keyrack still
    accepts — the step before the current one too, while the clock is not about to move
    on — so successive codes are always accepted; past the window it moves the clock on
    to the next step. `clock` is the clock of the Keyrack the codes go to: this process's
    by default, a `keyrack serve` process's (`Served.clock`) for codes sent there.
    """

    def __init__(self, secret: str, *, clock: MovingClock | None = None) -> None:
        remember_secret(secret)
        self.secret = secret
        self.totp = pyotp.TOTP(secret)
        self.clock: MovingClock = clock or movable_clock()
        self.last_step = -1
        self.last_code: str | None = None

    def _now(self) -> int:
        return int(self.clock.time()) // self.totp.interval

    async def next_code(self) -> str:
        # The previous step stays in Keyrack's window until the next one starts: use it
        # only with 5 s of margin, so that the request reaches Keyrack in time.
        into_step = self.clock.time() % self.totp.interval
        earliest = self._now() - 1 if into_step < self.totp.interval - 5 else self._now()
        step = max(earliest, self.last_step + 1)
        if step > self._now() + 1:  # at most one step ahead: the window starts with the next
            self.clock.advance((step - 1) * self.totp.interval - self.clock.time() + 0.05)
        self.last_step = step
        self.last_code = self.totp.generate_otp(step)
        return self.last_code

    def wrong_code(self) -> str:
        """Six digits that are no code of any step Keyrack would accept now or soon."""
        now = self._now()
        near = {self.totp.generate_otp(step) for step in range(now - 2, now + 4)}
        return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


async def enroll_totp(caller: GraphQL) -> Authenticator:
    payload = await caller.mutate("enrollTotp", ENROLL_TOTP, {"password": PASSWORD})
    return Authenticator(payload["secret"])


async def enable_totp(caller: GraphQL) -> Authenticator:
    """Enrols and confirms an authenticator for the signed-in caller."""
    authenticator = await enroll_totp(caller)
    await caller.mutate("confirmTotp", CONFIRM_TOTP, {"code": await authenticator.next_code()})
    return authenticator


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # logged outside any event loop
        return None


class StatementCounter(logging.Handler):
    """Counts the SQL statements Tortoise sends, as its client logs them at DEBUG, but
    not those of the app's background jobs (tasks named `keyrack-…`: the usage flush,
    the retirement job...), which run on their own clock and would make a count flaky."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if current_task_name() is not None:  # a background round, or a task it started
            return
        task = _current_task()
        if task is not None and task.get_name().startswith("keyrack-"):
            return
        message = record.getMessage()
        if message.lstrip().split(" ", 1)[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
            self.statements.append(message)


@contextmanager
def counting_statements() -> Iterator[StatementCounter]:
    counter = StatementCounter()
    logger = logging.getLogger("tortoise.db_client")
    previous = logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)


async def snapshot_tables(*, ignoring: Collection[str] = ()) -> dict[str, Any]:
    """Every row the API's data lives in, as one text per table, read in one statement.
    Sessions, login events and the throttles' attempt counters are the callers' own
    bookkeeping, not data anything was refused on."""
    models = [
        model
        for name, model in Tortoise.apps["models"].items()
        if name not in {"Session", "LoginEvent", "AttemptCounter", "Aerich", *ignoring}
    ]
    connection = models[0]._meta.db
    postgres = connection.capabilities.dialect == "postgres"
    tables = []
    for model in models:
        table, key = model._meta.db_table, model._meta.db_pk_column
        if postgres:  # a row as text holds every column, quoted
            tables.append(
                f'(SELECT string_agg(t::text, \'|\' ORDER BY t."{key}") FROM "{table}" t)'
            )
        else:
            row = " || ',' || ".join(
                f'quote("{column}")' for column in model._meta.fields_db_projection.values()
            )
            tables.append(
                f"(SELECT group_concat(r, '|') FROM"
                f' (SELECT {row} AS r FROM "{table}" ORDER BY "{key}"))'
            )
    [texts] = await connection.execute_query_dict(
        "SELECT " + ", ".join(f"{table} AS t{n}" for n, table in enumerate(tables))
    )
    return {model.__name__: text for model, text in zip(models, texts.values(), strict=True)}
