"""`Verifier` and `AsyncVerifier` against a real `keyrack serve`."""

from __future__ import annotations

import logging

import pytest

from keyrack_client import (
    AsyncVerifier,
    BadRequest,
    KeyrackUnavailable,
    Verifier,
    VerifierRejected,
    VerifyResult,
)
from tests.clients.conftest import VERIFY_RATE_LIMIT, HangUp, Keyrack

# Retries quickly so that the tests of retries take milliseconds, not seconds.
FAST = 0.001


def test_a_valid_key_reads_as_a_typed_result(keyrack: Keyrack) -> None:
    # given
    key_set = keyrack.key_set("REGISTER_CATALOG_ITEMS")

    # when
    with Verifier(keyrack.url, keyrack.verifier_token) as verifier:
        result = verifier.verify(key_set.key, permission="REGISTER_CATALOG_ITEMS", ip="10.0.0.1")

    # then
    assert result.valid
    assert result.code == "VALID"
    assert result.key_set_id == key_set.id
    assert result.label == key_set.label
    assert result.organization_id == keyrack.organization_id
    assert result.system_id is None
    assert result.permissions == ("REGISTER_CATALOG_ITEMS",)
    assert result.slot == "PRIMARY"
    assert result.deprecated is False
    # The server does not send these yet (see the client's README).
    assert (result.external_id, result.meta, result.remaining) == (None, None, None)


def test_a_refused_key_is_a_result_not_an_exception(keyrack: Keyrack) -> None:
    # given
    key_set = keyrack.key_set("REGISTER_CATALOG_ITEMS")
    revoked = keyrack.key_set()
    keyrack.revoke(revoked)

    # when
    with Verifier(keyrack.url, keyrack.verifier_token) as verifier:
        lacking = verifier.verify(key_set.key, permission="ADD_SYSTEM")
        gone = verifier.verify(revoked.key)
        made_up = verifier.verify("not a key at all")

    # then
    assert (lacking.valid, lacking.code) == (False, "INSUFFICIENT_PERMISSION")
    assert (gone.valid, gone.code, gone.key_set_id) == (False, "NOT_FOUND", None)
    assert (made_up.valid, made_up.code) == (False, "NOT_FOUND")


def test_a_permission_query_and_a_cost_are_judged(keyrack: Keyrack) -> None:
    # given: a key without the permissions asked for, and no credits
    key_set = keyrack.key_set("REGISTER_CATALOG_ITEMS")

    # when / then: the query judged, naming what is missing; a cost on a key set without
    # credits spends nothing and leaves `remaining` unset
    with Verifier(keyrack.url, keyrack.verifier_token) as verifier:
        lacking = verifier.verify(key_set.key, permissions="ADD_SYSTEM OR DEPLOY_PACKAGES")
        assert (lacking.valid, lacking.code) == (False, "INSUFFICIENT_PERMISSION")
        held = verifier.verify(key_set.key, permissions="REGISTER_CATALOG_ITEMS", cost=1)
        # and without them it answers as before, reading what is not sent as None
        result = verifier.verify(key_set.key)
    assert (held.valid, held.code, held.remaining) == (True, "VALID", None)
    assert result.code == "VALID"
    assert result.remaining is None


def test_over_the_rate_limit_the_answer_is_a_result(keyrack: Keyrack) -> None:
    # given
    key_set = keyrack.key_set()

    # when
    with Verifier(keyrack.url, keyrack.verifier_token) as verifier:
        results = [verifier.verify(key_set.key) for _ in range(VERIFY_RATE_LIMIT + 1)]

    # then
    assert [r.code for r in results[:VERIFY_RATE_LIMIT]] == ["VALID"] * VERIFY_RATE_LIMIT
    limited = results[-1]
    assert (limited.valid, limited.code) == (False, "RATE_LIMITED")
    assert limited.retry_after is not None
    assert limited.retry_after > 0


