"""The catalog of key permissions and the scope each belongs to."""

from __future__ import annotations

from enum import StrEnum

from app.keysets.models import KeySetScope


class KeyPermission(StrEnum):
    REGISTER_CATALOG_ITEMS = "REGISTER_CATALOG_ITEMS"
    CHANGE_CATALOG_PUBLISHING_STATE = "CHANGE_CATALOG_PUBLISHING_STATE"
    ADD_SYSTEM = "ADD_SYSTEM"
    DEPLOY_PACKAGES = "DEPLOY_PACKAGES"
    DEPLOY_AUTOMATION_SCRIPTS = "DEPLOY_AUTOMATION_SCRIPTS"


PERMISSION_SCOPE: dict[KeyPermission, KeySetScope] = {
    KeyPermission.REGISTER_CATALOG_ITEMS: KeySetScope.ORGANIZATION,
    KeyPermission.CHANGE_CATALOG_PUBLISHING_STATE: KeySetScope.ORGANIZATION,
    KeyPermission.ADD_SYSTEM: KeySetScope.ORGANIZATION,
    KeyPermission.DEPLOY_PACKAGES: KeySetScope.SYSTEM,
    KeyPermission.DEPLOY_AUTOMATION_SCRIPTS: KeySetScope.SYSTEM,
}
