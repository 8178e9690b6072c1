"""Registering, listing and deleting webhooks through GraphQL, and who may."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import GraphQL, World, build_world, create_key_set, error_codes
from tests.webhooks.receiver import CREATE_WEBHOOK, create_webhook

HOOK = "https://hooks.example.com/keyrack?channel=ops"

WEBHOOKS = """
query($id: ID!) {
  organization(id: $id) {
    webhooks(first: 10) { edges { node { id url events enabled createdBy { email } } } }
  }
}
"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Webhook { url } } }"
DELETE_WEBHOOK = """
mutation($input: DeleteWebhookInput!) {
  deleteWebhook(input: $input) { deletedWebhookId userErrors { code field } }
}
"""
UPDATE_WEBHOOK = """
mutation($input: UpdateWebhookInput!) {
  updateWebhook(input: $input) { webhook { id url events enabled } userErrors { code field } }
}
"""
AUDIT_LOG = """
query($id: ID!) {
  organization(id: $id) { auditLog(first: 5) { edges { node { action details } } } }
}
"""


async def listed(caller: GraphQL, organization_id: str) -> list[dict[str, Any]]:
    data = await caller(WEBHOOKS, {"id": organization_id})
    return [edge["node"] for edge in data["organization"]["webhooks"]["edges"]]


async def try_create(world: World, url: str, events: list[str] | None = None) -> dict[str, Any]:
    data = await world.owner.gql(
        CREATE_WEBHOOK,
        {
            "input": {
                "organizationId": world.organization_id,
                "url": url,
                "events": ["KEY_SET_CREATED"] if events is None else events,
            }
        },
    )
    payload: dict[str, Any] = data["createWebhook"]
    return payload


async def test_an_admin_registers_a_webhook_and_gets_its_secret_once(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)

    # when
    created = await create_webhook(
        world.admin, world.organization_id, HOOK, ["KEY_SET_REVOKED", "KEY_SET_CREATED"]
    )

    # then: listed for owners and admins, with the secret nowhere but the payload
    assert created["signingSecret"].startswith("whsec_")
    assert len(created["signingSecret"]) > 40
    assert created["webhook"]["events"] == ["KEY_SET_CREATED", "KEY_SET_REVOKED"]
    hooks = await listed(world.owner.gql, world.organization_id)
    assert hooks == [
        {
            "id": created["webhook"]["id"],
            "url": HOOK,
            "events": ["KEY_SET_CREATED", "KEY_SET_REVOKED"],
            "enabled": True,
            "createdBy": {"email": world.admin.email},
        }
    ]
    audit = await world.owner.gql(AUDIT_LOG, {"id": world.organization_id})
    entry = audit["organization"]["auditLog"]["edges"][0]["node"]
    assert entry["action"] == "WEBHOOK_CREATED"
    assert entry["details"]["host"] == "hooks.example.com"
    assert created["signingSecret"] not in str(audit)
    assert "channel=ops" not in str(audit)
    # A second webhook gets a secret of its own.
    other = await create_webhook(world.admin, world.organization_id, HOOK)
    assert other["signingSecret"] != created["signingSecret"]


