"""Key sets that say whose they are: externalId and meta, through GraphQL and verification."""

from __future__ import annotations

from typing import Any

import httpx

from tests.audit import all_entries
from tests.support import (
    CREATE_KEY_SET,
    GraphQL,
    Person,
    codes_and_fields,
    counting_statements,
    create_key_set,
    create_organization,
    create_system,
    sign_up,
    verify,
)

UPDATE_KEY_SET = """
mutation Update($input: UpdateKeySetInput!) {
  updateKeySet(input: $input) {
    keySet { externalId meta } userErrors { code field message }
  }
}
"""
KEY_SETS_OF_CUSTOMER = """
query Customer($id: ID!, $externalId: String!) {
  node(id: $id) {
    ... on Organization {
      keySets(includeSystems: true, filter: {externalId: $externalId}) {
        edges { node { label externalId meta } }
      }
    }
    ... on System {
      keySets(filter: {externalId: $externalId}) { edges { node { label externalId } } }
    }
  }
}
"""
META = {"plan": "pro", "region": "eu", "seats": 12}


async def owner_and_organization(gql: GraphQL) -> tuple[Person, str]:
    owner = await sign_up(gql, "owner")
    return owner, await create_organization(owner)


async def test_verification_answers_whose_key_it_is_without_a_second_lookup(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    created = await create_key_set(
        owner, organizationId=organization_id, label="Customer 42", externalId="cus_42", meta=META
    )
    plain = await create_key_set(owner, organizationId=organization_id, label="Internal")
    await verify(verifier_http, created["primaryKey"])  # fills the verification cache

    # when
    with counting_statements() as statements:
        answer = await verify(verifier_http, created["primaryKey"])
    unset = await verify(verifier_http, plain["primaryKey"])

    # then
    assert (answer["code"], answer["externalId"], answer["meta"]) == ("VALID", "cus_42", META)
    assert statements.statements == []
    assert (unset["externalId"], unset["meta"]) == (None, None)


async def test_key_sets_of_one_customer_are_found_by_external_id(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    system_id = await create_system(owner, organization_id)
    await create_key_set(owner, organizationId=organization_id, label="A", externalId="cus_42")
    await create_key_set(owner, organizationId=organization_id, label="B", externalId="cus_7")
    await create_key_set(owner, systemId=system_id, label="C", externalId="cus_42")
    await create_key_set(owner, systemId=system_id, label="D")

    # when
    in_organization = await owner.gql(
        KEY_SETS_OF_CUSTOMER, {"id": organization_id, "externalId": "cus_42"}
    )
    in_system = await owner.gql(KEY_SETS_OF_CUSTOMER, {"id": system_id, "externalId": "cus_42"})
    nobody = await owner.gql(KEY_SETS_OF_CUSTOMER, {"id": system_id, "externalId": "cus_1"})

    # then
    labels = [e["node"]["label"] for e in in_organization["node"]["keySets"]["edges"]]
    assert labels == ["A", "C"]
    assert [e["node"]["label"] for e in in_system["node"]["keySets"]["edges"]] == ["C"]
    assert nobody["node"]["keySets"]["edges"] == []


async def test_changing_owner_fields_is_audited_without_the_meta_values(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    created = await create_key_set(
        owner, organizationId=organization_id, label="Customer", externalId="cus_42", meta=META
    )
    await verify(verifier_http, created["primaryKey"])  # cached with the old values

    # when
    payload = await owner.gql.mutate(
        "updateKeySet",
        UPDATE_KEY_SET,
        {
            "keySetId": created["keySet"]["id"],
            "externalId": "cus_43",
            "meta": {"plan": "enterprise", "email": "ada@example.com"},
        },
    )

    # then
    assert payload["keySet"] == {
        "externalId": "cus_43",
        "meta": {"plan": "enterprise", "email": "ada@example.com"},
    }
    answer = await verify(verifier_http, created["primaryKey"])
    assert (answer["externalId"], answer["meta"]["plan"]) == ("cus_43", "enterprise")
    entry = (await all_entries(owner, organization_id))[0]
    assert entry["action"] == "KEY_SET_UPDATED"
    assert entry["details"] == {
        "externalId": {"old": "cus_42", "new": "cus_43"},
        "meta": {"changed": True},
    }
    assert "ada@example.com" not in str(await all_entries(owner, organization_id))


async def test_clearing_owner_fields_with_null(
    gql: GraphQL, verifier_http: httpx.AsyncClient
) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    created = await create_key_set(
        owner, organizationId=organization_id, label="Customer", externalId="cus_42", meta=META
    )

    # when
    payload = await owner.gql.mutate(
        "updateKeySet",
        UPDATE_KEY_SET,
        {"keySetId": created["keySet"]["id"], "externalId": None, "meta": None},
    )

    # then
    assert payload["keySet"] == {"externalId": None, "meta": None}
    answer = await verify(verifier_http, created["primaryKey"])
    assert (answer["externalId"], answer["meta"]) == (None, None)


async def test_bad_owner_fields_are_refused_and_change_nothing(gql: GraphQL) -> None:
    # given
    owner, organization_id = await owner_and_organization(gql)
    created = await create_key_set(
        owner, organizationId=organization_id, label="Customer", externalId="cus_42"
    )
    bad: list[dict[str, Any]] = [
        {"externalId": "x" * 256},
        {"meta": ["not", "an", "object"]},
        {"meta": "text"},
        {"meta": {"blob": "x" * 4096}},
        {"externalId": "cus\x00"},
        # What no database stores, and what the verify answer's encoding could mistake
        # for its place of `remaining`, in a value, a key or deep down.
        {"meta": {"note": "\x00remaining\x00"}},
        {"meta": {"\x00remaining\x00": "x"}},
        {"meta": {"deep": [[{"a": "\x00"}]]}},
        # A key pasted by mistake: externalId goes to the audit log, meta to every verifier.
        {"externalId": f"cus_42 {created['primaryKey']}"},
        {"meta": {"note": created["primaryKey"]}},
    ]

    for fields in bad:
        # when
        update = (
            await owner.gql(
                UPDATE_KEY_SET, {"input": {"keySetId": created["keySet"]["id"], **fields}}
            )
        )["updateKeySet"]
        create = (
            await owner.gql(
                CREATE_KEY_SET,
                {"input": {"organizationId": organization_id, "label": "New", **fields}},
            )
        )["createKeySet"]

        # then
        field = next(iter(fields))
        assert codes_and_fields(update) == [("INVALID", ["input", field])], fields
        assert codes_and_fields(create) == [("INVALID", ["input", field])], fields
    found = await owner.gql(KEY_SETS_OF_CUSTOMER, {"id": organization_id, "externalId": "cus_42"})
    assert [e["node"]["label"] for e in found["node"]["keySets"]["edges"]] == ["Customer"]
