"""The verification limits count exactly under 2 000 a minute and in small batches above."""

from __future__ import annotations

from app.verify.ratelimit import VerifyRateLimits


async def test_a_small_limit_is_exact() -> None:
    limits = VerifyRateLimits(per_key_set=5, per_address=0)

    answers = [await limits.hit_key_set(1) for _ in range(7)]

    assert answers[:5] == [None] * 5
    assert all(isinstance(a, int) and 1 <= a <= 60 for a in answers[5:])


async def test_a_large_limit_overshoots_by_less_than_one_batch() -> None:
    # given: 4 000 a minute, counted in batches of 4
    limits = VerifyRateLimits(per_key_set=4_000, per_address=0)

    # when
    answers = [await limits.hit_key_set(7) for _ in range(4_010)]

    # then: the first 4 000 pass, and from the first refusal on everything is refused
    assert answers[:4_000] == [None] * 4_000
    first_refusal = next(i for i, answer in enumerate(answers) if answer is not None)
    assert first_refusal < 4_004
    assert all(answer is not None for answer in answers[first_refusal:])


async def test_hits_counted_without_an_await_reach_the_limit_as_awaited_ones_do() -> None:
    # given: 4 000 a minute, and the verification path's way of hitting it (the batch
    # counted in place, `hit_key_set` awaited only when the batch is full or blocked)
    limits = VerifyRateLimits(per_key_set=4_000, per_address=0)

    async def hit() -> int | None:
        return None if limits.key_set_within_batch(7) else await limits.hit_key_set(7)

    # when
    answers = [await hit() for _ in range(4_010)]

    # then: the same as `hit_key_set` alone
    assert answers[:4_000] == [None] * 4_000
    first_refusal = next(i for i, answer in enumerate(answers) if answer is not None)
    assert first_refusal < 4_004
    assert all(answer is not None for answer in answers[first_refusal:])
    assert limits.key_set_within_batch(7) is False  # blocked: only `hit_key_set` answers


async def test_limits_are_per_key_set_and_per_address() -> None:
    limits = VerifyRateLimits(per_key_set=1, per_address=1)

    assert await limits.hit_key_set(1) is None
    assert await limits.hit_key_set(2) is None
    assert await limits.hit_key_set(1) is not None
    assert await limits.hit_address("192.0.2.1") is None
    assert await limits.hit_address("192.0.2.2") is None
    assert await limits.hit_address("192.0.2.1") is not None


async def test_zero_turns_a_limit_off() -> None:
    limits = VerifyRateLimits(per_key_set=0, per_address=0)

    assert [await limits.hit_key_set(1) for _ in range(100)] == [None] * 100
    assert await limits.hit_address("192.0.2.1") is None
