"""The Node example (clients/node/verify.mjs) run with the machine's `node` against a real
`keyrack serve`. Without Node 20 the test skips with the reason, except in CI (`CI` set)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import Keyrack

SCRIPT = Path(__file__).parents[2] / "clients" / "node" / "verify.mjs"


@pytest.fixture(scope="module")
def node() -> str:
    """The `node` command; checked before a server is started for nothing."""
    found = shutil.which("node")
    version = ""
    if found:
        version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
        major = version.strip().lstrip("v").split(".")[0]
        if major.isdigit() and int(major) >= 20:
            return found
    reason = f"Node 20 or later is needed for the global fetch (found: {version.strip() or 'none'})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must have it")
    pytest.skip(reason)


def run(node: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, str(SCRIPT)],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_node_example_prints_keyrack_s_answer(node: str, keyrack: Keyrack) -> None:
    # given
    key_set = keyrack.key_set("ADD_SYSTEM")
    revoked = keyrack.key_set()
    keyrack.revoke(revoked)
    env = {"KEYRACK_URL": keyrack.url, "KEYRACK_VERIFIER": keyrack.verifier_token}

    # when
    valid = run(node, {**env, "KEYRACK_KEY": key_set.key, "KEYRACK_PERMISSION": "ADD_SYSTEM"})
    refused = run(node, {**env, "KEYRACK_KEY": revoked.key})
    rejected = run(node, {**env, "KEYRACK_VERIFIER": "krv_nope", "KEYRACK_KEY": key_set.key})

    # then
    assert valid.returncode == 0, valid.stderr
    answer = json.loads(valid.stdout)
    assert (answer["code"], answer["keySet"]["label"]) == ("VALID", key_set.label)
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["code"] == "NOT_FOUND"
    assert rejected.returncode == 2
    assert "HTTP 401" in rejected.stderr
    for result in (valid, refused, rejected):
        assert key_set.key not in result.stdout + result.stderr
        assert keyrack.verifier_token not in result.stdout + result.stderr
