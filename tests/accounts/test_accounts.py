from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import PASSWORD, SIGN_UP, GraphQL, codes_and_fields, error_codes, sign_up

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { token user { id email } userErrors { code field message } }
}
"""
LOGOUT = "mutation { logout(input: {}) { ended userErrors { code } } }"
LOGOUT_WITH_ID = """
mutation Logout($input: LogoutInput!) {
  logout(input: $input) { ended clientMutationId userErrors { code } }
}
"""
SIGN_UP_WITH_ID = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { token clientMutationId userErrors { code field message } }
}
"""
VIEWER = "{ viewer { id email name } }"
ORGANIZATIONS = "{ organizations { edges { node { id } } } }"


def sign_up_input(**overrides: str) -> dict[str, str]:
    return {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"} | overrides


async def login(gql: GraphQL, email: str, password: str) -> dict[str, Any]:
    # Non-ASCII goes escaped, as JSON encoders send it by default: a lone surrogate then
    # travels as `\\ud800`, which httpx's own encoder would refuse to send at all.
    variables = {"input": {"email": email, "password": password}}
    response = await gql.http.post(
        "/graphql",
        content=json.dumps({"query": LOGIN, "variables": variables}).encode("ascii"),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()["data"]["login"]
    return payload


async def test_sign_up_returns_a_token_that_identifies_the_viewer(gql: GraphQL) -> None:
    # given
    payload = (
        await gql(
            SIGN_UP, {"input": {"email": "Ada@Example.com", "password": PASSWORD, "name": " Ada "}}
        )
    )["signUp"]

    # when
    viewer = (await gql.as_user(payload["token"])(VIEWER))["viewer"]

    # then
    assert payload["userErrors"] == []
    assert viewer == {"id": payload["user"]["id"], "email": "ada@example.com", "name": "Ada"}


async def test_viewer_is_null_when_anonymous(gql: GraphQL) -> None:
    assert (await gql(VIEWER))["viewer"] is None


async def test_sign_up_accepts_a_ten_character_password_and_a_200_character_name(
    gql: GraphQL,
) -> None:
    # when
    payload = (await gql(SIGN_UP, {"input": sign_up_input(password="0123456789", name="n" * 200)}))[
        "signUp"
    ]

    # then
    assert payload["userErrors"] == []
    assert payload["user"]["name"] == "n" * 200
    assert (await login(gql, "ada@example.com", "0123456789"))["token"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"email": "not-an-email"}, "email", id="email-without-at"),
        pytest.param({"email": "ada@localhost"}, "email", id="email-without-domain-dot"),
        pytest.param({"email": "ada lovelace@example.com"}, "email", id="email-with-space"),
        pytest.param({"email": "   "}, "email", id="email-blank"),
        pytest.param({"email": "a" * 250 + "@example.com"}, "email", id="email-too-long"),
        pytest.param({"password": "123456789"}, "password", id="password-9-chars"),
        pytest.param({"password": ""}, "password", id="password-empty"),
        pytest.param({"password": "p" * 10_000}, "password", id="password-10000-chars"),
        pytest.param({"name": ""}, "name", id="name-empty"),
        pytest.param({"name": " \t\n "}, "name", id="name-blank"),
        pytest.param({"name": "n" * 201}, "name", id="name-201-chars"),
        pytest.param({"name": "n" * 10_000}, "name", id="name-10000-chars"),
    ],
)
async def test_sign_up_rejects_invalid_input_and_creates_no_account(
    gql: GraphQL, overrides: dict[str, str], field: str
) -> None:
    # given
    bad = sign_up_input(**overrides)

    # when
    payload = (await gql(SIGN_UP, {"input": bad}))["signUp"]

    # then
    assert payload["token"] is None
    assert payload["user"] is None
    assert codes_and_fields(payload) == [("INVALID", ["input", field])]
    assert payload["userErrors"][0]["message"]
    login_payload = await login(gql, bad["email"], bad["password"])
    assert login_payload["token"] is None


async def test_an_email_rejected_at_sign_up_is_still_free(gql: GraphQL) -> None:
    # given
    await gql(SIGN_UP, {"input": sign_up_input(password="short")})

    # when
    payload = (await gql(SIGN_UP, {"input": sign_up_input()}))["signUp"]

    # then
    assert payload["userErrors"] == []
    assert payload["token"]


