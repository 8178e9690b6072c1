"""Signed audit checkpoints leave Keyrack on a schedule, to AUDIT_CHECKPOINT webhooks."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.audit.checkpoints import emit_round
from app.webhooks.worker import WebhookWorker
from tests.support import GraphQL, build_world, create_key_set
from tests.webhooks.receiver import Receiver, create_webhook


def signed(checkpoint: dict[str, object], public_key: str) -> bool:
    message = "\n".join(
        [
            "keyrack-audit-checkpoint/v1",
            str(checkpoint["organizationId"]),
            str(checkpoint["sequence"]),
            str(checkpoint["hash"]),
            str(checkpoint["issuedAt"]),
            str(checkpoint["keyId"]),
        ]
    ).encode()
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
    key.verify(base64.b64decode(str(checkpoint["signature"])), message)
    return True


async def test_a_round_sends_each_moved_head_once_signed(
    gql: GraphQL, receiver: Receiver, worker: WebhookWorker
) -> None:
    # given: a webhook that wants checkpoints, and one that does not
    world = await build_world(gql)
    hook = await create_webhook(
        world.owner, world.organization_id, receiver.url, events=["AUDIT_CHECKPOINT"]
    )
    await create_webhook(
        world.owner, world.organization_id, receiver.url + "other", events=["KEY_SET_CREATED"]
    )
    public_key = (await gql.http.get("/v1/audit/public-key")).json()["publicKey"]

    # when: a round, a round with nothing new, then a change and another round
    first = await emit_round()
    await worker.run_once()
    idle = await emit_round()
    await create_key_set(world.owner, organizationId=world.organization_id, label="ci")
    later = await emit_round()
    await worker.run_once()

    # then
    assert (first, idle, later) == (1, 0, 1)
    sent = [request for request in receiver.received if request.event == "AUDIT_CHECKPOINT"]
    checkpoints = [request.json["checkpoint"] for request in sent]
    assert len(checkpoints) == 2
    assert all(request.signed_with(hook["signingSecret"]) for request in sent)
    assert checkpoints[0]["organizationId"] == world.organization_id
    assert checkpoints[1]["sequence"] > checkpoints[0]["sequence"]
    assert all(signed(checkpoint, public_key) for checkpoint in checkpoints)
