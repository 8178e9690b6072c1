from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.approvals.models import ApprovalAction
from app.errors import InvalidInput
from app.graphql.approvals.declare import NeedsApproval
from app.graphql.approvals.types import ApprovalRequestType
from app.graphql.context import Info
from app.graphql.ids import ORGANIZATION, SYSTEM, input_pk
from app.graphql.keysets.types import KeySetType
from app.graphql.payloads import ReportUserErrors, UserError, user_errors_field
from app.graphql.permissions import IsAuthenticated
from app.graphql.prices import MUTATION_PRICE, list_cost
from app.graphql.sensitive import SECRET
from app.graphql.step_up import StepUp, otp_field
from app.keysets import imports
from app.keysets.models import KeySetScope


@strawberry.input(description="One existing key, as a key set of its own.")
class ImportKeyInput:
    label: str = strawberry.field(description="As createKeySet's label; unique in the scope.")
    key: str | None = strawberry.field(
        default=None,
        metadata=SECRET,
        description=(
            "The key in plaintext, any format (16 to 512 characters); only its SHA-256 is "
            "kept, with a hint. Give key or sha256."
        ),
    )
    sha256: str | None = strawberry.field(
        default=None,
        description="The key's SHA-256, 64 hex digits, when you do not have the plaintext.",
    )
    permission_names: list[str] = strawberry.field(
        default_factory=list,
        description="Permissions of the scope (the built-in names for now).",
        metadata=list_cost(8),
    )
    expires_at: datetime | None = strawberry.field(default=None, description="As createKeySet.")
    external_id: str | None = strawberry.field(default=None, description="As createKeySet.")
    meta: JSON | None = strawberry.field(default=None, description="As createKeySet.")

    def as_line(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "key": self.key,
            "sha256": self.sha256,
            "permissionNames": self.permission_names,
            "externalId": self.external_id,
            "meta": self.meta,
        }


@strawberry.input(description="Keys already in production, for one organization or system.")
class ImportKeysInput:
    organization_id: strawberry.ID | None = strawberry.field(
        default=None, description="Give exactly one of organizationId and systemId."
    )
    system_id: strawberry.ID | None = strawberry.field(
        default=None, description="The system the keys are for."
    )
    keys: list[ImportKeyInput] = strawberry.field(
        description=f"1 to {imports.MAX_IMPORT} keys; all are imported, or none."
    )
    otp: str | None = otp_field()
    client_mutation_id: str | None = None


@strawberry.type(description="The key sets made of the imported keys.")
class ImportKeysPayload:
    key_sets: list[KeySetType] | None = strawberry.field(
        default=None,
        description="One per key, in the order given; null on userErrors.",
        metadata=list_cost(imports.MAX_IMPORT),
    )
    approval_request: ApprovalRequestType | None = strawberry.field(
        default=None, description="Never set: an import is not held (POLICY_VIOLATION instead)."
    )
    user_errors: list[UserError] = user_errors_field()
    client_mutation_id: str | None = None


def _at(index: int, error: InvalidInput) -> InvalidInput:
    """The error with its path under the key it is about: ["keys", "3", "label"]."""
    return InvalidInput(error.message, field=["keys", str(index), *(error.field or [])])


@strawberry.type
class KeyImportMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        extensions=[
            NeedsApproval(
                ApprovalAction.CREATE_KEY_SET,
                "system_id",
                "organization_id",
                refused=(
                    "The approval policy holds creating key sets, and a request may not keep "
                    "the keys an import carries: create the key sets with createKeySet."
                ),
            ),
            StepUp("organization_id", "system_id"),
            ReportUserErrors(),
        ],
        description=(
            "Imports keys already in use elsewhere, each as a key set whose primary key it "
            "is (its secondary key is a fresh Keyrack key). They verify at /v1/keys/verify "
            "whatever their format; regenerateKey with a grace period moves them to Keyrack "
            "keys. Admins of the scope; audited as KEYS_IMPORTED (never a key or digest)."
        ),
        metadata=MUTATION_PRICE,
    )
    async def import_keys(self, info: Info, input: ImportKeysInput) -> ImportKeysPayload:
        organization_id = (
            input_pk(input.organization_id, ORGANIZATION, field="organizationId")
            if input.organization_id is not None
            else None
        )
        system_id = (
            input_pk(input.system_id, SYSTEM, field="systemId")
            if input.system_id is not None
            else None
        )
        scope = KeySetScope.SYSTEM if system_id is not None else KeySetScope.ORGANIZATION
        if not input.keys:
            raise InvalidInput("Give at least one key.", field="keys")
        entries = []
        for index, key in enumerate(input.keys):
            try:
                entries.append(
                    imports.entry_of(key.as_line(), scope=scope, expires_at=key.expires_at)
                )
            except InvalidInput as error:
                raise _at(index, error) from None
        try:
            created = await imports.import_keys(
                actor=info.context.actor,
                keys=info.context.keys,
                organization_id=organization_id,
                system_id=system_id,
                entries=entries,
            )
        except imports.ImportRefused as error:
            raise _at(error.index, error) from None
        return ImportKeysPayload(key_sets=[KeySetType.from_model(key_set) for key_set in created])
