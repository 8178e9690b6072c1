"""Permission queries at verification: `invoices.read AND (deploy:prod OR deploy:staging)`.

    query  := term ("OR" term)*
    term   := factor ("AND" factor)*
    factor := NAME | "(" query ")"

`AND` binds tighter than `OR`; the operators are upper case and names are permission
names (`app.permissions.names`), so no name is ever read as an operator. A query holds at
most `MAX_NAMES` names and nests parentheses at most `MAX_DEPTH` deep; anything else is a
`QuerySyntaxError` that names the 0-based character position of the problem (and
never repeats the query's text: a key pasted into it by mistake is not echoed).

Compiled queries are kept in a bounded LRU: services send the same few queries over and
over, and the verify hot path then pays one dictionary lookup for the parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from app.permissions.names import is_permission_name

MAX_NAMES = 32
MAX_DEPTH = 8
MAX_QUERY_LENGTH = 4096
CACHED_QUERIES = 1024

_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z0-9._:-]+)|(\S))")


class QuerySyntaxError(ValueError):
    """A malformed query; `position` is the 0-based offset of the offending character."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}.")
        self.position = position


# A compiled node: a name, or ("AND" | "OR", children).
Node = str | tuple[str, tuple["Node", ...]]


Test = Callable[[frozenset[str]], bool]


@dataclass(frozen=True)
class PermissionQuery:
    """A parsed query, evaluated against the set of names a key holds."""

    root: Node
    names: frozenset[str]
    ordered_names: tuple[str, ...]
    test: Test

    def allows(self, held: frozenset[str]) -> bool:
        # Holding every name answers any query: one subset test for the common case.
        return self.names <= held or self.test(held)

    def missing(self, held: frozenset[str]) -> tuple[str, ...]:
        """The query's names the key does not hold, in the order the query names them."""
        return tuple(name for name in self.ordered_names if name not in held)


def _test(node: Node) -> Test:
    """`node` as one function of the held names: the plain names of each AND or OR are one
    set operation (in C), only parenthesised children are calls."""
    if isinstance(node, str):
        return frozenset({node}).issubset
    operator, children = node
    names = frozenset(child for child in children if isinstance(child, str))
    inner = tuple(_test(child) for child in children if not isinstance(child, str))
    if operator == "AND":
        if not inner:
            return names.issubset

        def every(held: frozenset[str]) -> bool:
            if not names <= held:
                return False
            for test in inner:  # noqa: SIM110 - a loop, not all(genexpr): the hot path
                if not test(held):
                    return False
            return True

        return every

    def some(held: frozenset[str]) -> bool:
        if not names.isdisjoint(held):
            return True
        for test in inner:  # noqa: SIM110 - a loop, not any(genexpr): the hot path
            if test(held):
                return True
        return False

    return some


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str, int]] = []  # (kind, text, position)
        for match in _TOKEN.finditer(text):
            opening, closing, word, other = match.groups()
            position = match.start(match.lastindex or 0)
            if other is not None:
                raise QuerySyntaxError("unexpected character", position)
            if opening:
                self.tokens.append(("(", opening, position))
            elif closing:
                self.tokens.append((")", closing, position))
            elif word in ("AND", "OR"):
                self.tokens.append((word, word, position))
            elif word is not None:
                if not is_permission_name(word):
                    raise QuerySyntaxError("not a permission name", position)
                self.tokens.append(("NAME", word, position))
        self.end = len(text)
        self.index = 0
        self.names: list[str] = []

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _expected(self, what: str) -> QuerySyntaxError:
        token = self._peek()
        if token is None:
            return QuerySyntaxError(f"expected {what} but the query ended", self.end)
        return QuerySyntaxError(f"expected {what}", token[2])

    def parse(self) -> Node:
        root = self._query(depth=0)
        if self._peek() is not None:
            raise self._expected("AND, OR or the end of the query")
        return root

    def _query(self, depth: int) -> Node:
        return self._chain("OR", self._term, depth)

    def _term(self, depth: int) -> Node:
        return self._chain("AND", self._factor, depth)

    def _chain(self, operator: str, operand: Callable[[int], Node], depth: int) -> Node:
        children = [operand(depth)]
        while (token := self._peek()) is not None and token[0] == operator:
            self.index += 1
            children.append(operand(depth))
        return children[0] if len(children) == 1 else (operator, tuple(children))

    def _factor(self, depth: int) -> Node:
        token = self._peek()
        if token is None or token[0] not in ("NAME", "("):
            raise self._expected("a permission name or '('")
        self.index += 1
        if token[0] == "NAME":
            self.names.append(token[1])
            if len(self.names) > MAX_NAMES:
                raise QuerySyntaxError(f"more than {MAX_NAMES} names", token[2])
            return token[1]
        if depth + 1 > MAX_DEPTH:
            raise QuerySyntaxError(f"parentheses nest more than {MAX_DEPTH} deep", token[2])
        inner = self._query(depth + 1)
        closing = self._peek()
        if closing is None or closing[0] != ")":
            raise self._expected("')'")
        self.index += 1
        return inner


@lru_cache(maxsize=CACHED_QUERIES)
def compile_query(text: str) -> PermissionQuery:
    """The query `text` compiled; raises QuerySyntaxError (never cached) when malformed."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(f"the query is longer than {MAX_QUERY_LENGTH} characters", 0)
    parser = _Parser(text)
    root = parser.parse()
    ordered = tuple(dict.fromkeys(parser.names))
    return PermissionQuery(
        root=root, names=frozenset(ordered), ordered_names=ordered, test=_test(root)
    )
