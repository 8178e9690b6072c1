"""Attack PoC (branch `attack`): ONCE_PER_REQUEST counts each field apart, so
one request could still run several different password-hashing mutations."""

from __future__ import annotations

from tests.accounts.test_login_limits import login
from tests.support import PASSWORD, GraphQL, error_codes, sign_up

SEVERAL_HASHES = """
mutation Several($up: SignUpInput!, $in: LoginInput!) {
  signUp(input: $up) { token }
  login(input: $in) { token }
}
"""


async def test_one_request_hashes_at_most_one_password(gql: GraphQL) -> None:
    ada = await sign_up(gql, "ada")
    anonymous = GraphQL(gql.http)

    body = await anonymous.result(
        SEVERAL_HASHES,
        {
            "up": {"email": "new@example.com", "password": PASSWORD, "name": "New"},
            "in": {"email": ada.email, "password": PASSWORD},
        },
    )

    # then: refused before any resolver, like two logins
    assert body.get("data") is None, body
    assert error_codes(body) == ["ONCE_PER_REQUEST"]
    assert await login(anonymous, "new@example.com", PASSWORD) == ["INVALID_CREDENTIALS"]
