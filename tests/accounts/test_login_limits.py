"""One request is one guess; an attacker behind a shared address does not lock out its users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from app.main import create_app
from app.settings import Settings
from tests.support import PASSWORD, SIGN_UP, GraphQL, error_codes, sign_up

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { token userErrors { code } }
}
"""
TWO_LOGINS = """
mutation TwoGuesses($one: LoginInput!, $two: LoginInput!) {
  first: login(input: $one) { token userErrors { code } }
  second: login(input: $two) { token userErrors { code } }
}
"""
LOGIN_IN_A_FRAGMENT = """
fragment Guess on Mutation { login(input: $one) { token } }
mutation Sneaky($one: LoginInput!, $two: LoginInput!) {
  ...Guess
  ... on Mutation { other: login(input: $two) { token } }
}
"""
TWO_SIGN_UPS = """
mutation TwoAccounts($one: SignUpInput!, $two: SignUpInput!) {
  one: signUp(input: $one) { token }
  two: signUp(input: $two) { token }
}
"""
NAT = "198.51.100.23"  # one address shared by a whole office


async def login(gql: GraphQL, email: str, password: str) -> list[str]:
    """The login's userError codes, or ["OK"]."""
    data = await gql(LOGIN, {"input": {"email": email, "password": password}})
    payload: dict[str, Any] = data["login"]
    return [e["code"] for e in payload["userErrors"]] or ["OK"]


