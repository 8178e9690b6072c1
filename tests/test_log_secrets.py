"""A real `keyrack serve`, logging at INFO with the access log on, writes no secret it saw.

The run uses every kind of secret Keyrack handles (a password, session tokens, a TOTP
secret, API keys, a webhook's signing secret and a token in its URL) and also tries the
mistakes a client makes: a key and a password sent in a GET URL.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pyotp
import pytest

from tests.support import CREATE_VERIFIER, KEY_PATTERN, PASSWORD, bearer
from tests.support.processes import serving
from tests.support.served import call
from tests.webhooks.receiver import Receiver

SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token } }"
LOGIN = "mutation($i: LoginInput!) { login(input: $i) { token } }"
ENROLL_TOTP = "mutation($i: EnrollTotpInput!) { enrollTotp(input: $i) { secret } }"
CONFIRM_TOTP = "mutation($i: ConfirmTotpInput!) { confirmTotp(input: $i) { userErrors { code } } }"
CREATE_ORGANIZATION = (
    'mutation { createOrganization(input: {name: "Acme"}) { organization { id } } }'
)
CREATE_WEBHOOK = """
mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { signingSecret } }
"""
CREATE_KEY_SET = """
mutation($i: CreateKeySetInput!) { createKeySet(input: $i) { primaryKey secondaryKey } }
"""
VERIFY_KEY = "query($key: String!) { verifyKey(key: $key) { valid } }"


def forms(secret: str) -> set[str]:
    """A secret as it may appear in a log line: as is, or encoded for a URL."""
    return {secret, quote(secret, safe=""), quote_plus(secret)}


@pytest.mark.real_timer
def test_a_served_run_logs_none_of_the_secrets_it_handled(
    tmp_path: Path, database: dict[str, str]
) -> None:
    # given: a server logging at INFO, with one line per request
    env = {
        **database,
        "KEYRACK_LOG_LEVEL": "INFO",
        "KEYRACK_ACCESS_LOG": "true",
        "KEYRACK_WEBHOOK_INTERVAL_SECONDS": "0.2",
        "KEYRACK_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    }
    url_token = secrets.token_urlsafe(24)
    used = [PASSWORD, url_token]
    with (
        Receiver() as receiver,
        serving(tmp_path, env) as served,
        httpx.Client(base_url=served.base) as http,
    ):
        # when: an admin signs up, logs in, enrols an authenticator, registers a webhook
        # and creates keys; a service verifies one; a client sends secrets over GET
        email = "ada@example.com"
        signed_up = call(http, SIGN_UP, i={"email": email, "password": PASSWORD, "name": "Ada"})
        token = call(http, LOGIN, i={"email": email, "password": PASSWORD})["login"]["token"]
        totp_secret = call(http, ENROLL_TOTP, token, i={"password": PASSWORD})["enrollTotp"][
            "secret"
        ]
        confirmed = call(http, CONFIRM_TOTP, token, i={"code": pyotp.TOTP(totp_secret).now()})
        assert confirmed["confirmTotp"]["userErrors"] == []
        organization = call(http, CREATE_ORGANIZATION, token)["createOrganization"]
        organization_id = organization["organization"]["id"]
        signing_secret = call(
            http,
            CREATE_WEBHOOK,
            token,
            i={
                "organizationId": organization_id,
                "url": f"{receiver.url}?token={url_token}",
                "events": ["KEY_SET_CREATED"],
            },
        )["createWebhook"]["signingSecret"]
        keys = call(
            http, CREATE_KEY_SET, token, i={"organizationId": organization_id, "label": "ci"}
        )["createKeySet"]
        verifier = call(
            http, CREATE_VERIFIER, token, input={"organizationId": organization_id, "name": "ci"}
        )["createVerifier"]["token"]
        verified = http.post(
            "/v1/keys/verify", json={"key": keys["primaryKey"]}, headers=bearer(verifier)
        ).json()
        over_get = http.get(
            "/graphql",
            params={"query": VERIFY_KEY, "variables": json.dumps({"key": keys["secondaryKey"]})},
            headers={"authorization": f"Bearer {token}"},
        )
        login_over_get = http.get(
            "/graphql",
            params={
                "query": LOGIN,
                "variables": json.dumps({"i": {"email": email, "password": PASSWORD}}),
            },
        )
        deadline = time.monotonic() + 20
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.1)
        used += [
            signed_up["signUp"]["token"],
            token,
            totp_secret,
            signing_secret,
            keys["primaryKey"],
            keys["secondaryKey"],
        ]

    # then: everything happened, and the log shows none of it
    log = served.log()
    assert verified["valid"] is True
    assert [e["extensions"]["code"] for e in over_get.json()["errors"]] == ["POST_REQUIRED"]
    assert login_over_get.status_code in (400, 405)
    assert len(receiver.received) == 1
    assert "POST /graphql" in log  # the access log was on: the scan below means something
    assert "GET /graphql" in log
    leaked = [n for n, secret in enumerate(used) if any(form in log for form in forms(secret))]
    assert leaked == [], f"secrets number {leaked} of {len(used)} reached the log"
    assert not KEY_PATTERN.findall(log)
