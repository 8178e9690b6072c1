"""The root schema: it only combines the per-domain parts."""

from __future__ import annotations

import sys
from typing import Any

import strawberry
from strawberry.schema.config import StrawberryConfig

from app.graphql.accounts.mutations import AccountMutations
from app.graphql.accounts.queries import AccountQueries
from app.graphql.accounts.second_factor import SecondFactorMutations
from app.graphql.anomalies.mutations import AnomalyMutations
from app.graphql.approvals.mutations import ApprovalMutations
from app.graphql.catalog.mutations import PermissionMutations
from app.graphql.conventions import document_conventions
from app.graphql.errors import ErrorPolicy
from app.graphql.execution import Executor
from app.graphql.groups.mutations import PermissionGroupMutations
from app.graphql.guard import query_limits
from app.graphql.keysets.imports import KeyImportMutations
from app.graphql.keysets.mutations import KeySetMutations
from app.graphql.keysets.queries import KeySetQueries
from app.graphql.keysets.updates import KeySetUpdateMutations
from app.graphql.leaks.mutations import LeakMutations
from app.graphql.limits import QueryLimits
from app.graphql.node import NodeQueries
from app.graphql.notifications.mutations import NotificationMutations
from app.graphql.notifications.subscriptions import Subscription
from app.graphql.observe import ObserveOperation
from app.graphql.organizations.mutations import OrganizationMutations
from app.graphql.organizations.queries import OrganizationQueries
from app.graphql.plan import plan_map
from app.graphql.policy.mutations import KeyPolicyMutations
from app.graphql.prices import require_prices
from app.graphql.sensitive import TransportRules
from app.graphql.systems.mutations import SystemMutations
from app.graphql.systems.queries import SystemQueries
from app.graphql.verifiers.mutations import VerifierMutations
from app.graphql.verify import VerifyQueries
from app.graphql.webhooks.mutations import WebhookMutations
from app.settings import Settings


@strawberry.type(
    description=(
        "Reads. viewer and verifyKey answer anyone; the rest need a login (else "
        "UNAUTHENTICATED). What a caller may not see answers null, exactly as what does not "
        "exist."
    )
)
class Query(
    AccountQueries, OrganizationQueries, SystemQueries, KeySetQueries, NodeQueries, VerifyQueries
):
    pass


@strawberry.type(
    description=(
        "Writes. Each takes one input and answers a payload; expected failures are its "
        "userErrors, a missing login is UNAUTHENTICATED and a missing role FORBIDDEN."
    )
)
class Mutation(
    AccountMutations,
    SecondFactorMutations,
    OrganizationMutations,
    SystemMutations,
    KeySetMutations,
    KeySetUpdateMutations,
    KeyImportMutations,
    PermissionGroupMutations,
    PermissionMutations,
    KeyPolicyMutations,
    WebhookMutations,
    VerifierMutations,
    LeakMutations,
    AnomalyMutations,
    ApprovalMutations,
    NotificationMutations,
):
    pass


class KeyrackSchema(strawberry.Schema):
    def process_errors(self, errors: Any, execution_context: Any = None) -> None:
        # `ErrorPolicy` logs unexpected errors with their traceback; expected ones
        # (bad input, permissions) are answers, not incidents, and are not logged.
        return None


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema, with the query limits of `settings` (defaults when None)."""
    settings = settings or Settings(_env_file=None)
    limits = query_limits(
        limits=QueryLimits(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_query_aliases,
            max_fields=settings.max_query_fields,
            max_cost=settings.max_query_cost,
        ),
        max_tokens=settings.max_query_tokens,
        introspection=settings.introspection,
    )
    built = KeyrackSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[ObserveOperation, *limits, TransportRules, ErrorPolicy],
        execution_context_class=Executor,
        # Not `sort_schema=True`: in strawberry 0.341 it rebuilds enums as plain
        # graphql-core types, and enum arguments then reach resolvers as bare strings.
        # The printed schema follows definition order, which is just as stable.
        config=StrawberryConfig(),
    )
    document_conventions(built._schema)
    require_prices(built._schema)
    return built


schema = build_schema()


if __name__ == "__main__":
    # python -m app.graphql.schema > schema.graphql
    # python -m app.graphql.schema --plan > plan.txt (what each field takes, see execution)
    if sys.argv[1:] == ["--plan"]:
        print(plan_map(schema._schema), end="")
    else:
        print(schema.as_str())
