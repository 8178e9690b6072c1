"""What each GraphQL operation was, for the request log, the metrics and (while tracing is
on) its span.

The operation name is the client's choice: it is cut to 64 characters for the log line
and the span, and never used as a metrics label. The metrics label an operation by the
root field it asks for first, as the schema names it (`login`, `createKeySet`), or
`invalid` when that is no field of the schema: the labels are bounded by the schema, so no
caller can grow `/metrics` or push real operations into `other`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from app import metrics
from app.ids import to_global_id
from app.requestlog import REQUEST_INFO
from app.tracing.scope import SPANS


class ObserveOperation(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        request = getattr(self.execution_context.context, "request", None)
        spans = request.scope.get(SPANS) if request is not None else None
        span = spans.graphql_operation() if spans is not None else None
        yield
        context = self.execution_context
        result = context.result
        errors = (result.errors if result is not None else None) or context.pre_execution_errors
        outcome = "ok"
        if errors:
            code = (errors[0].extensions or {}).get("code")
            outcome = code if isinstance(code, str) else "error"
        name = (context.operation_name or "anonymous")[:64]
        kind = _kind(context)
        session = getattr(context.context, "session", None)
        label = _schema_label(context)
        metrics.graphql_operation(
            name=label if session is not None else f"unauthenticated:{label}",
            kind=kind,
            outcome=_bounded_outcome(outcome),
            seconds=time.perf_counter() - started,
        )
        if span is not None:
            span.end(name=name, kind=kind, outcome=outcome)
        info = request.scope.get(REQUEST_INFO) if request is not None else None
        if info is not None:
            info["operation"] = name
            info["outcome"] = outcome
            if session is not None:
                info["caller"] = to_global_id("User", session.user_id)


def _schema_label(context: ExecutionContext) -> str:
    """The first root field of the chosen operation if the schema has it, else `invalid`.

    Not the operation name, nor a field name as sent: both are anyone's to choose (a 100 KB
    `{ xxxx… }` or 200 made-up names used to grow `/metrics` by megabytes or fill its
    table, even failing validation)."""
    document = context.graphql_document
    for definition in document.definitions if document is not None else ():
        if isinstance(definition, OperationDefinitionNode) and (
            context.operation_name is None
            or (definition.name is not None and definition.name.value == context.operation_name)
        ):
            root = context.schema._schema.get_root_type(definition.operation)
            for selection in definition.selection_set.selections:
                if isinstance(selection, FieldNode):
                    name = selection.name.value
                    if name in _META_FIELDS or (root is not None and name in root.fields):
                        return name
                    return "invalid"
    return "invalid"


_META_FIELDS = frozenset({"__typename", "__schema", "__type"})
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,47}")


def _bounded_outcome(outcome: str) -> str:
    """Error codes are ours, but a label is no place to trust that: anything else is `error`."""
    return outcome if outcome == "ok" or _CODE.fullmatch(outcome) else "error"


def _kind(context: ExecutionContext) -> str:
    """query, mutation or subscription; `invalid` when no operation could be chosen."""
    try:
        return context.operation_type.value
    except Exception:  # no document (a syntax error), or no operation of that name
        return "invalid"