def test_a_bad_verifier_token_raises_without_showing_it(keyrack: Keyrack) -> None:
    # given
    token = "krv_" + "A" * 49
    key_set = keyrack.key_set()

    # when
    with Verifier(keyrack.url, token) as verifier, pytest.raises(VerifierRejected) as raised:
        verifier.verify(key_set.key)

    # then
    assert "Unknown or revoked verifier token" in str(raised.value)
    for text in (str(raised.value), repr(raised.value), repr(verifier)):
        assert token not in text
        assert key_set.key not in text


def test_a_request_keyrack_refuses_raises_its_message(keyrack: Keyrack) -> None:
    with Verifier(keyrack.url, keyrack.verifier_token) as verifier:
        # when
        with pytest.raises(BadRequest) as unknown_permission:
            verifier.verify("kro_x", permission="FLY")
        with pytest.raises(BadRequest) as too_large:
            verifier.verify("k" * 70_000)

    # then
    assert str(unknown_permission.value).startswith('"permission" cannot name a permission:')
    assert unknown_permission.value.status == 400
    assert too_large.value.status == 413
    assert "k" * 100 not in str(too_large.value)


async def test_the_async_verifier_answers_the_same(keyrack: Keyrack) -> None:
    # given
    key_set = keyrack.key_set("ADD_SYSTEM")
    revoked = keyrack.key_set()
    keyrack.revoke(revoked)

    # when
    async with AsyncVerifier(keyrack.url, keyrack.verifier_token) as verifier:
        valid = await verifier.verify(key_set.key, permission="ADD_SYSTEM")
        gone = await verifier.verify(revoked.key)
        with pytest.raises(BadRequest):
            await verifier.verify("kro_x", permission="FLY")

    # then
    assert (valid.valid, valid.key_set_id, valid.label) == (True, key_set.id, key_set.label)
    assert (gone.valid, gone.code) == (False, "NOT_FOUND")


def test_a_refused_connection_is_retried_a_bounded_number_of_times(
    closed_port: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    key = "kro_" + "B" * 49
    caplog.set_level(logging.DEBUG)

    # when
    verifier = Verifier(closed_port, "krv_" + "C" * 49, retries=2, backoff=FAST)
    with verifier, pytest.raises(KeyrackUnavailable) as raised:
        verifier.verify(key, cost=1)  # never sent: safe to retry even with a cost

    # then: three tries, two logged retries, then the error
    retries = [r.getMessage() for r in caplog.records if r.name == "keyrack_client"]
    assert len(retries) == 2
    assert "ConnectError" in retries[0]
    assert "try 3 of 3" in retries[1]
    assert str(raised.value) == "Keyrack could not be reached: ConnectError"
    assert key not in caplog.text + str(raised.value) + repr(raised.value)
    assert "C" * 49 not in caplog.text


async def test_the_async_verifier_retries_a_refused_connection_too(closed_port: str) -> None:
    async with AsyncVerifier(closed_port, "krv_x", retries=1, backoff=FAST) as verifier:
        with pytest.raises(KeyrackUnavailable):
            await verifier.verify("kro_x")


def test_a_request_that_may_have_arrived_is_retried_only_without_a_cost(
    hang_up: HangUp,
) -> None:
    # given: a server that reads each request and hangs up without answering
    with Verifier(hang_up.url, "krv_x", retries=2, backoff=FAST) as verifier:
        # when: a plain verification (a read: asking again is harmless)
        with pytest.raises(KeyrackUnavailable):
            verifier.verify("kro_x")
        plain = hang_up.connections
        # when: one that spends credits (the first may have spent them)
        with pytest.raises(KeyrackUnavailable):
            verifier.verify("kro_x", cost=1)

    # then
    assert plain == 3
    assert hang_up.connections - plain == 1


def test_the_result_shows_no_key(keyrack: Keyrack) -> None:
    # given
    key_set = keyrack.key_set()

    # when
    with Verifier(keyrack.url, keyrack.verifier_token) as verifier:
        result = verifier.verify(key_set.key)

    # then
    assert isinstance(result, VerifyResult)
    assert key_set.key not in repr(result) + str(result)
    assert keyrack.verifier_token not in repr(verifier)
    with pytest.raises(AttributeError):
        result.valid = False  # type: ignore[misc]
