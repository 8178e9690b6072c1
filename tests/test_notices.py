"""Change-notice payloads: the timed form of this release, the bare id of the previous one,
and anything else ignored rather than raised on the listener's connection."""

from __future__ import annotations

import pytest

from app import notices


@pytest.mark.parametrize(
    ("payload", "parsed"),
    [
        ("12", (12, None)),
        (notices.timed(12, 1764115200.25), (12, 1764115200.25)),
        ("12 1764115200", (12, 1764115200.0)),
        ("12 nan", (12, None)),
        ("12 inf", (12, None)),
        ("12 soon", None),
        ("", None),
        ("-3", None),
        ("١٢", None),  # digits, but not ASCII ones
        ("twelve 1764115200", None),
    ],
)
def test_a_notice_is_read_in_either_form_and_nothing_else(
    payload: str, parsed: tuple[int, float | None] | None
) -> None:
    assert notices.parse(payload) == parsed
