"""Attack PoC (branch `attack`, no fix): anyone who knows an email locks its owner out,
even at the address the owner always logs in from, with 10 wrong passwords per window."""

from __future__ import annotations

from app.settings import Settings
from tests.accounts.test_login_limits import client_at, login
from tests.support import PASSWORD, GraphQL, sign_up

HOME = "198.51.100.7"  # where Ada always works
ATTACKER = "203.0.113.66"  # one address, far under its own limit of 50 failures


async def test_wrong_passwords_from_elsewhere_do_not_lock_out_the_owner_at_home(
    gql: GraphQL, settings: Settings, backend: str
) -> None:
    # given: Ada, who logs in from home
    async with client_at(settings, backend, HOME) as home:
        ada = await sign_up(home, "ada")
        assert await login(home, ada.email, PASSWORD) == ["OK"]

    # when: an attacker sends ten wrong passwords for her email from one address
    async with client_at(settings, backend, ATTACKER) as attacker:
        for n in range(10):
            assert await login(attacker, ada.email, f"guess {n}!!") == ["INVALID_CREDENTIALS"]

    # then: Ada, at home, with her password, still gets in
    async with client_at(settings, backend, HOME) as home:
        assert await login(home, ada.email, PASSWORD) == ["OK"]
