"""The bell, live: the `notifications` subscription over a real WebSocket to `keyrack serve`.

On PostgreSQL two servers share the database, and the change is made through the other
one: the notification crosses processes by LISTEN/NOTIFY. On SQLite one server rings its
own subscriptions. Every wait is for a message that must come (with a generous deadline),
never a pause to see whether something comes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from app.graphql.trusted import console_operations, document_id
from tests.support.processes import Served, run_keyrack, serving
from tests.support.served import call as call_served
from tests.support.served import database_env

METRICS_TOKEN = "m" * 40
SPA = "https://spa.example"
PASSWORD = "correct horse battery"
DEADLINE = 20.0
SIGN_UP = """
mutation($input: SignUpInput!) { signUp(input: $input) { token user { id } } }
"""
CREATE_ORGANIZATION = """
mutation($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id } }
}
"""
INVITE = """
mutation($input: AddMemberInput!) { addMember(input: $input) { invitationToken } }
"""
ACCEPT = """
mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { member { role } } }
"""
CHANGE_ROLE = """
mutation($input: ChangeMemberRoleInput!) {
  changeMemberRole(input: $input) { userErrors { code } }
}
"""
LOG_OUT = "mutation { logout(input: {}) { ended } }"
SUBSCRIBE = "subscription { notifications { kind message organization { name } } }"
CONSOLE = console_operations()


@dataclass
class Servers:
    """Where the subscriber listens, and where the changes are made (another process on
    PostgreSQL, the same one on SQLite)."""

    listening: Served
    writing: Served
    trusted: Served  # KEYRACK_TRUSTED_DOCUMENTS=require

    def ws(self, served: Served | None = None) -> str:
        return (served or self.listening).base.replace("http://", "ws://") + "/graphql"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    tmp_path: Path = tmp_path_factory.mktemp("bell")
    env = database_env(request, request.param) | {
        "KEYRACK_METRICS_TOKEN": METRICS_TOKEN,
        "KEYRACK_CORS_ORIGINS": SPA,
    }
    migrated = run_keyrack(tmp_path, "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    with serving(tmp_path, env) as listening:
        if request.param == "sqlite":
            with serving(tmp_path, env | {"KEYRACK_TRUSTED_DOCUMENTS": "require"}) as trusted:
                # One SQLite process rings its own subscriptions only.
                yield Servers(listening, listening, trusted)
            return
        with (
            serving(tmp_path, env) as writing,
            serving(tmp_path, env | {"KEYRACK_TRUSTED_DOCUMENTS": "require"}) as trusted,
        ):
            yield Servers(listening, writing, trusted)


_people = iter(range(1_000_000))


def call(served: Served, query: str, token: str | None = None, **variables: Any) -> Any:
    """`tests.support.served.call` on the process `served`."""
    with httpx.Client(base_url=served.base) as http:
        return call_served(http, query, token, **variables)


@dataclass
class Pair:
    """An owner and a member of one organization, each signed in."""

    owner: str
    member: str
    member_id: str
    organization_id: str


def sign_up(served: Served, name: str) -> tuple[str, str]:
    email = f"{name.lower()}-{next(_people)}@example.com"
    data = call(served, SIGN_UP, input={"email": email, "password": PASSWORD, "name": name})[
        "signUp"
    ]
    return data["token"], email


def pair(served: Served, organization: str = "Acme") -> Pair:
    owner, _ = sign_up(served, "Ada")
    member, email = sign_up(served, "Bo")
    organization_id = call(served, CREATE_ORGANIZATION, owner, input={"name": organization})[
        "createOrganization"
    ]["organization"]["id"]
    invitation = call(
        served,
        INVITE,
        owner,
        input={"organizationId": organization_id, "email": email, "role": "MEMBER"},
    )["addMember"]["invitationToken"]
    call(served, ACCEPT, member, input={"token": invitation})
    member_id = call(served, "{ viewer { id } }", member)["viewer"]["id"]
    return Pair(owner, member, member_id, organization_id)


def change_role(served: Served, people: Pair, role: str) -> None:
    answer = call(
        served,
        CHANGE_ROLE,
        people.owner,
        input={"organizationId": people.organization_id, "userId": people.member_id, "role": role},
    )
    assert answer["changeMemberRole"]["userErrors"] == []


async def receive(socket: ClientConnection) -> dict[str, Any]:
    frame = await asyncio.wait_for(socket.recv(), DEADLINE)
    assert isinstance(frame, str), "graphql-transport-ws messages are text frames"
    message: dict[str, Any] = json.loads(frame)
    return message


@asynccontextmanager
async def socket(
    url: str, payload: dict[str, Any] | None = None, **headers: str
) -> AsyncIterator[ClientConnection]:
    """A graphql-transport-ws connection, acknowledged."""
    async with connect(
        url,
        subprotocols=[Subprotocol("graphql-transport-ws")],
        additional_headers=headers,
    ) as opened:
        await opened.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        assert await receive(opened) == {"type": "connection_ack"}
        yield opened


async def subscribe(opened: ClientConnection, id: str = "1", **payload: Any) -> None:
    await opened.send(
        json.dumps({"id": id, "type": "subscribe", "payload": payload or {"query": SUBSCRIBE}})
    )


def open_subscriptions(served: Served) -> float:
    text = httpx.get(
        f"{served.base}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"}
    ).text
    for line in text.splitlines():
        if line.startswith("keyrack_notification_subscriptions "):
            return float(line.split()[1])
    raise AssertionError("keyrack_notification_subscriptions is not exposed")


async def subscribed(served: Served, count: float) -> None:
    """Waits until the server holds `count` subscriptions: the positive signal that a
    subscribe message was taken (or a closed socket let go of its own)."""
    deadline = time.monotonic() + DEADLINE
    while (held := await asyncio.to_thread(open_subscriptions, served)) != count:
        assert time.monotonic() < deadline, f"{held} subscriptions, expected {count}"
        await asyncio.sleep(0.05)


# -----------------------------------------------------------------------------------------


async def test_a_role_change_made_by_another_request_rings_the_members_bell_live(
    servers: Servers,
) -> None:
    # given: Bo subscribes; Cy, in another organization, too
    people = pair(servers.listening)
    other = pair(servers.listening, "Globex")
    before = open_subscriptions(servers.listening)
    async with (
        socket(servers.ws(), {"authorization": f"Bearer {people.member}"}) as bo,
        socket(servers.ws(), {"authorization": f"Bearer {other.member}"}) as cy,
    ):
        await subscribe(bo)
        await subscribe(cy)
        await subscribed(servers.listening, before + 2)

        # when: Ada makes Bo an admin through the other server, then Cy's owner Cy's
        change_role(servers.writing, people, "ADMIN")
        to_bo = await receive(bo)
        change_role(servers.writing, other, "ADMIN")
        to_cy = await receive(cy)

    # then: each hears their own, and Cy's first message is Cy's (Globex): never Bo's
    assert to_bo == {
        "id": "1",
        "type": "next",
        "payload": {
            "data": {
                "notifications": {
                    "kind": "ROLE_CHANGED",
                    "message": "Ada changed your role in Acme from member to admin.",
                    "organization": {"name": "Acme"},
                }
            }
        },
    }
    assert to_cy["payload"]["data"]["notifications"] == {
        "kind": "ROLE_CHANGED",
        "message": "Ada changed your role in Globex from member to admin.",
        "organization": {"name": "Globex"},
    }
    # and the closed sockets let go of their subscriptions
    await subscribed(servers.listening, before)


async def test_a_subscription_needs_a_live_session_and_ends_with_it(servers: Servers) -> None:
    # given
    people = pair(servers.listening)
    before = open_subscriptions(servers.listening)

    # when: anonymous, a wrong token, and Bo, who then logs out
    async with socket(servers.ws()) as anonymous:
        await subscribe(anonymous)
        refused = await receive(anonymous)
    with pytest.raises(ConnectionClosed) as wrong:
        async with socket(servers.ws(), {"authorization": "Bearer nope"}) as opened:
            await opened.recv()
    async with socket(servers.ws(), {"authorization": f"Bearer {people.member}"}) as bo:
        await subscribe(bo)
        await subscribed(servers.listening, before + 1)
        call(servers.writing, LOG_OUT, people.member)
        change_role(servers.writing, people, "ADMIN")
        ended = await receive(bo)

    # then: nothing for the anonymous socket, the wrong token's is closed, and Bo's
    # subscription completes instead of delivering
    assert refused["type"] == "error"
    assert [e["extensions"]["code"] for e in refused["payload"]] == ["UNAUTHENTICATED"]
    assert wrong.value.rcvd is not None
    assert wrong.value.rcvd.code == 4403
    assert ended == {"id": "1", "type": "complete"}
    # and none of it was an incident, nor wrote the tokens the sockets sent
    log = servers.listening.log()
    assert "Traceback" not in log
    assert people.member not in log
    assert "Bearer nope" not in log


async def test_only_subscriptions_run_over_the_socket(servers: Servers) -> None:
    # given
    people = pair(servers.listening)

    # when: a query and a mutation over the socket
    async with socket(servers.ws(), {"authorization": f"Bearer {people.owner}"}) as opened:
        await subscribe(opened, "q", query="{ viewer { id } }")
        query = await receive(opened)
        await subscribe(opened, "m", query=LOG_OUT)
        mutation = await receive(opened)

    # then: refused, and the session still works
    for answer in (query, mutation):
        assert answer["type"] == "error"
        assert "subscriptions only" in answer["payload"][0]["message"]
    assert call(servers.listening, "{ viewer { id } }", people.owner)["viewer"] is not None


def cookie_session(served: Served) -> tuple[str, str]:
    """Signs up as the console does: (the Cookie header, the CSRF token)."""
    email = f"cookie-{next(_people)}@example.com"
    answer = httpx.post(
        f"{served.base}/graphql",
        json={
            "query": SIGN_UP,
            "variables": {"input": {"email": email, "password": PASSWORD, "name": "Ed"}},
        },
        headers={"x-keyrack-session": "cookie"},
    )
    session, csrf = answer.cookies["keyrack_session"], answer.cookies["keyrack_csrf"]
    return f"keyrack_session={session}; keyrack_csrf={csrf}", csrf


async def test_a_cookie_session_socket_must_come_from_this_origin_with_its_csrf_token(
    servers: Servers,
) -> None:
    # given: a console session
    cookie, csrf = cookie_session(servers.listening)
    own = servers.listening.base
    before = open_subscriptions(servers.listening)

    # when: from the console's origin with the token; without it; from another origin that
    # CORS allows (a Bearer SPA), and from one it does not
    async with socket(servers.ws(), {"csrfToken": csrf}, Origin=own, Cookie=cookie) as opened:
        await subscribe(opened)
        await subscribed(servers.listening, before + 1)
    closes = []
    for payload, origin in (({"csrfToken": "wrong"}, own), ({"csrfToken": csrf}, SPA)):
        with pytest.raises(ConnectionClosed) as closed:
            async with socket(servers.ws(), payload, Origin=origin, Cookie=cookie) as opened:
                await opened.recv()
        assert closed.value.rcvd is not None
        closes.append(closed.value.rcvd.code)
    with pytest.raises(InvalidStatus) as foreign:
        async with socket(servers.ws(), {"csrfToken": csrf}, Origin="https://evil.example"):
            pass

    # then
    assert closes == [4403, 4403]
    assert foreign.value.response.status_code == 403


async def test_under_require_a_cookie_sessions_socket_runs_the_consoles_documents_only(
    servers: Servers,
) -> None:
    # given: a console session on the server that requires trusted documents
    cookie, csrf = cookie_session(servers.trusted)
    own = servers.trusted.base
    console = CONSOLE["Notifications"]
    before = open_subscriptions(servers.trusted)

    # when: its own document, then the console's by id
    async with socket(
        servers.ws(servers.trusted), {"csrfToken": csrf}, Origin=own, Cookie=cookie
    ) as opened:
        await subscribe(opened, "own", query=SUBSCRIBE)
        own_document = await receive(opened)
        await subscribe(opened, "console", documentId=document_id(console), query=console)
        await subscribed(servers.trusted, before + 1)

    # then
    assert own_document["type"] == "error"
    assert "trusted documents" in own_document["payload"][0]["message"]
