"""A cache entry keeps the verdicts judged from it (app.verify.service): a bounded number,
and, in the suite, each one checked against the entry on every use."""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette

from app import clock
from app.keysets.models import ApiKey, KeySet, KeySetScope, KeySlot
from app.verify import service
from app.verify.cache import Lookup
from app.verify.codes import VerifyCode
from app.verify.service import MAX_VERDICTS, StaleVerdictError, judge
from app.verify.verdict import Verdict


def found_key() -> Lookup:
    """A cache entry for a live key of a set without permissions (models unsaved; the `app`
    fixture only gives them their ORM)."""
    key_set = KeySet(id=1, scope=KeySetScope.ORGANIZATION, organization_id=1, label="Billing")
    key_set.allowed_cidrs, key_set.permissions = [], []
    key = ApiKey(id=1, key_set_id=1, slot=KeySlot.PRIMARY)
    key.key_set = key_set
    return Lookup.of(key)


def test_an_entry_keeps_a_bounded_number_of_verdicts_and_answers_each_caller_right(
    app: Starlette,
) -> None:
    # given
    found = found_key()

    # when: callers ask for ten times as many different permissions as an entry keeps
    names = [f"perm{n}" for n in range(10 * MAX_VERDICTS)]
    verdicts = [judge(found, permission=name, ip=None, now=clock.now()) for name in names]

    # then
    assert len(found.verdicts) <= MAX_VERDICTS
    assert [verdict.missing for verdict in verdicts] == [(name,) for name in names]
    assert {verdict.code for verdict in verdicts} == {VerifyCode.INSUFFICIENT_PERMISSION}


def test_a_verdict_kept_past_a_change_without_an_eviction_fails_the_suite(
    app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: an entry that answered, then changed without the eviction every change makes
    found = found_key()
    first = judge(found, permission=None, ip=None, now=clock.now())
    found.key_set.label = "Renamed"

    # when / then: the suite's checking mode fails on it...
    with pytest.raises(StaleVerdictError):
        judge(found, permission=None, ip=None, now=clock.now())
    # ...where the kept verdict, with the old label, would be served
    monkeypatch.setattr(service, "CHECK_VERDICTS", False)
    assert judge(found, permission=None, ip=None, now=clock.now()) is first
    assert first.key_set_label == "Billing"


def test_an_answer_keeps_a_meta_that_holds_its_place_of_remaining() -> None:
    # given: a verdict whose meta spells the encoding's place for `remaining` (meta is
    # refused such text on the way in; the encoding must not depend on that alone)
    place = "\x00remaining\x00"
    verdict = Verdict(
        VerifyCode.VALID, key_set_id=1, key_set_label="k", meta={place: place, "n": [place]}
    )

    # when
    answer = json.loads(verdict.with_remaining(7).encoded())

    # then
    assert answer["meta"] == {place: place, "n": [place]}
    assert answer["remaining"] == 7