async def test_members_are_refused_and_outsiders_see_nothing(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    created = await create_webhook(world.owner, world.organization_id, HOOK)
    hook_id = created["webhook"]["id"]
    input = {"organizationId": world.organization_id, "url": HOOK, "events": ["KEY_SET_CREATED"]}

    # when
    member_list = await world.member.gql.result(WEBHOOKS, {"id": world.organization_id})
    member_create = await world.member.gql.result(CREATE_WEBHOOK, {"input": input})
    outsider_create = await world.outsider.gql(CREATE_WEBHOOK, {"input": input})
    outsider_delete = await world.outsider.gql(DELETE_WEBHOOK, {"input": {"webhookId": hook_id}})
    member_node = await world.member.gql(NODE, {"id": hook_id})
    outsider_node = await world.outsider.gql(NODE, {"id": hook_id})

    # then
    assert error_codes(member_list) == ["FORBIDDEN"]
    assert error_codes(member_create) == ["FORBIDDEN"]
    assert outsider_create["createWebhook"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert outsider_delete["deleteWebhook"]["userErrors"] == [
        {"code": "NOT_FOUND", "field": ["input", "webhookId"]}
    ]
    assert member_node == {"node": None}
    assert outsider_node == {"node": None}
    assert [h["id"] for h in await listed(world.owner.gql, world.organization_id)] == [hook_id]


async def test_only_those_who_may_register_learn_how_a_url_is_judged(gql: GraphQL) -> None:
    # given: a URL refused on its own merits, which judging would reveal (INVALID)
    world = await build_world(gql)
    hook_id = (await create_webhook(world.owner, world.organization_id, HOOK))["webhook"]["id"]
    bad = "ftp://hooks.example.com/x"
    input = {"organizationId": world.organization_id, "url": bad, "events": ["KEY_SET_CREATED"]}

    # when
    member_create = await world.member.gql.result(CREATE_WEBHOOK, {"input": input})
    outsider_create = await world.outsider.gql(CREATE_WEBHOOK, {"input": input})
    member_update = await world.member.gql.result(
        UPDATE_WEBHOOK, {"input": {"webhookId": hook_id, "url": bad}}
    )
    outsider_update = await world.outsider.gql(
        UPDATE_WEBHOOK, {"input": {"webhookId": hook_id, "url": bad}}
    )

    # then: refused for who they are, before the URL is looked at
    assert error_codes(member_create) == ["FORBIDDEN"]
    assert outsider_create["createWebhook"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert error_codes(member_update) == ["FORBIDDEN"]
    assert outsider_update["updateWebhook"]["userErrors"][0]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/x", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("hooks.example.com/x", "no scheme"),
        ("https:///path-only", "no host"),
        ("https://user:pass@hooks.example.com/x", "credentials"),
        ("https://token@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com:99999/x", "port"),
        ("https://hooks.example.com/" + "a" * 2048, "too long"),
        ("https://hooks.example.com/a b", "space"),
        ("http://keyrack.test/graphql", "the server itself"),
        ("http://KEYRACK.test:80/hook", "the server itself"),
        ("https://☃.net/hook", "a host that is no valid IDNA name"),
        ("http://[::1/hook", "an unclosed IPv6 bracket"),
        ("http://[zz]/hook", "an IPv6 literal that is none"),
        ("", "blank"),
    ],
)
async def test_bad_urls_are_refused_and_nothing_is_created(
    gql: GraphQL, url: str, why: str
) -> None:
    # given
    world = await build_world(gql)

    # when
    payload = await try_create(world, url)

    # then
    assert payload["webhook"] is None, why
    assert payload["signingSecret"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID", ["input", "url"])
    ], why
    assert await listed(world.owner.gql, world.organization_id) == []


async def test_events_must_be_known_and_not_empty(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)

    # when
    empty = await try_create(world, HOOK, [])
    unknown = await world.owner.gql.result(
        CREATE_WEBHOOK,
        {
            "input": {
                "organizationId": world.organization_id,
                "url": HOOK,
                "events": ["KEY_SET_EATEN"],
            }
        },
    )

    # then
    assert [(e["code"], e["field"]) for e in empty["userErrors"]] == [
        ("INVALID", ["input", "events"])
    ]
    assert error_codes(unknown) == ["GRAPHQL_VALIDATION_FAILED"]
    assert await listed(world.owner.gql, world.organization_id) == []


async def test_deleting_a_webhook_removes_it_and_its_deliveries(gql: GraphQL) -> None:
    # given: a webhook with a queued delivery, and one in another organization
    world = await build_world(gql)
    created = await create_webhook(world.owner, world.organization_id, HOOK)
    await create_key_set(world.owner, organizationId=world.organization_id, label="x")
    hook_id = created["webhook"]["id"]
    other_organization = await world.outsider.gql(
        "{ organizations(first: 1) { edges { node { id } } } }"
    )
    other_id = other_organization["organizations"]["edges"][0]["node"]["id"]
    foreign = await create_webhook(world.outsider, other_id, HOOK)

    # when
    deleted = await world.admin.gql(DELETE_WEBHOOK, {"input": {"webhookId": hook_id}})
    cross = await world.owner.gql(
        DELETE_WEBHOOK, {"input": {"webhookId": foreign["webhook"]["id"]}}
    )
    again = await world.admin.gql(DELETE_WEBHOOK, {"input": {"webhookId": hook_id}})

    # then
    assert deleted["deleteWebhook"] == {"deletedWebhookId": hook_id, "userErrors": []}
    assert cross["deleteWebhook"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert again["deleteWebhook"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert await listed(world.owner.gql, world.organization_id) == []
    assert len(await listed(world.outsider.gql, other_id)) == 1
    audit = await world.owner.gql(AUDIT_LOG, {"id": world.organization_id})
    assert audit["organization"]["auditLog"]["edges"][0]["node"]["action"] == "WEBHOOK_DELETED"


async def test_an_admin_changes_a_webhooks_url_events_and_enabled(gql: GraphQL) -> None:
    # given
    world = await build_world(gql)
    created = await create_webhook(world.owner, world.organization_id, HOOK)
    hook_id = created["webhook"]["id"]

    # when
    changed = await world.admin.gql(
        UPDATE_WEBHOOK,
        {
            "input": {
                "webhookId": hook_id,
                "url": "https://other.example.com/in",
                "events": ["KEY_SET_EXPIRED"],
                "enabled": False,
            }
        },
    )
    bad = await world.admin.gql(
        UPDATE_WEBHOOK, {"input": {"webhookId": hook_id, "url": "http://keyrack.test/"}}
    )
    by_member = await world.member.gql.result(
        UPDATE_WEBHOOK, {"input": {"webhookId": hook_id, "enabled": True}}
    )

    # then
    assert changed["updateWebhook"] == {
        "webhook": {
            "id": hook_id,
            "url": "https://other.example.com/in",
            "events": ["KEY_SET_EXPIRED"],
            "enabled": False,
        },
        "userErrors": [],
    }
    assert bad["updateWebhook"]["userErrors"] == [{"code": "INVALID", "field": ["input", "url"]}]
    assert error_codes(by_member) == ["FORBIDDEN"]
    [hook] = await listed(world.owner.gql, world.organization_id)
    assert (hook["url"], hook["enabled"]) == ("https://other.example.com/in", False)
    audit = await world.owner.gql(AUDIT_LOG, {"id": world.organization_id})
    entry = audit["organization"]["auditLog"]["edges"][0]["node"]
    assert entry["action"] == "WEBHOOK_UPDATED"
    assert entry["details"]["host"] == {"old": "hooks.example.com", "new": "other.example.com"}
