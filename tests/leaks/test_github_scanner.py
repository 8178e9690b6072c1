"""GitHub's secret scanning reports leaked keys to POST /v1/leaks/github, signed.

The scanner is played by `Scanner`, with its own ECDSA P-256 pair: its public key is
configured in KEYRACK_LEAK_SCANNER_KEYS as GitHub publishes its keys. Mail goes to a real
SMTP server on loopback, webhooks to a real HTTP receiver.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.errors import ConfigurationError
from app.keysets.keys import generate_key
from app.leaks import mail
from app.main import create_app
from app.settings import Settings
from tests.conftest import Configured
from tests.leaks.scanner import LEAKS_PATH, Scanner, payload, token_hash
from tests.support import (
    REGENERATE_KEY,
    UPDATE_KEY_SET,
    GraphQL,
    Person,
    World,
    build_world,
    create_key_set,
    create_organization,
    create_verifier,
    sign_up,
    snapshot_tables,
    verify_code,
)
from tests.support.smtpbox import Inbox, smtp_server
from tests.webhooks.receiver import Receiver, create_webhook, worker_for

KEY_SET = """
query($id: ID!) {
  keySet(id: $id) {
    status
    exposure { slot hint channel url source action exposedAt reportedBy { email } }
  }
}
"""
AUDIT_LOG = """
query($id: ID!) {
  organization(id: $id) { auditLog(first: 50) { edges { node { action details } } } }
}
"""
AUDIT_INTEGRITY = """
query($id: ID!) { organization(id: $id) { auditIntegrity { valid } } }
"""
UPDATE_KEY_POLICY = """
mutation($input: UpdateKeyPolicyInput!) {
  updateKeyPolicy(input: $input) { keyPolicy { onLeak } userErrors { code field } }
}
"""


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def scanner() -> Scanner:
    return Scanner()


async def scanned_app(
    configured: Configured, scanner: Scanner, **settings: Any
) -> httpx.AsyncClient:
    """The app, with the scanner's public key configured (and `settings`)."""
    return (await configured(leak_scanner_keys=scanner.setting(), **settings)).http


async def actions(person: Person, organization_id: str) -> list[str]:
    data = await person.gql(AUDIT_LOG, {"id": organization_id})
    return [edge["node"]["action"] for edge in data["organization"]["auditLog"]["edges"]]


async def key_set_of(person: Person, key_set_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await person.gql(KEY_SET, {"id": key_set_id}))["keySet"]
    return found


async def set_on_leak(world: World, value: str) -> None:
    await world.owner.gql.mutate(
        "updateKeyPolicy",
        UPDATE_KEY_POLICY,
        {"organizationId": world.organization_id, "onLeak": value},
    )


