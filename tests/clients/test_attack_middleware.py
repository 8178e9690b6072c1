"""Attack PoCs against keyrack_client's middleware (branch `attack`): each test asserts
what a protected service SHOULD do; on main they fail, showing the bypass."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from keyrack_client import AsyncVerifier, Verifier
from tests.clients.conftest import Keyrack
from tests.clients.test_middleware import bearer, client_of, fastapi_service, flask_service


@pytest.fixture
async def verifier(keyrack: Keyrack) -> AsyncIterator[AsyncVerifier]:
    async with AsyncVerifier(keyrack.url, keyrack.verifier_token) as verifier:
        yield verifier


@pytest.fixture
def sync_verifier(keyrack: Keyrack) -> Iterator[Verifier]:
    with Verifier(keyrack.url, keyrack.verifier_token) as verifier:
        yield verifier


async def test_asgi_permissions_query_is_enforced(
    keyrack: Keyrack, verifier: AsyncVerifier
) -> None:
    # given: a service that lets only DEPLOY_PACKAGES keys deploy, written with the
    # documented `permissions=` (a permission query), and a key WITHOUT that permission
    weak = keyrack.key_set("REGISTER_CATALOG_ITEMS")
    service = fastapi_service(verifier, permissions="DEPLOY_PACKAGES")

    # when
    async with client_of(service) as client:
        response = await client.get("/packages", headers=bearer(weak.key))

    # then: it must not get in (403, or 503 if the server cannot judge the query)
    assert response.status_code in (403, 503), response.text


def test_wsgi_permissions_query_is_enforced(keyrack: Keyrack, sync_verifier: Verifier) -> None:
    weak = keyrack.key_set("REGISTER_CATALOG_ITEMS")
    service = flask_service(sync_verifier, permissions="DEPLOY_PACKAGES")

    response = service.test_client().get("/packages", headers=bearer(weak.key))

    assert response.status_code in (403, 503), response.get_data(as_text=True)


async def test_asgi_excluding_the_home_page_does_not_open_every_path(
    verifier: AsyncVerifier,
) -> None:
    # given: a service that serves its landing page "/" without a key
    service = fastapi_service(verifier, exclude=["/"])

    # when: a caller with no key asks for a protected path
    async with client_of(service) as client:
        response = await client.get("/packages")

    # then
    assert response.status_code == 401, response.text


def test_wsgi_excluding_the_home_page_does_not_open_every_path(sync_verifier: Verifier) -> None:
    service = flask_service(sync_verifier, exclude=["/"])

    response = service.test_client().get("/packages")

    assert response.status_code == 401, response.get_data(as_text=True)
