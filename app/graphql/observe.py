"""What each GraphQL operation was, for the request log, the metrics and (while tracing is
on) its span.

The operation name is the client's choice: it is cut to 64 characters for the log line,
and the metrics label only the first `metrics.MAX_OPERATION_NAMES` distinct names seen
(later ones count as `other`), so a client cannot grow the metrics without bound. Callers
without a session are labelled by the first field they ask for instead (bounded by the
schema), so nobody can fill the table without an account.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from app import metrics, tracing
from app.ids import to_global_id
from app.requestlog import REQUEST_INFO


class ObserveOperation(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        request = getattr(self.execution_context.context, "request", None)
        spans = request.scope.get(tracing.SPANS) if request is not None else None
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
        metrics.graphql_operation(
            name=name if session is not None else _unauthenticated_label(context),
            kind=kind,
            outcome=outcome,
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


def _unauthenticated_label(context: ExecutionContext) -> str:
    """The metrics label of a caller without a session: `unauthenticated:` and the first
    field it asked for (`login`, `signUp`, `viewer`...), never its operation name. Those
    labels are bounded by the schema; operation names are anyone's to choose, and 200
    made-up ones used to fill the table so that real operations counted as `other`."""
    document = context.graphql_document
    for definition in document.definitions if document is not None else ():
        if isinstance(definition, OperationDefinitionNode) and (
            context.operation_name is None
            or (definition.name is not None and definition.name.value == context.operation_name)
        ):
            for selection in definition.selection_set.selections:
                if isinstance(selection, FieldNode):
                    return f"unauthenticated:{selection.name.value}"
    return "unauthenticated:invalid"


def _kind(context: ExecutionContext) -> str:
    """query, mutation or subscription; `invalid` when no operation could be chosen."""
    try:
        return context.operation_type.value
    except Exception:  # no document (a syntax error), or no operation of that name
        return "invalid"
