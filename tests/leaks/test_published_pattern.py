"""The regular expression the manual publishes for secret scanners (docs/using/leaks.md)."""

from __future__ import annotations

import re
from pathlib import Path

from app.keysets.keys import generate_key, generate_verifier_token

PAGE = Path(__file__).resolve().parents[2] / "docs" / "using" / "leaks.md"


def published_pattern() -> re.Pattern[str]:
    section = PAGE.read_text(encoding="utf-8").split("## What a scanner looks for", 1)[1]
    found = re.search(r"```text\n(.+?)\n```", section, re.S)
    assert found, "the manual publishes no pattern"
    return re.compile(found[1].strip())


def test_the_published_pattern_finds_every_kind_of_key_and_no_near_miss() -> None:
    # given
    pattern = published_pattern()
    keys = [
        *(generate_key("ORGANIZATION") for _ in range(50)),
        *(generate_key("SYSTEM") for _ in range(50)),
        *(generate_verifier_token() for _ in range(50)),
    ]
    key = keys[0]
    near_misses = [
        "krx_" + key[4:],  # another prefix
        "KRO_" + key[4:],
        key[:-1],  # one character short
        key + "A",  # one too many
        "x" + key,  # inside a longer word
        key[:20] + "-" + key[21:],  # not base62
        "kro-" + key[4:],
    ]

    # when
    found = [pattern.findall(f"API_KEY={candidate}\n") for candidate in keys]
    missed = [candidate for candidate in near_misses if pattern.search(f" {candidate} ")]

    # then: each key exactly, as the scanner's one group
    assert found == [[candidate] for candidate in keys]
    assert missed == []
    assert pattern.findall(f'{{"a": "{keys[1]}", "b": "{keys[100]}"}}') == [keys[1], keys[100]]
