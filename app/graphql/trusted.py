"""Trusted documents: operations known before any request, sent by their SHA-256.

A request may send `{"documentId": "sha256:<hex>", "variables": …}` instead of `query`;
the document is looked up in the manifest, made of the console's operations
(`app/static/console/operations.graphql`, each printed by graphql-core) and of the JSON
manifests an operator registers for their own single-page apps
(`KEYRACK_TRUSTED_DOCUMENTS_MANIFESTS`: `{"sha256:<hex>": "<document>"}`, the shape
GraphQL Codegen's persisted documents have). Every id is the SHA-256 of its text, checked
when the manifest is loaded.

`KEYRACK_TRUSTED_DOCUMENTS`:
- `off` (default): `query` is what runs; a `documentId` beside it is ignored, alone it is
  refused, so that a client never runs what it did not send;
- `allow`: a `documentId` runs its manifest document (a `query` sent with it must be that
  same text);
- `require`: as `allow`, and a request of a browser's cookie session must name a manifest
  document: a script that got into the page cannot run a document of its own with the
  session. Bearer callers and GraphiQL (no cookie session) go on as before.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from graphql import OperationDefinitionNode, parse, print_ast

Mode = Literal["off", "allow", "require"]
CONSOLE_OPERATIONS = (
    Path(__file__).resolve().parents[1] / "static" / "console" / "operations.graphql"
)
_ID = re.compile(r"sha256:[0-9a-f]{64}")


class UntrustedDocument(ValueError):
    """A request names a document the manifest lacks, or mixes two."""


def document_id(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def console_operations() -> dict[str, str]:
    """The console's operations by name, each as graphql-core prints it (what it sends)."""
    document = parse(CONSOLE_OPERATIONS.read_text(encoding="utf-8"))
    return {
        definition.name.value: print_ast(definition)
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode) and definition.name
    }


def load_manifest(path: Path) -> dict[str, str]:
    """An operator's manifest, each id checked against its text."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: a manifest is a JSON object of ids and documents")
    manifest = {}
    for given, text in entries.items():
        key = given if given.startswith("sha256:") else f"sha256:{given}"
        if not isinstance(text, str) or document_id(text) != key:
            raise ValueError(f"{path}: {given[:80]!r} is not the SHA-256 of its document")
        manifest[key] = text
    return manifest


class TrustedDocuments:
    def __init__(self, mode: Mode, manifests: Iterable[Path] = ()) -> None:
        self.mode = mode
        self.documents = {document_id(text): text for text in console_operations().values()}
        for path in manifests:
            self.documents.update(load_manifest(path))

    def resolve(self, request: dict[str, object]) -> bool:
        """Puts the named document into the request's `query`; whether the request runs
        a manifest document."""
        named = request.pop("documentId", None)
        if named is None:
            return False
        query = request.get("query")
        if self.mode == "off":
            if query is None:
                raise UntrustedDocument(
                    "This server takes no documentId (KEYRACK_TRUSTED_DOCUMENTS=off): send query."
                )
            return False
        text = (
            self.documents.get(named) if isinstance(named, str) and _ID.fullmatch(named) else None
        )
        if text is None:
            raise UntrustedDocument("No trusted document has this documentId.")
        if query is not None and query != text:
            raise UntrustedDocument("query is not the document that documentId names.")
        request["query"] = text
        return True


def console_module() -> str:
    """operations.js: the console's operations with their ids, made from operations.graphql."""
    lines = [
        "// @ts-check",
        "// Made by `python -m app.graphql.trusted > app/static/console/operations.js` from",
        "// operations.graphql (edit that file): each operation as the server knows it, and",
        "// its trusted documentId (app/graphql/trusted.py). A test holds the two together.",
        "",
        "/** @typedef {{id: string, text: string}} Operation */",
    ]
    for name, text in console_operations().items():
        constant = re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()
        lines += [
            "",
            "/** @type {Operation} */",
            f"export const {constant} = {{",
            f"  id: {json.dumps(document_id(text))},",
            f"  text: {json.dumps(text)},",
            "};",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(console_module())