async def test_a_signed_report_disables_the_key_set_and_tells_its_admins(
    gql: GraphQL,
    app: Starlette,
    configured: Configured,
    scanner: Scanner,
    smtp: tuple[Inbox, int],
    receiver: Receiver,
    verifier_http: httpx.AsyncClient,
) -> None:
    # given: a key set, a webhook for KEY_EXPOSED, mail configured, the default policy
    inbox, port = smtp
    scanned = await scanned_app(configured, scanner, smtp_host="127.0.0.1", smtp_port=port)
    world = await build_world(gql)
    await create_webhook(world.owner, world.organization_id, receiver.url, ["KEY_EXPOSED"])
    created = await create_key_set(
        world.owner, organizationId=world.organization_id, label="ci-deploy"
    )
    leaked, stranger = created["primaryKey"], generate_key("ORGANIZATION")

    # when: GitHub finds the real key and a well-formed key of nobody's
    response = await scanner.report(scanned, leaked, stranger)

    # then: GitHub hears which is ours, by hash only
    assert response.status_code == 200, response.text
    assert response.json() == [
        {
            "token_hash": token_hash(leaked),
            "token_type": "keyrack_api_key",
            "label": "true_positive",
        },
        {
            "token_hash": token_hash(stranger),
            "token_type": "keyrack_api_key",
            "label": "false_positive",
        },
    ]
    assert leaked not in response.text
    # the key set is disabled (onLeak defaults to DISABLE) and says where the key was found
    assert await verify_code(verifier_http, leaked) == "DISABLED"
    assert await verify_code(verifier_http, created["secondaryKey"]) == "DISABLED"
    key_set = await key_set_of(world.member, created["keySet"]["id"])
    exposure = key_set.pop("exposure")
    assert key_set == {"status": "DISABLED"}
    assert exposure.pop("exposedAt")
    assert exposure == {
        "slot": "PRIMARY",
        "hint": leaked[:8] + "…" + leaked[-4:],
        "channel": "GITHUB",
        "url": "https://github.com/octocat/hello/blob/abc123/config.env",
        "source": "content",
        "action": "DISABLE",
        "reportedBy": None,
    }
    # audited: the exposure, then the action it set off
    logged = await actions(world.owner, world.organization_id)
    assert logged[:2] == ["KEY_SET_DISABLED", "KEY_EXPOSED"]
    # the webhook is told
    await worker_for(app, webhook_timeout_seconds=5).run_once()
    assert receiver.events() == ["KEY_EXPOSED"]
    told = receiver.received[0].json
    assert (told["keySet"]["id"], told["exposure"]["action"]) == (
        created["keySet"]["id"],
        "DISABLE",
    )
    assert told["exposure"] == {
        "slot": "PRIMARY",
        "channel": "GITHUB",
        "url": "https://github.com/octocat/hello/blob/abc123/config.env",
        "source": "content",
        "reportedBy": None,
        "action": "DISABLE",
    }
    assert leaked[4:12] not in receiver.received[0].body.decode()
    # the organization's owners and admins are mailed, without the key
    await inbox.wait_for(2)
    assert inbox.to("ci-deploy") == sorted([world.owner.email, world.admin.email])
    assert all(leaked not in message.as_string() for message in inbox.messages)
    assert "config.env" in inbox.messages[0].get_content()

    # when: GitHub reports the same key again
    again = await scanner.report(scanned, leaked)

    # then: the same answer, and nothing happens twice
    assert again.json()[0]["label"] == "true_positive"
    assert await actions(world.owner, world.organization_id) == logged
    await mail.settled()
    assert len(inbox.messages) == 2


async def test_the_on_leak_policy_decides_and_a_leaked_verifier_is_revoked(
    gql: GraphQL,
    configured: Configured,
    scanner: Scanner,
    verifier_http: httpx.AsyncClient,
) -> None:
    # given: REVOKE, then NOTIFY, as the organization's onLeak policy
    scanned = await scanned_app(configured, scanner)
    world = await build_world(gql)
    refused = await world.system_admin.gql(
        UPDATE_KEY_POLICY, {"input": {"systemId": world.system_id, "onLeak": "NOTIFY"}}
    )
    assert refused["updateKeyPolicy"]["userErrors"] == [
        {"code": "INVALID", "field": ["input", "onLeak"]}
    ]
    revoked = await create_key_set(world.owner, systemId=world.system_id, label="to-revoke")
    notified = await create_key_set(world.owner, systemId=world.system_id, label="to-notify")
    verifier = await create_verifier(world.owner, organizationId=world.organization_id)

    # when: under REVOKE, a key (of a system's key set) is reported
    await set_on_leak(world, "REVOKE")
    first = await scanner.report(scanned, revoked["secondaryKey"])

    # then: the key set is revoked, and a second report is still known as ours
    assert first.json()[0]["label"] == "true_positive"
    assert await verify_code(verifier_http, revoked["primaryKey"]) == "NOT_FOUND"
    state = await key_set_of(world.owner, revoked["keySet"]["id"])
    assert (state["status"], state["exposure"]["action"]) == ("REVOKED", "REVOKE")
    again = await scanner.report(scanned, revoked["secondaryKey"])
    assert again.json()[0]["label"] == "true_positive"

    # when: under NOTIFY
    await set_on_leak(world, "NOTIFY")
    await scanner.report(scanned, notified["primaryKey"])

    # then: it is marked and audited, and keeps working
    assert await verify_code(verifier_http, notified["primaryKey"]) == "VALID"
    state = await key_set_of(world.owner, notified["keySet"]["id"])
    assert (state["status"], state["exposure"]["action"]) == ("ACTIVE", "NOTIFY")
    assert (await actions(world.owner, world.organization_id))[0] == "KEY_EXPOSED"

    # when: a verifier token is found in public
    leaked_verifier = await scanner.report(scanned, verifier)

    # then: it is revoked, whatever onLeak says: it stops authenticating at once
    assert leaked_verifier.json()[0]["label"] == "true_positive"
    check = await verifier_http.post(
        "/v1/keys/verify",
        json={"key": notified["primaryKey"]},
        headers={"authorization": f"Bearer {verifier}"},
    )
    assert check.status_code == 401
    assert (await actions(world.owner, world.organization_id))[0] == "VERIFIER_REVOKED"
    # and the audit chain, written to by the server on its own, still verifies
    integrity = await world.owner.gql(AUDIT_INTEGRITY, {"id": world.organization_id})
    assert integrity["organization"]["auditIntegrity"] == {"valid": True}


