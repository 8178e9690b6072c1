"""The schema extension that applies the query limits (`limits`) to every request, before
graphql-core's validation, and remembers the documents that passed (`DocumentCache`).

A document that parsed and passed every check is remembered by its text: the checks
depend only on the text, the schema and the validation rules (variables are assumed at
their worst), so the same query sent again skips parsing, measuring and validation.
Refused documents are not remembered; they are checked again each time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from functools import partial

from graphql import DocumentNode, GraphQLError, validate
from strawberry.extensions import DisableIntrospection, MaxTokensLimiter, SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from app.graphql.limits import QueryLimits, limit_errors


class DocumentCache:
    """The last `size` documents that parsed and passed the limits and validation, by
    their text and the rules they passed; shared by every request of one schema."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.parsed: OrderedDict[str, DocumentNode] = OrderedDict()
        self.valid: OrderedDict[tuple[str, Hashable], None] = OrderedDict()

    def document(self, query: str) -> DocumentNode | None:
        document = self.parsed.get(query)
        if document is not None:
            self.parsed.move_to_end(query)
        return document

    def remember_document(self, query: str, document: DocumentNode) -> None:
        self.parsed[query] = document
        if len(self.parsed) > self.size:
            self.parsed.popitem(last=False)

    def is_valid(self, key: tuple[str, Hashable]) -> bool:
        if key in self.valid:
            self.valid.move_to_end(key)
            return True
        return False

    def remember_valid(self, key: tuple[str, Hashable]) -> None:
        self.valid[key] = None
        if len(self.valid) > self.size:
            self.valid.popitem(last=False)


class QueryGuard(SchemaExtension):
    """Refuses a document over the limits before graphql-core's validation runs, then
    runs that validation itself: strawberry's own call cannot hide suggestions
    ("Did you mean ...?"), which name fields when introspection is off."""

    def __init__(
        self, *, limits: QueryLimits, hide_suggestions: bool, cache: DocumentCache
    ) -> None:
        self.limits = limits
        self.hide_suggestions = hide_suggestions
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        # Strawberry parses only when no document is set yet.
        if query and context.graphql_document is None:
            context.graphql_document = self.cache.document(query)
        yield
        if query and context.graphql_document is not None:  # None: the parse failed
            self.cache.remember_document(query, context.graphql_document)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # Strawberry skips its own validation once `pre_execution_errors` is set.
        if document is not None and context.pre_execution_errors is None:
            # The rules differ between requests (GET adds one), so they are in the key.
            key = (context.query or "", tuple(context.validation_rules))
            if context.query and self.cache.is_valid(key):
                context.pre_execution_errors = []
                yield
                return
            schema = context.schema._schema
            try:
                errors = limit_errors(schema, document, self.limits)
            except RecursionError:  # only with a token limit raised far past the default
                errors = [
                    GraphQLError(
                        "The document is nested too deeply.",
                        extensions={"code": "QUERY_TOO_COMPLEX"},
                    )
                ]
            context.pre_execution_errors = errors or validate(
                schema,
                document,
                (*context.validation_rules, MaybeNullValidationRule, OneOfInputValidationRule),
                hide_suggestions=self.hide_suggestions,
            )
            if context.query and not context.pre_execution_errors:
                self.cache.remember_valid(key)
        yield


def query_limits(
    *, limits: QueryLimits, max_tokens: int, introspection: bool, cache_size: int = 256
) -> list[Callable[[], SchemaExtension]]:
    """Extension factories: strawberry builds fresh instances for every request."""
    extensions: list[Callable[[], SchemaExtension]] = [
        # The parser stops at the limit, so parsing is bounded too.
        partial(MaxTokensLimiter, max_token_count=max_tokens),
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    extensions.append(
        partial(
            QueryGuard,
            limits=limits,
            hide_suggestions=not introspection,
            cache=DocumentCache(cache_size),
        )
    )
    return extensions
