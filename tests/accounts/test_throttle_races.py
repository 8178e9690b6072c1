"""Failure limits hold against guesses sent all at once: counting and deciding are one step.

On PostgreSQL the guesses run on separate connections at the same time; on SQLite they
interleave at every await (password hashing runs in a thread), which was enough for 30
concurrent guesses to all be checked against a limit of 10.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from tests.support import (
    DISABLE_TOTP,
    ENROLL_TOTP,
    PASSWORD,
    GraphQL,
    Person,
    enable_totp,
    sign_up,
)

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { token userErrors { code } }
}
"""
GUESSES = 30
LIMIT = 10  # the default failures allowed per account, for logins and for codes


def outcomes(payloads: list[dict[str, Any]]) -> Counter[str]:
    return Counter(
        error["code"] if (error := next(iter(p["userErrors"]), None)) else "OK" for p in payloads
    )


async def login(gql: GraphQL, email: str, password: str) -> dict[str, Any]:
    data = await gql(LOGIN, {"input": {"email": email, "password": password}})
    payload: dict[str, Any] = data["login"]
    return payload


async def test_concurrent_wrong_passwords_are_checked_no_more_than_the_limit(
    gql: GraphQL,
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    anonymous = GraphQL(gql.http)

    # when: 30 wrong guesses at once
    guesses = await asyncio.gather(
        *(login(anonymous, ada.email, f"wrong password {n}") for n in range(GUESSES))
    )
    right = await login(anonymous, ada.email, PASSWORD)

    # then: ten were checked, the others refused unchecked, and the account is locked
    assert outcomes(guesses) == {"INVALID_CREDENTIALS": LIMIT, "TOO_MANY_ATTEMPTS": GUESSES - LIMIT}
    assert outcomes([right]) == {"TOO_MANY_ATTEMPTS": 1}


async def test_a_right_password_among_concurrent_guesses_does_not_use_up_a_failure(
    gql: GraphQL,
) -> None:
    # given
    ada = await sign_up(gql, "ada")
    anonymous = GraphQL(gql.http)

    # when: nine wrong guesses and the right password at once, then one more wrong guess
    batch = await asyncio.gather(
        *(login(anonymous, ada.email, f"wrong password {n}") for n in range(LIMIT - 1)),
        login(anonymous, ada.email, PASSWORD),
    )
    tenth = await login(anonymous, ada.email, "wrong password again")

    # then: the success handed its place back, so the tenth failure was still checked
    assert outcomes(batch) == {"INVALID_CREDENTIALS": LIMIT - 1, "OK": 1}
    assert outcomes([tenth]) == {"INVALID_CREDENTIALS": 1}
    assert outcomes([await login(anonymous, ada.email, PASSWORD)]) == {"TOO_MANY_ATTEMPTS": 1}


async def test_concurrent_wrong_codes_are_checked_no_more_than_the_limit(gql: GraphQL) -> None:
    # given
    ada: Person = await sign_up(gql, "ada")
    authenticator = await enable_totp(ada.gql)
    wrong = authenticator.wrong_code()

    # when
    guesses = await asyncio.gather(
        *(ada.gql(DISABLE_TOTP, {"input": {"code": wrong}}) for _ in range(GUESSES))
    )
    right = await ada.gql(DISABLE_TOTP, {"input": {"code": await authenticator.next_code()}})

    # then
    assert outcomes([g["disableTotp"] for g in guesses]) == {
        "OTP_INVALID": LIMIT,
        "TOO_MANY_ATTEMPTS": GUESSES - LIMIT,
    }
    assert outcomes([right["disableTotp"]]) == {"TOO_MANY_ATTEMPTS": 1}
    assert right["disableTotp"]["user"] is None


async def test_concurrent_wrong_passwords_to_enroll_totp_are_checked_no_more_than_the_limit(
    gql: GraphQL,
) -> None:
    # given: a stolen session, without the password
    ada = await sign_up(gql, "ada")

    # when
    guesses = await asyncio.gather(
        *(
            ada.gql(ENROLL_TOTP, {"input": {"password": f"wrong password {n}"}})
            for n in range(GUESSES)
        )
    )
    right = await ada.gql(ENROLL_TOTP, {"input": {"password": PASSWORD}})

    # then
    assert outcomes([g["enrollTotp"] for g in guesses]) == {
        "INVALID_CREDENTIALS": LIMIT,
        "TOO_MANY_ATTEMPTS": GUESSES - LIMIT,
    }
    assert outcomes([right["enrollTotp"]]) == {"TOO_MANY_ATTEMPTS": 1}
    assert right["enrollTotp"]["secret"] is None