async def test_a_report_that_is_not_signed_by_a_configured_key_changes_nothing(
    gql: GraphQL,
    http: httpx.AsyncClient,
    configured: Configured,
    scanner: Scanner,
    verifier_http: httpx.AsyncClient,
) -> None:
    # given
    scanned = await scanned_app(configured, scanner)
    world = await build_world(gql)
    created = await create_key_set(world.owner, organizationId=world.organization_id, label="x")
    key = created["primaryKey"]
    body = payload(key)
    impostor = Scanner()
    impostor.identifier = scanner.identifier  # claims GitHub's key, signs with its own
    before = await snapshot_tables()

    # when
    attempts = {
        "unsigned": await scanned.post(LEAKS_PATH, content=body),
        "another key": await scanned.post(LEAKS_PATH, content=body, headers=impostor.headers(body)),
        "unknown identifier": await scanned.post(
            LEAKS_PATH,
            content=body,
            headers={**scanner.headers(body), "github-public-key-identifier": "nope"},
        ),
        "another body": await scanned.post(
            LEAKS_PATH, content=payload(key, key), headers=scanner.headers(body)
        ),
        "garbage signature": await scanned.post(
            LEAKS_PATH,
            content=body,
            headers={**scanner.headers(body), "github-public-key-signature": "%%%"},
        ),
    }

    # then: 401 each time, and not a row changed
    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 401)
    assert all(key not in r.text for r in attempts.values())
    assert await snapshot_tables() == before
    assert await verify_code(verifier_http, key) == "VALID"

    # when: signed, but not GitHub's shape; too big; and no keys configured at all
    malformed = [b"{}", b"not json", b'[{"type": "x"}]', b'[{"token": 5}]']
    answers = [
        await scanned.post(LEAKS_PATH, content=m, headers=scanner.headers(m)) for m in malformed
    ]
    huge = json.dumps([{"token": "x" * 1000, "type": "t"}] * 600).encode()
    too_big = await scanned.post(LEAKS_PATH, content=huge, headers=scanner.headers(huge))
    unconfigured = await http.post(LEAKS_PATH, content=body, headers=scanner.headers(body))

    # then
    assert [a.status_code for a in answers] == [400] * len(malformed)
    assert too_big.status_code == 413
    assert unconfigured.status_code == 404
    assert await snapshot_tables() == before


async def test_an_address_posting_unsigned_reports_is_told_to_wait_and_the_scanner_is_not(
    gql: GraphQL, configured: Configured, scanner: Scanner
) -> None:
    # given: two unsigned posts allowed per address and minute
    scanned = await scanned_app(configured, scanner, leak_address_rate_limit=2)
    stranger = generate_key("SYSTEM")

    # when: the scanner reports three times, then someone at the same address (a shared
    # NAT, a proxy) posts junk, then the scanner reports again
    signed = [(await scanner.report(scanned, stranger)).status_code for _ in range(3)]
    junk = [
        (await scanned.post(LEAKS_PATH, content=payload(stranger))).status_code for _ in range(3)
    ]
    refused = await scanned.post(LEAKS_PATH, content=payload(stranger))
    after_junk = await scanner.report(scanned, stranger)

    # then: only failed posts count; a signed report always gets through
    assert signed == [200, 200, 200]
    assert junk == [401, 401, 429]
    assert int(refused.headers["retry-after"]) >= 1
    assert after_junk.status_code == 200