@asynccontextmanager
async def client_at(
    settings: Settings, backend: str, address: str, **limits: int
) -> AsyncIterator[GraphQL]:
    """An anonymous GraphQL client at `address`, of an app with `limits` set."""
    app = create_app(settings.model_copy(update=limits), connection_name=backend)
    transport = httpx.ASGITransport(app=app, client=(address, 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://keyrack.test") as client:
        yield GraphQL(client)


async def test_a_request_with_two_logins_is_refused_and_checks_neither(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    anonymous = GraphQL(gql.http)
    guesses = [{"email": ada.email, "password": f"guess number {n}"} for n in range(2)]

    # when
    aliased = await anonymous.result(TWO_LOGINS, {"one": guesses[0], "two": guesses[1]})
    spread = await anonymous.result(LOGIN_IN_A_FRAGMENT, {"one": guesses[0], "two": guesses[1]})

    # then
    for body in (aliased, spread):
        assert body.get("data") is None
        assert error_codes(body) == ["ONCE_PER_REQUEST"]
        assert "login" in body["errors"][0]["message"]
    assert await login(anonymous, ada.email, PASSWORD) == ["OK"]


async def test_a_request_with_two_sign_ups_is_refused_and_creates_neither(gql: GraphQL) -> None:
    # given
    accounts = [
        {"email": f"mallory{n}@example.com", "password": PASSWORD, "name": "Mallory"}
        for n in range(2)
    ]
    anonymous = GraphQL(gql.http)

    # when
    body = await anonymous.result(TWO_SIGN_UPS, {"one": accounts[0], "two": accounts[1]})

    # then
    assert body.get("data") is None
    assert error_codes(body) == ["ONCE_PER_REQUEST"]
    for account in accounts:
        assert await login(anonymous, account["email"], PASSWORD) == ["INVALID_CREDENTIALS"]


async def test_sign_ups_are_limited_per_address(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: an app that allows two sign-ups per address
    async with (
        client_at(settings, backend, NAT, signups_per_address=2) as there,
        client_at(settings, backend, "192.0.2.80", signups_per_address=2) as elsewhere,
    ):

        async def sign_up_as(client: GraphQL, name: str) -> list[str]:
            input = {"email": f"{name}@example.com", "password": PASSWORD, "name": name}
            payload: dict[str, Any] = (await client(SIGN_UP, {"input": input}))["signUp"]
            return [e["code"] for e in payload["userErrors"]] or ["OK"]

        allowed = [await sign_up_as(there, name) for name in ("one", "two")]

        # when
        third = await sign_up_as(there, "three")
        from_elsewhere = await sign_up_as(elsewhere, "four")

    # then
    assert allowed == [["OK"], ["OK"]]
    assert third == ["TOO_MANY_ATTEMPTS"]
    assert from_elsewhere == ["OK"]
    assert await login(GraphQL(gql.http), "three@example.com", PASSWORD) == ["INVALID_CREDENTIALS"]


async def test_an_attacker_behind_a_shared_address_does_not_lock_out_its_users(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: an office behind one address, allowed three failures; Ada works there and
    # has logged in from it before; Bob never has
    async with client_at(settings, backend, NAT, login_failures_per_address=3) as office:
        ada = await sign_up(office, "ada")
        bob = await sign_up(gql, "bob")
        assert await login(office, ada.email, PASSWORD) == ["OK"]
        # an attacker in the same office tries passwords on other accounts
        for target in ("carol@example.com", "dave@example.com", "erin@example.com"):
            assert await login(office, target, "Summer2025!") == ["INVALID_CREDENTIALS"]

        # when
        attacker_goes_on = await login(office, "frank@example.com", "Summer2025!")
        ada_logs_in = await login(office, ada.email, PASSWORD)
        bob_logs_in = await login(office, bob.email, PASSWORD)
        guesses_at_ada = [await login(office, ada.email, f"guess {n}") for n in range(10)]
        ada_after_the_guesses = await login(office, ada.email, PASSWORD)

    # then: the address is blocked for accounts that have not used it, not for Ada; and
    # guesses at Ada's account from there still meet its own limit there, without
    # locking her out anywhere else
    assert attacker_goes_on == ["TOO_MANY_ATTEMPTS"]
    assert ada_logs_in == ["OK"]
    assert bob_logs_in == ["TOO_MANY_ATTEMPTS"]
    assert guesses_at_ada == [["INVALID_CREDENTIALS"]] * 10
    assert ada_after_the_guesses == ["TOO_MANY_ATTEMPTS"]
    assert await login(GraphQL(gql.http), ada.email, PASSWORD) == ["OK"]


async def test_an_ipv6_host_cannot_step_around_the_address_limits_within_its_64(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: two failed logins and two sign-ups allowed per address; one host whose /64
    # hands it as many addresses as it likes, and a neighbouring /64
    limits = {"login_failures_per_address": 2, "signups_per_address": 2}
    hops = [f"2001:db8:1:2::{n:x}" for n in range(1, 6)]

    async def from_(address: str, guess: str) -> list[str]:
        async with client_at(settings, backend, address, **limits) as client:
            return await login(client, f"{guess}@example.com", "Summer2025!")

    async def sign_up_from(address: str, name: str) -> list[str]:
        async with client_at(settings, backend, address, **limits) as client:
            input = {"email": f"{name}@example.com", "password": PASSWORD, "name": name}
            payload: dict[str, Any] = (await client(SIGN_UP, {"input": input}))["signUp"]
            return [e["code"] for e in payload["userErrors"]] or ["OK"]

    # when: each guess and each sign-up from a new address of the same /64
    guesses = [await from_(address, f"target{n}") for n, address in enumerate(hops[:3])]
    neighbour = await from_("2001:db8:1:3::1", "target9")
    sign_ups = [await sign_up_from(address, f"new{n}") for n, address in enumerate(hops[2:])]

    # then: the /64 counts as one address; the next /64 is not held back
    assert guesses == [["INVALID_CREDENTIALS"], ["INVALID_CREDENTIALS"], ["TOO_MANY_ATTEMPTS"]]
    assert neighbour == ["INVALID_CREDENTIALS"]
    assert sign_ups == [["OK"], ["OK"], ["TOO_MANY_ATTEMPTS"]]


async def test_an_ipv4_caller_written_ipv4_mapped_is_the_same_address(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: two failed logins allowed per address
    limits = {"login_failures_per_address": 2}
    forms = ["198.51.100.61", "::ffff:198.51.100.61", "::ffff:c633:643d"]

    # when: one guess in each form a dual-stack listener or a proxy may report
    guesses = []
    for n, address in enumerate(forms):
        async with client_at(settings, backend, address, **limits) as client:
            guesses.append(await login(client, f"target{n}@example.com", "Summer2025!"))

    # then
    assert guesses == [["INVALID_CREDENTIALS"], ["INVALID_CREDENTIALS"], ["TOO_MANY_ATTEMPTS"]]
