"""Users enrol a TOTP authenticator app, confirm it with a code, and disable it with one."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pyotp
import pytest

from app.accounts.models import AccountEvent, TotpAuthenticator
from app.accounts.totp import TotpCipher, TotpDecryptionError
from app.ids import pk_of
from tests.support import (
    CONFIRM_TOTP,
    DISABLE_TOTP,
    ENROLL_TOTP,
    PASSWORD,
    Authenticator,
    GraphQL,
    Person,
    add_member,
    create_organization,
    enable_totp,
    enroll_totp,
    error_codes,
    sign_up,
)

VIEWER = "{ viewer { id totpEnabled } }"
USER = "query User($id: ID!) { node(id: $id) { ... on User { email totpEnabled } } }"
MEMBERS = """
query Members($id: ID!) {
  organization(id: $id) { members { edges { node { user { email totpEnabled } } } } }
}
"""
AUDIT_LOG = """
query Audit($id: ID!) { organization(id: $id) { auditLog { edges { node { action } } } } }
"""
CLIENT_IP = "203.0.113.10"  # the `http` fixture's client address
USER_AGENT = "keyrack-totp-tests/1.0"
SECRET_A = "a-master-secret-that-is-long-enough-for-tests"


def logged(log_file: Path) -> str:
    return log_file.read_text(encoding="utf-8")


async def totp_enabled(person: Person) -> bool:
    return bool((await person.gql(VIEWER))["viewer"]["totpEnabled"])


async def mutation(person: Person, name: str, query: str, input: dict[str, Any]) -> dict[str, Any]:
    """The payload, userErrors or not."""
    payload: dict[str, Any] = (await person.gql(query, {"input": input}))[name]
    return payload


def errors(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def events(person: Person) -> list[tuple[str, dict[str, Any]]]:
    rows = await AccountEvent.filter(user_id=pk_of(person.id, "User")).order_by("id")
    return [(row.action.value, row.details) for row in rows]


@pytest.fixture
async def ada(gql: GraphQL, http: httpx.AsyncClient) -> Person:
    http.headers["user-agent"] = USER_AGENT
    return await sign_up(gql, "ada")


async def test_an_enrolled_authenticator_is_enabled_once_a_code_confirms_it(ada: Person) -> None:
    # given
    assert await totp_enabled(ada) is False

    # when
    enrolled = await ada.gql.mutate("enrollTotp", ENROLL_TOTP, {"password": PASSWORD})

    # then: a secret an authenticator app takes, not in use yet
    uri = urlsplit(enrolled["provisioningUri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/Keyrack:{ada.email}"
    assert parse_qs(uri.query)["secret"] == [enrolled["secret"]]
    assert parse_qs(uri.query)["issuer"] == ["Keyrack"]
    assert pyotp.parse_uri(enrolled["provisioningUri"]).secret == enrolled["secret"]
    assert enrolled["user"] == {"id": ada.id, "totpEnabled": False}
    assert await totp_enabled(ada) is False

    # when
    code = await Authenticator(enrolled["secret"]).next_code()
    confirmed = await ada.gql.mutate("confirmTotp", CONFIRM_TOTP, {"code": code})

    # then
    assert confirmed["user"] == {"id": ada.id, "totpEnabled": True}
    assert await totp_enabled(ada) is True


async def test_a_code_typed_with_a_space_in_the_middle_is_accepted(ada: Person) -> None:
    # given: apps show codes as "123 456"
    authenticator = await enroll_totp(ada.gql)
    code = await authenticator.next_code()

    # when
    await ada.gql.mutate("confirmTotp", CONFIRM_TOTP, {"code": f" {code[:3]} {code[3:]} "})

    # then
    assert await totp_enabled(ada) is True


async def test_enrolling_again_before_confirming_replaces_the_pending_secret(
    ada: Person,
) -> None:
    # given
    first = await enroll_totp(ada.gql)
    second = await enroll_totp(ada.gql)
    assert first.secret != second.secret

    # when
    stale = await mutation(ada, "confirmTotp", CONFIRM_TOTP, {"code": await first.next_code()})
    fresh = await mutation(ada, "confirmTotp", CONFIRM_TOTP, {"code": await second.next_code()})

    # then
    assert errors(stale) == [("OTP_INVALID", ["input", "code"])]
    assert errors(fresh) == []
    assert await totp_enabled(ada) is True


async def test_enrolling_while_an_authenticator_is_enabled_is_refused(ada: Person) -> None:
    # given
    authenticator = await enable_totp(ada.gql)

    # when
    payload = await mutation(ada, "enrollTotp", ENROLL_TOTP, {"password": PASSWORD})

    # then: no new secret, and the enabled authenticator still works
    assert errors(payload) == [("TOTP_ALREADY_ENABLED", None)]
    assert payload["secret"] is None
    assert payload["provisioningUri"] is None
    await ada.gql.mutate("disableTotp", DISABLE_TOTP, {"code": await authenticator.next_code()})
    assert await totp_enabled(ada) is False


@pytest.mark.parametrize("password", ["wrong password!", "", "x" * 10_000])
async def test_enrolling_takes_the_account_password(ada: Person, password: str) -> None:
    # when
    payload = await mutation(ada, "enrollTotp", ENROLL_TOTP, {"password": password})

    # then: nothing was enrolled
    assert errors(payload) == [("INVALID_CREDENTIALS", ["input", "password"])]
    assert payload["secret"] is None
    assert await TotpAuthenticator.filter(user_id=pk_of(ada.id, "User")).count() == 0


async def test_confirming_is_refused_without_a_pending_authenticator(ada: Person) -> None:
    # when
    payload = await mutation(ada, "confirmTotp", CONFIRM_TOTP, {"code": "123456"})

    # then
    assert errors(payload) == [("TOTP_NOT_ENROLLED", ["input", "code"])]
    assert "enrollTotp" in payload["userErrors"][0]["message"]


async def test_a_wrong_code_does_not_confirm(ada: Person) -> None:
    # given
    authenticator = await enroll_totp(ada.gql)

    # when
    payload = await mutation(ada, "confirmTotp", CONFIRM_TOTP, {"code": authenticator.wrong_code()})

    # then
    assert errors(payload) == [("OTP_INVALID", ["input", "code"])]
    assert payload["user"] is None
    assert await totp_enabled(ada) is False


async def test_confirming_twice_is_refused(ada: Person) -> None:
    # given
    authenticator = await enable_totp(ada.gql)

    # when
    payload = await mutation(
        ada, "confirmTotp", CONFIRM_TOTP, {"code": await authenticator.next_code()}
    )

    # then
    assert errors(payload) == [("TOTP_ALREADY_ENABLED", None)]


async def test_disabling_takes_a_current_code_used_only_once(ada: Person) -> None:
    # given: the code that confirmed the authenticator
    authenticator = await enable_totp(ada.gql)
    confirming_code = authenticator.last_code

    # when
    wrong = await mutation(ada, "disableTotp", DISABLE_TOTP, {"code": authenticator.wrong_code()})
    replayed = await mutation(ada, "disableTotp", DISABLE_TOTP, {"code": confirming_code})

    # then
    assert errors(wrong) == [("OTP_INVALID", ["input", "code"])]
    assert errors(replayed) == [("OTP_REUSED", ["input", "code"])]
    assert await totp_enabled(ada) is True

    # when
    disabled = await ada.gql.mutate(
        "disableTotp", DISABLE_TOTP, {"code": await authenticator.next_code()}
    )

    # then
    assert disabled["user"] == {"id": ada.id, "totpEnabled": False}
    assert await totp_enabled(ada) is False
    assert await TotpAuthenticator.filter(user_id=pk_of(ada.id, "User")).count() == 0


async def test_disabling_without_an_enabled_authenticator_is_refused(ada: Person) -> None:
    # given: enrolled but never confirmed
    authenticator = await enroll_totp(ada.gql)

    # when
    payload = await mutation(
        ada, "disableTotp", DISABLE_TOTP, {"code": await authenticator.next_code()}
    )

    # then
    assert errors(payload) == [("TOTP_NOT_ENROLLED", ["input", "code"])]


MALFORMED = {
    "five digits": "12345",
    "seven digits": "1234567",
    "letters": "abcdef",
    "arabic-indic digits": "١٢٣٤٥٦",
    "fullwidth digits": "１２３４５６",
    "superscript digits": "¹²³⁴⁵⁶",
    "minus sign": "-12345",
    "nul": "12345\x00",
    "blank": "      ",
    "empty": "",
    "oversized": "1" * 100_000,
}


@pytest.mark.parametrize("code", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("operation", ["confirmTotp", "disableTotp"])
async def test_malformed_codes_are_refused_and_change_nothing(
    ada: Person, operation: str, code: str
) -> None:
    # given: an authenticator pending confirmation, or enabled
    if operation == "confirmTotp":
        await enroll_totp(ada.gql)
    else:
        await enable_totp(ada.gql)
    before = await events(ada)

    # when
    query = CONFIRM_TOTP if operation == "confirmTotp" else DISABLE_TOTP
    payload = await mutation(ada, operation, query, {"code": code})

    # then: a clear error that does not echo the input; not counted as a guess
    assert errors(payload) == [("INVALID", ["input", "code"])]
    assert payload["userErrors"][0]["message"] == (
        "Enter the 6-digit code your authenticator app shows."
    )
    assert await totp_enabled(ada) is (operation == "disableTotp")
    assert await events(ada) == before


async def test_whether_totp_is_enabled_is_shown_to_the_user_alone(gql: GraphQL) -> None:
    # given: two members of one organization, one with TOTP
    owner = await sign_up(gql, "owner")
    member = await sign_up(gql, "member")
    organization_id = await create_organization(owner)
    await add_member(owner, organization_id, member, "MEMBER")
    await enable_totp(member.gql)

    # when
    seen_by_owner = (await owner.gql(USER, {"id": member.id}))["node"]
    seen_by_self = (await member.gql(USER, {"id": member.id}))["node"]
    members = (await owner.gql(MEMBERS, {"id": organization_id}))["organization"]["members"]

    # then
    assert seen_by_owner == {"email": member.email, "totpEnabled": None}
    assert seen_by_self == {"email": member.email, "totpEnabled": True}
    assert {
        (edge["node"]["user"]["email"], edge["node"]["user"]["totpEnabled"])
        for edge in members["edges"]
    } == {(owner.email, False), (member.email, None)}


async def test_anonymous_callers_must_authenticate(gql: GraphQL) -> None:
    # when
    bodies = [
        await gql.result(ENROLL_TOTP, {"input": {"password": PASSWORD}}),
        await gql.result(CONFIRM_TOTP, {"input": {"code": "123456"}}),
        await gql.result(DISABLE_TOTP, {"input": {"code": "123456"}}),
    ]

    # then
    assert [error_codes(body) for body in bodies] == [["UNAUTHENTICATED"]] * 3


async def test_changes_and_failed_codes_are_account_events_not_organization_ones(
    ada: Person,
) -> None:
    # given
    organization_id = await create_organization(ada)
    log_before = (await ada.gql(AUDIT_LOG, {"id": organization_id}))["organization"]

    # when
    await mutation(ada, "enrollTotp", ENROLL_TOTP, {"password": "wrong password!"})
    authenticator = await enable_totp(ada.gql)
    await mutation(ada, "disableTotp", DISABLE_TOTP, {"code": authenticator.wrong_code()})
    await mutation(ada, "disableTotp", DISABLE_TOTP, {"code": authenticator.last_code})
    await ada.gql.mutate("disableTotp", DISABLE_TOTP, {"code": await authenticator.next_code()})

    # then
    assert await events(ada) == [
        ("STEP_UP_FAILED", {"operation": "enrollTotp", "reason": "INVALID_CREDENTIALS"}),
        ("TOTP_ENABLED", {}),
        ("STEP_UP_FAILED", {"operation": "disableTotp", "reason": "OTP_INVALID"}),
        ("STEP_UP_FAILED", {"operation": "disableTotp", "reason": "OTP_REUSED"}),
        ("TOTP_DISABLED", {}),
    ]
    rows = await AccountEvent.filter(user_id=pk_of(ada.id, "User"))
    assert {(row.ip_address, row.user_agent) for row in rows} == {(CLIENT_IP, USER_AGENT)}
    assert (await ada.gql(AUDIT_LOG, {"id": organization_id}))["organization"] == log_before


async def test_too_many_failed_codes_refuse_even_a_right_one_for_a_while(ada: Person) -> None:
    # given: ten wrong guesses
    authenticator = await enable_totp(ada.gql)
    for _ in range(10):
        payload = await mutation(
            ada, "disableTotp", DISABLE_TOTP, {"code": authenticator.wrong_code()}
        )
        assert errors(payload) == [("OTP_INVALID", ["input", "code"])]

    # when
    payload = await mutation(
        ada, "disableTotp", DISABLE_TOTP, {"code": await authenticator.next_code()}
    )

    # then
    assert errors(payload) == [("TOO_MANY_ATTEMPTS", ["input", "code"])]
    assert await totp_enabled(ada) is True


async def test_the_secret_is_stored_encrypted_and_never_logged(ada: Person, log_file: Path) -> None:
    # given
    authenticator = await enable_totp(ada.gql)
    await mutation(ada, "disableTotp", DISABLE_TOTP, {"code": authenticator.wrong_code()})

    # when
    [stored] = await TotpAuthenticator.filter(user_id=pk_of(ada.id, "User"))
    rows = await AccountEvent.filter(user_id=pk_of(ada.id, "User")).values()

    # then
    assert authenticator.secret.encode() not in stored.secret_ciphertext
    assert authenticator.secret not in str(rows)
    assert authenticator.secret not in logged(log_file)


def test_a_stored_secret_opens_only_for_its_user_and_master_secret() -> None:
    # given
    cipher = TotpCipher.derive(SECRET_A)
    secret = pyotp.random_base32()
    blob = cipher.encrypt(secret, user_id=7)

    # then
    assert TotpCipher.derive(SECRET_A).decrypt(blob, user_id=7) == secret
    with pytest.raises(TotpDecryptionError):
        cipher.decrypt(blob, user_id=8)
    with pytest.raises(TotpDecryptionError):
        TotpCipher.derive(SECRET_A + "!").decrypt(blob, user_id=7)
    with pytest.raises(TotpDecryptionError):
        cipher.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]), user_id=7)
    assert repr(cipher) == "TotpCipher(<redacted>)"