async def test_scanner_keys_are_read_in_either_format_inline_or_from_a_file(
    gql: GraphQL, configured: Configured, settings: Settings, scanner: Scanner, tmp_path: Path
) -> None:
    # given: GitHub's document in a file, and the plain {identifier: PEM} form inline
    document = tmp_path / "github-keys.json"
    document.write_text(scanner.setting(), encoding="utf-8")
    plain = json.dumps({scanner.identifier: scanner.public_pem})
    stranger = generate_key("ORGANIZATION")

    # when
    answers = [
        await scanner.report((await configured(leak_scanner_keys=value)).http, stranger)
        for value in (str(document), plain)
    ]

    # then: both verify the scanner's signature
    assert [a.status_code for a in answers] == [200, 200]
    # and a setting that cannot be read stops the server from starting, naming no key
    for broken in ("{not json", str(tmp_path / "missing.json"), '{"id": "not a PEM key"}'):
        with pytest.raises(ConfigurationError) as refused:
            create_app(settings.model_copy(update={"leak_scanner_keys": broken}))
        assert "KEYRACK_LEAK_SCANNER_KEYS" in str(refused.value)


@pytest.mark.postgres_only
async def test_reports_of_one_key_arriving_at_once_act_once(
    gql: GraphQL, configured: Configured, scanner: Scanner
) -> None:
    # given
    scanned = await scanned_app(configured, scanner)
    owner = await sign_up(gql, "owner")
    organization_id = await create_organization(owner)
    created = await create_key_set(owner, organizationId=organization_id, label="raced")
    key = created["primaryKey"]

    # when: GitHub and its retries post the same key four times at once
    answers = await asyncio.gather(*(scanner.report(scanned, key) for _ in range(4)))

    # then: each is told it is ours; the key set was exposed and disabled once
    assert [a.json()[0]["label"] for a in answers] == ["true_positive"] * 4
    logged = await actions(owner, organization_id)
    assert logged.count("KEY_EXPOSED") == 1
    assert logged.count("KEY_SET_DISABLED") == 1


async def test_a_set_disabled_for_a_leak_is_enabled_again_only_once_the_key_is_replaced(
    gql: GraphQL, configured: Configured, scanner: Scanner, verifier_http: httpx.AsyncClient
) -> None:
    # given: a key set disabled by the default onLeak policy for its leaked primary key
    scanned = await scanned_app(configured, scanner)
    world = await build_world(gql)
    created = await create_key_set(world.owner, organizationId=world.organization_id, label="ci")
    leaked, key_set_id = created["primaryKey"], created["keySet"]["id"]
    assert (await scanner.report(scanned, leaked)).status_code == 200
    enable = {"keySetId": key_set_id, "enabled": True}

    # when: an admin enables it again straight away, then replaces the key and enables it
    refused = await world.owner.gql(UPDATE_KEY_SET, {"input": enable})
    still = await verify_code(verifier_http, leaked)
    rotated = await world.owner.gql.mutate(
        "regenerateKey",
        REGENERATE_KEY,
        {"keySetId": key_set_id, "slot": "PRIMARY", "confirmLabel": "ci"},
    )
    enabled = await world.owner.gql(UPDATE_KEY_SET, {"input": enable})

    # then: the leaked key was never put back to work; its replacement is
    [error] = refused["updateKeySet"]["userErrors"]
    assert (error["code"], error["field"]) == ("KEY_EXPOSED", ["input", "enabled"])
    assert still == "DISABLED"
    assert enabled["updateKeySet"]["userErrors"] == []
    assert await verify_code(verifier_http, leaked) == "NOT_FOUND"
    assert await verify_code(verifier_http, rotated["key"]) == "VALID"
