"""Arguments and input fields that carry secrets are declared so, and GET refuses them."""

from __future__ import annotations

from typing import Any

from app.graphql.schema import schema
from app.graphql.sensitive import SECRET, carries_secret

# Names that say "this holds a secret"; each argument or input field so named must be marked.
SECRET_NAMES = {"password", "currentPassword", "newPassword", "otp", "code", "token", "key"}


def test_every_argument_or_input_field_named_like_a_secret_is_marked_secret() -> None:
    # given
    graphql_schema = schema._schema
    unmarked = []

    # when
    for type_ in graphql_schema.type_map.values():
        for field_name, field in (getattr(type_, "fields", None) or {}).items():
            if hasattr(field, "args"):  # an output field: look at its arguments
                for argument_name, argument in field.args.items():
                    if argument_name in SECRET_NAMES and not carries_secret_argument(argument):
                        unmarked.append(f"{type_.name}.{field_name}({argument_name})")
            elif field_name in SECRET_NAMES and not marked(field):
                unmarked.append(f"{type_.name}.{field_name}")

    # then
    assert unmarked == []
    assert carries_secret(graphql_schema.get_type("LoginInput"))  # type: ignore[arg-type]
    assert not carries_secret(graphql_schema.get_type("CreateOrganizationInput"))  # type: ignore[arg-type]


def marked(element: Any) -> bool:
    definition = element.extensions.get("strawberry-definition")
    return bool((getattr(definition, "metadata", None) or {}).get(next(iter(SECRET))))


def carries_secret_argument(argument: Any) -> bool:
    return marked(argument) or carries_secret(argument.type)
