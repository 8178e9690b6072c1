"""Console sessions: an HttpOnly, SameSite=Strict cookie and a CSRF token on every request.

Scripts keep sending `Authorization: Bearer`; the console asks signUp and login for a
cookie instead (`x-keyrack-session: cookie`), so no script of the page ever holds the token.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest

SIGN_UP = """
mutation { signUp(input: { email: "ada@example.com", password: "correct horse battery",
                           name: "Ada" }) { token user { email } userErrors { code } } }
"""
VIEWER = "{ viewer { email } }"
CREATE_ORGANIZATION = """
mutation { createOrganization(input: { name: "Acme" }) { organization { id } userErrors { code } } }
"""
ORGANIZATIONS = "{ organizations(first: 5) { edges { node { name } } } }"
LOGOUT = "mutation { logout(input: {}) { ended userErrors { code } } }"
COOKIE_MODE = {"x-keyrack-session": "cookie"}
# keyrack.test is not loopback: the cookies are Secure, and only this host can set them.
SESSION, CSRF = "__Host-keyrack_session", "__Host-keyrack_csrf"
LOGIN_ALIASED = """
mutation { mine: login(input: { email: "ada@example.com", password: "correct horse battery" })
           { token } }
"""


async def post(
    http: httpx.AsyncClient,
    query: str,
    *,
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One request with exactly these cookies (the client's own jar stays empty), and
    these headers, sent as latin-1 (the encoding HTTP headers are read in)."""
    http.cookies.clear()
    sent = dict(headers or {})
    if cookies:
        sent["cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    raw = [(name.encode(), value.encode("latin-1")) for name, value in sent.items()]
    response = await http.post("/graphql", json={"query": query}, headers=raw)
    http.cookies.clear()
    return response


def set_cookies(response: httpx.Response) -> dict[str, Any]:
    """The Set-Cookie headers of an answer, by name."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return {name: jar[name] for name in jar}


async def console_session(
    http: httpx.AsyncClient, email: str = "ada@example.com"
) -> dict[str, str]:
    """Signs `email` up as the console does; the cookies it was given, by name."""
    answer = await post(http, SIGN_UP.replace("ada@example.com", email), headers=COOKIE_MODE)
    return {name: morsel.value for name, morsel in set_cookies(answer).items()}


def csrf(cookies: dict[str, str]) -> dict[str, str]:
    return {"x-csrf-token": cookies[CSRF]}


async def test_the_console_gets_its_session_in_cookies_and_never_the_token(
    http: httpx.AsyncClient,
) -> None:
    # when
    answer = await post(http, SIGN_UP, headers=COOKIE_MODE)

    # then: the token is not in the answer; the session is in an HttpOnly cookie
    assert answer.json()["data"]["signUp"] == {
        "token": None,
        "user": {"email": "ada@example.com"},
        "userErrors": [],
    }
    cookies = set_cookies(answer)
    session, token = cookies[SESSION], cookies[CSRF]
    assert session["httponly"] is True
    assert (session["samesite"], session["path"], session["max-age"]) == ("strict", "/", "43200")
    assert (session["secure"], token["secure"]) == (True, True)
    assert session["domain"] == token["domain"] == ""
    assert token["httponly"] == ""  # the page reads it, to send it back as a header
    assert token["samesite"] == "strict"
    assert token.value != session.value


async def test_cookies_are_secure_outside_loopback_only(http: httpx.AsyncClient) -> None:
    # when
    outside = await post(http, SIGN_UP, headers={"host": "keyrack.example.com", **COOKIE_MODE})
    loopback = await post(
        http,
        SIGN_UP.replace("ada@", "bob@"),
        headers={"host": "127.0.0.1:8000", **COOKIE_MODE},
    )

    # then
    assert set_cookies(outside)[SESSION]["secure"] is True
    assert set_cookies(loopback)["keyrack_session"]["secure"] == ""
    assert set(set_cookies(loopback)) == {"keyrack_session", "keyrack_csrf"}


async def test_a_request_needs_the_cookie_and_its_csrf_token(http: httpx.AsyncClient) -> None:
    # given
    cookies = await console_session(http)
    other = await console_session(http, "bob@example.com")

    # when: with the CSRF token, without it, with a wrong one, with another session's
    proven = await post(http, VIEWER, cookies=cookies, headers=csrf(cookies))
    unproven = await post(http, VIEWER, cookies=cookies)
    wrong = await post(
        http, CREATE_ORGANIZATION, cookies=cookies, headers={"x-csrf-token": "0" * 64}
    )
    crossed = await post(http, CREATE_ORGANIZATION, cookies=cookies, headers=csrf(other))
    garbled = await post(http, VIEWER, cookies=cookies, headers={"x-csrf-token": "é\u00ff"})

    # then: only the proven request is the person's; the others are anonymous or refused
    assert proven.json()["data"]["viewer"] == {"email": "ada@example.com"}
    assert unproven.json()["data"]["viewer"] is None
    assert set_cookies(unproven) == {}  # GraphiQL beside the console: nothing to take back
    for refused in (wrong, crossed):
        assert refused.status_code == 200
        assert [e["extensions"]["code"] for e in refused.json()["errors"]] == ["UNAUTHENTICATED"]
        assert {m.value for m in set_cookies(refused).values()} == {""}  # taken back
    assert garbled.status_code == 200
    assert garbled.json()["data"]["viewer"] is None
    listed = await post(http, ORGANIZATIONS, cookies=cookies, headers=csrf(cookies))
    assert listed.json()["data"]["organizations"]["edges"] == []


async def test_logging_out_ends_the_session_and_takes_the_cookies_back(
    http: httpx.AsyncClient,
) -> None:
    # given
    cookies = await console_session(http)

    # when
    answer = await post(http, LOGOUT, cookies=cookies, headers=csrf(cookies))
    after = await post(http, VIEWER, cookies=cookies, headers=csrf(cookies))
    by_bearer = await post(http, VIEWER, headers={"authorization": f"Bearer {cookies[SESSION]}"})

    # then
    assert answer.json()["data"]["logout"] == {"ended": True, "userErrors": []}
    taken_back = set_cookies(answer)
    assert {name: m.value for name, m in taken_back.items()} == {SESSION: "", CSRF: ""}
    assert taken_back[SESSION]["max-age"] == "0"
    assert after.json()["data"]["viewer"] is None
    assert set_cookies(after)[SESSION].value == ""  # an ended session's cookie goes
    assert by_bearer.json()["data"]["viewer"] is None


@pytest.mark.parametrize("mode", [None, "bearer", "COOKIE"])
async def test_scripts_get_the_token_as_before(http: httpx.AsyncClient, mode: str | None) -> None:
    # when
    headers = {"x-keyrack-session": mode} if mode else {}
    answer = await post(http, SIGN_UP, headers=headers)
    token = answer.json()["data"]["signUp"]["token"]
    viewer = await post(http, VIEWER, headers={"authorization": f"Bearer {token}"})

    # then
    assert set_cookies(answer) == {}
    assert viewer.json()["data"]["viewer"] == {"email": "ada@example.com"}


async def test_an_aliased_login_still_answers_its_token_only_in_cookies(
    http: httpx.AsyncClient,
) -> None:
    # given
    await post(http, SIGN_UP)

    # when
    answer = await post(http, LOGIN_ALIASED, headers=COOKIE_MODE)

    # then
    assert answer.json()["data"] == {"mine": {"token": None}}
    assert set(set_cookies(answer)) == {SESSION, CSRF}


async def test_a_cookie_without_the_host_prefix_is_not_a_session_outside_loopback(
    http: httpx.AsyncClient,
) -> None:
    # given: cookies a sibling subdomain could have set (no prefix, any Domain)
    cookies = await console_session(http)
    planted = {"keyrack_session": cookies[SESSION], "keyrack_csrf": cookies[CSRF]}

    # when
    answer = await post(http, VIEWER, cookies=planted, headers={"x-csrf-token": cookies[CSRF]})

    # then: anonymous, as if there were no cookie
    assert answer.json()["data"]["viewer"] is None
