"""Whether the requester may still take what an applied request produced, when claiming.

Approval checked their role when the request was applied; a claim may come later. By
then the requester must still administer what the values open: the key set (as a reveal
checks it), which must not be revoked; for values of no key set, the request's scope.
"""

from __future__ import annotations

from app.access import administered_organizations, administered_systems
from app.approvals.models import ApprovalRequest
from app.ids import pk_of
from app.keysets.admins import administers
from app.keysets.lifecycle import scope_key
from app.keysets.models import ApiKey, KeySet
from app.keysets.rules import clean_label


async def may_still_claim(request: ApprovalRequest, user_id: int) -> bool:
    if _names_a_key_set(request):
        key_set = await _key_set_of(request)
        return (
            key_set is not None
            and key_set.revoked_at is None
            and await administers(user_id=user_id, key_set=key_set)
        )
    if request.system_id is not None and await administered_systems(
        user_id=user_id, system_ids=[request.system_id]
    ):
        return True
    return bool(
        await administered_organizations(
            user_id=user_id, organization_ids=[request.organization_id]
        )
    )


def _names_a_key_set(request: ApprovalRequest) -> bool:
    change = request.change
    return "keySetId" in change or "apiKeyId" in change or request.operation == "createKeySet"


async def _key_set_of(request: ApprovalRequest) -> KeySet | None:
    change = request.change
    if "apiKeyId" in change:
        api_key = await ApiKey.get_or_none(id=int(str(change["apiKeyId"])))
        return await KeySet.get_or_none(id=api_key.key_set_id) if api_key else None
    if "keySetId" in change:
        pk = pk_of(str(change["keySetId"]), "KeySet")
        return await KeySet.get_or_none(id=pk) if pk else None
    # A created set: the live one of its label in its scope (revoked or renamed, none).
    return await KeySet.get_or_none(
        scope_key=scope_key(request.organization_id, request.system_id),
        label=clean_label(str(change["label"])),
        live=True,
    )