async def test_sign_up_with_a_taken_email_in_any_case_is_taken_and_changes_nothing(
    gql: GraphQL,
) -> None:
    # given
    first = (await gql(SIGN_UP, {"input": sign_up_input()}))["signUp"]

    # when
    payload = (
        await gql(
            SIGN_UP,
            {
                "input": sign_up_input(
                    email="  ADA@example.COM ", password="another password", name="Eve"
                )
            },
        )
    )["signUp"]

    # then
    assert payload["token"] is None
    assert codes_and_fields(payload) == [("TAKEN", ["input", "email"])]
    assert (await login(gql, "ada@example.com", "another password"))["token"] is None
    original = await login(gql, "ada@example.com", PASSWORD)
    assert original["user"]["id"] == first["user"]["id"]
    assert (await gql.as_user(original["token"])(VIEWER))["viewer"]["name"] == "Ada"


async def test_sign_up_echoes_client_mutation_id_on_success_and_on_failure(gql: GraphQL) -> None:
    # when
    ok = (await gql(SIGN_UP_WITH_ID, {"input": sign_up_input(clientMutationId="m-1")}))["signUp"]
    failed = (
        await gql(SIGN_UP_WITH_ID, {"input": sign_up_input(name=" ", clientMutationId="m-2")})
    )["signUp"]

    # then
    assert (ok["clientMutationId"], ok["userErrors"]) == ("m-1", [])
    assert failed["clientMutationId"] == "m-2"
    assert failed["userErrors"]


async def test_login_with_any_case_of_the_email_returns_a_new_working_token(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    payload = await login(gql, f"  {ada.email.upper()} ", PASSWORD)

    # then
    assert payload["userErrors"] == []
    assert payload["user"] == {"id": ada.id, "email": ada.email}
    assert payload["token"] != ada.token
    assert (await gql.as_user(payload["token"])(VIEWER))["viewer"]["id"] == ada.id


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param("KNOWN", "wrong password!", id="wrong-password"),
        pytest.param("nobody@example.com", PASSWORD, id="unknown-email"),
        pytest.param("not an email", PASSWORD, id="malformed-email"),
        pytest.param("KNOWN", "", id="empty-password"),
        pytest.param("KNOWN", "p" * 10_000, id="10000-char-password"),
        pytest.param("nul\x00@example.com", PASSWORD, id="nul-in-email"),
        pytest.param("KNOWN", PASSWORD + "\x00", id="nul-in-password"),
        pytest.param("lone\ud800@example.com", PASSWORD, id="lone-surrogate-in-email"),
        pytest.param("KNOWN", PASSWORD + "\ud800", id="lone-surrogate-in-password"),
    ],
)
async def test_every_failed_login_gets_the_same_answer(
    gql: GraphQL, email: str, password: str
) -> None:
    # given
    known = await sign_up(gql, "known")
    wrong_password = await login(gql, known.email, "wrong password!")

    # when
    payload = await login(gql, known.email if email == "KNOWN" else email, password)

    # then
    assert payload["token"] is None
    assert payload["user"] is None
    assert payload["userErrors"] == wrong_password["userErrors"]
    assert codes_and_fields(payload) == [("INVALID_CREDENTIALS", None)]


async def test_logout_ends_the_token_it_was_sent_with(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    payload = (await ada.gql(LOGOUT))["logout"]

    # then
    assert payload == {"ended": True, "userErrors": []}
    assert error_codes(await ada.gql.result(ORGANIZATIONS)) == ["UNAUTHENTICATED"]
    assert error_codes(await ada.gql.result(LOGOUT)) == ["UNAUTHENTICATED"]
    assert (await ada.gql(VIEWER))["viewer"] is None


async def test_logout_leaves_the_users_other_sessions_alive(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    other_session = gql.as_user((await login(gql, ada.email, PASSWORD))["token"])

    # when
    await ada.gql(LOGOUT)

    # then
    assert (await other_session(VIEWER))["viewer"]["id"] == ada.id
    assert (await other_session(ORGANIZATIONS))["organizations"]["edges"] == []


async def test_logout_echoes_client_mutation_id(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")

    # when
    payload = (await ada.gql(LOGOUT_WITH_ID, {"input": {"clientMutationId": "bye"}}))["logout"]

    # then
    assert payload == {"ended": True, "clientMutationId": "bye", "userErrors": []}


async def test_logout_without_a_token_is_unauthenticated(gql: GraphQL) -> None:
    # when
    body = await gql.result(LOGOUT)

    # then
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_logging_in_again_after_logout_works(gql: GraphQL) -> None:
    # given
    ada = await sign_up(gql, "ada")
    await ada.gql(LOGOUT)

    # when
    payload = await login(gql, ada.email, PASSWORD)

    # then
    assert payload["userErrors"] == []
    assert (await gql.as_user(payload["token"])(VIEWER))["viewer"]["id"] == ada.id
