"""Text JSON cannot carry as it is (a lone UTF-16 surrogate) gets an escaped answer, not a
500: responses are written with orjson, which refuses such text, and error messages may
echo what the request sent."""

from __future__ import annotations

import httpx

# JSON escapes decode to a lone surrogate: valid JSON, not valid Unicode text.
DATETIME_VARIABLE = (
    b'{"query": "query($d: DateTime) { node(id: \\"x\\") '
    b'{ ... on KeySet { usage(since: $d) { total } } } }", "variables": {"d": "x\\ud800"}}'
)
OPERATION_NAME = b'{"query": "query A { __typename }", "operationName": "\\ud800"}'
JSON = {"content-type": "application/json"}


async def test_a_variable_echoed_in_an_error_is_escaped(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", content=DATETIME_VARIABLE, headers=JSON)
    assert response.status_code == 200
    assert b"\\ud800" in response.content
    [error] = response.json()["errors"]
    assert "DateTime" in error["message"]


async def test_an_operation_name_echoed_in_an_error_is_escaped(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", content=OPERATION_NAME, headers=JSON)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
