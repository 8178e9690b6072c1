"""The bodies the REST endpoints take and answer, as JSON Schema: the `components`
of the OpenAPI document (app.edges.openapi), with the values the code knows (codes,
permission names, slots, the audit signature's algorithm) taken from the code.
"""

from __future__ import annotations

from typing import Any

from app.audit.signing import ALGORITHM
from app.edges import leaks
from app.keysets.models import KeySlot
from app.keysets.permissions import KeyPermission
from app.verify.codes import VerifyCode

# Answered when credits do not cover a verification's cost (CONTRACT.md, "Credits").
_CREDIT_CODES = ("USAGE_EXCEEDED",)
Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


_GLOBAL_ID = {"type": "string", "description": "A global id, as GraphQL's `id` fields give it."}
_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What to change; never a key."}},
    },
    "VerifyRequest": {
        "type": "object",
        "required": ["key"],
        "properties": {
            "key": {"type": "string", "description": "The API key to check."},
            "permission": {
                "type": "string",
                "description": (
                    "A permission the key must hold: a built-in or catalog name; one "
                    "that cannot name a permission is a 400."
                ),
                "examples": [p.value for p in KeyPermission][:2],
            },
            "permissions": {
                "type": "string",
                "description": (
                    "A permission query the key must satisfy: names, AND, OR and "
                    "parentheses (at most 32 names, depth 8), e.g. `a AND (b OR c)`. "
                    "A malformed query is a 400 naming the position."
                ),
            },
            "cost": {
                "type": "integer",
                "minimum": 0,
                "description": "Credits this verification spends (default 1).",
            },
            "ip": {
                "type": "string",
                "description": "The caller's IPv4 or IPv6 address, checked against the key "
                "set's allowed networks; not an address is a 400.",
            },
            "organizationId": {
                **_GLOBAL_ID,
                "description": "Only keys of this organization (or its systems) verify.",
            },
            "systemId": {**_GLOBAL_ID, "description": "Only keys of this system verify."},
        },
    },
    "VerifyResult": {
        "type": "object",
        "required": [
            "valid",
            "code",
            "keySet",
            "organizationId",
            "systemId",
            "permissions",
            "slot",
            "expiresAt",
            "deprecated",
            "validUntil",
        ],
        "properties": {
            "valid": {"type": "boolean", "description": "True exactly when code is VALID."},
            "code": {"enum": list(dict.fromkeys([*VerifyCode, *_CREDIT_CODES]))},
            "keySet": nullable(
                {
                    "type": "object",
                    "required": ["id", "label"],
                    "properties": {"id": _GLOBAL_ID, "label": {"type": "string"}},
                }
            ),
            "organizationId": nullable(_GLOBAL_ID),
            "systemId": nullable(_GLOBAL_ID),
            "permissions": nullable({"type": "array", "items": {"type": "string"}}),
            "slot": nullable({"enum": [slot.value for slot in KeySlot]}),
            "expiresAt": nullable(_TIME),
            "deprecated": {
                "type": "boolean",
                "description": "The key was replaced: it verifies until validUntil.",
            },
            "validUntil": nullable(_TIME),
            "externalId": nullable({"type": "string", "maxLength": 255}),
            "meta": nullable({"type": "object"}),
            "remaining": nullable(
                {
                    "type": "integer",
                    "description": "Credits left; present for a key set with credits.",
                }
            ),
            "missingPermissions": nullable(
                {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": (
                        "With INSUFFICIENT_PERMISSION: the names asked for that the key lacks."
                    ),
                }
            ),
        },
    },
    "LeakReport": {
        "type": "array",
        "maxItems": leaks.MAX_TOKENS,
        "items": {
            "type": "object",
            "required": ["token"],
            "properties": {
                name: {"type": "string", "maxLength": leaks.MAX_FIELD_LENGTH}
                for name in ("token", "type", "url", "source")
            },
        },
    },
    "LeakAnswer": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["token_hash", "token_type", "label"],
            "properties": {
                "token_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "token_type": {"type": "string"},
                "label": {"enum": ["true_positive", "false_positive"]},
            },
        },
    },
    "PublicKey": {
        "type": "object",
        "required": ["keyId", "algorithm", "publicKey"],
        "properties": {
            "keyId": {"type": "string"},
            "algorithm": {"const": ALGORITHM},
            "publicKey": {"type": "string", "contentEncoding": "base64"},
        },
    },
    "AuditPublicKeys": {
        "allOf": [ref("PublicKey")],
        "type": "object",
        "required": ["previous"],
        "properties": {
            "previous": {
                "type": "array",
                "items": ref("PublicKey"),
                "description": "Keys of previous secrets, newest first.",
            }
        },
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}},
    },
}
