"""bench.load_faults.processes.server_errors: what a benchmark reports of keyrack's log."""

from __future__ import annotations

from pathlib import Path

from bench.load_faults.processes import server_errors

# uvicorn's report of an exception no layer handled (the soak's unexplained HTTP 500),
# between two of keyrack's own lines.
LOG = """\
2026-12-08 03:17:25,432 WARNING keyrack.graphql: Database unavailable in updateKeySet: TimeoutError
ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "/venv/site-packages/starlette/requests.py", line 259, in body
    async for chunk in stream:
  File "/venv/site-packages/starlette/requests.py", line 252, in stream
    raise ClientDisconnect()
starlette.requests.ClientDisconnect
2026-12-08 03:17:26,001 ERROR keyrack.verify: Unexpected error in key verification
Traceback (most recent call last):
  File "/app/verify/service.py", line 1, in verify
KeyError: 'x'
INFO:     Shutting down
"""


def test_an_unhandled_exception_is_named_whatever_its_name_ends_with(tmp_path: Path) -> None:
    # given
    log = tmp_path / "keyrack.log"
    log.write_text(LOG)

    # when
    found = server_errors(log)

    # then: the exception is named (it used to read "?" unless its name ended in Error or
    # Exception), and keyrack's own error line is counted too; warnings are not errors
    assert found == [
        "1 x unhandled, HTTP 500: starlette.requests.ClientDisconnect",
        "1 x keyrack.verify: Unexpected error in key verification",
    ]
