"""Every code a mutation can answer is one the schema tells clients about."""

from __future__ import annotations

import ast
from pathlib import Path

from app.errors import ErrorCode, UserInputError
from app.graphql.schema import schema

APP = Path(__file__).resolve().parent.parent / "app"


def _subclasses(cls: type[UserInputError]) -> list[type[UserInputError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def test_every_domain_error_code_is_in_the_schema() -> None:
    # given
    enum = schema._schema.get_type("UserErrorCode")

    # when
    in_schema = set(enum.values)  # type: ignore[union-attr]

    # then
    assert in_schema == {code.value for code in ErrorCode}


def test_every_user_input_error_carries_an_error_code() -> None:
    errors = [UserInputError, *_subclasses(UserInputError)]

    assert len(errors) > 5
    assert all(isinstance(error.code, ErrorCode) for error in errors)  # type: ignore[attr-defined]


def test_no_code_is_written_as_a_bare_string() -> None:
    # given: `code="..."` or a class's `code = "..."` would bypass the enum (and mypy)
    bare: list[str] = []

    # when
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            keyword = isinstance(node, ast.keyword) and node.arg == "code"
            attribute = isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "code" for target in node.targets
            )
            value = getattr(node, "value", None)
            bare_string = isinstance(value, ast.Constant) and isinstance(value.value, str)
            if (keyword or attribute) and bare_string:
                bare.append(f"{path.relative_to(APP.parent)}:{getattr(node, 'lineno', '?')}")

    # then
    assert bare == []
