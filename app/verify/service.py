"""Key verification: is this key valid, for this permission, from this address?"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from app import clock
from app.addresses import limit_key
from app.keysets import groups
from app.keysets import keys as keyformat
from app.keysets.imports import presented_material
from app.keysets.keys import KeyMaterial
from app.keysets.lookup import find_by_lookup_hash, move_lookup_hash
from app.keysets.models import ApiKey
from app.keysets.retirement import idle_passed
from app.organizations.models import Membership
from app.permissions.query import PermissionQuery
from app.verifiers.models import Verifier as VerifierRow
from app.verify import credits
from app.verify.cache import Audience, CacheKey, Lookup, VerificationCache, VerifierCache
from app.verify.codes import VerifyCode
from app.verify.ratelimit import VerifyRateLimits
from app.verify.reuse import ReuseDetector
from app.verify.usage import UsageRecorder
from app.verify.verdict import NOT_FOUND, Verdict


def gone(found: Lookup, now: datetime) -> bool:
    """Whether the key no longer verifies at all: its set is revoked, or it was replaced
    and its grace period (or its idle window, app.keysets.retirement) is over. Such a key
    is answered as an unknown one."""
    key = found.key
    return found.key_set.revoked_at is not None or (
        key.current is None
        and (key.valid_until is None or key.valid_until <= now or idle_passed(key, now))
    )


def judge(
    found: Lookup,
    *,
    permission: str | None,
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    now: datetime,
    query: PermissionQuery | None = None,
) -> Verdict:
    """The verdict for a found key, in the contract's order of checks."""
    key_set = found.key_set
    if gone(found, now):
        return NOT_FOUND
    if not key_set.enabled:
        return _verdict(found, VerifyCode.DISABLED)
    if key_set.expires_at is not None and key_set.expires_at <= now:
        return _verdict(found, VerifyCode.EXPIRED)
    if found.networks and (ip is None or not _within(ip, found.networks)):
        return _verdict(found, VerifyCode.FORBIDDEN_IP)
    held = found.held
    missing: tuple[str, ...] = () if permission is None or permission in held else (permission,)
    if query is not None and not query.allows(held):
        missing += tuple(name for name in query.missing(held) if name not in missing)
    if missing:
        return _verdict(found, VerifyCode.INSUFFICIENT_PERMISSION, missing)
    return _verdict(found, VerifyCode.VALID)


# Verdicts one cache entry keeps: the missing names of INSUFFICIENT_PERMISSION follow the
# queries callers send, which they choose.
MAX_VERDICTS = 64

# A kept verdict is right only while its entry is as the database has it: every change to
# a key set evicts the set's entries. With checking on (KEYRACK_CHECK_VERDICT_CACHE=1; the
# test suite turns it on, see tests/support/verdict_check.py) every kept verdict served is
# built again and compared, so an entry that changed without an eviction fails the test
# that reaches it instead of answering what it was.
CHECK_VERDICTS = os.environ.get("KEYRACK_CHECK_VERDICT_CACHE") == "1"


class StaleVerdictError(AssertionError):
    """A verdict kept in a cache entry differs from the one its entry gives now."""


def _verdict(found: Lookup, code: VerifyCode, missing: tuple[str, ...] = ()) -> Verdict:
    """The found key's verdict with `code`, built once per cache entry."""
    kept = found.verdicts.get((code, missing))
    if kept is not None and not CHECK_VERDICTS:
        return kept
    verdict = _build_verdict(found, code, missing)
    if kept is not None:
        if kept != verdict:
            raise StaleVerdictError(f"kept: {kept}\nbuilt: {verdict}")
        return kept
    if len(found.verdicts) < MAX_VERDICTS:
        found.verdicts[(code, missing)] = verdict
    return verdict


def _build_verdict(found: Lookup, code: VerifyCode, missing: tuple[str, ...]) -> Verdict:
    key, key_set = found.key, found.key_set
    deprecated = key.current is None
    return Verdict(
        code=code,
        key_set_id=key_set.id,
        key_set_label=key_set.label,
        organization_id=key_set.organization_id,
        system_id=key_set.system_id,
        permissions=found.permissions,
        slot=key.slot.value,
        expires_at=key_set.expires_at,
        deprecated=deprecated,
        valid_until=key.valid_until if deprecated else None,
        external_id=key_set.external_id,
        meta=key_set.meta,
        missing=missing,
    )


def _within(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
    networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> bool:
    """Whether `ip` is in one of `networks`. An IPv4 address and its IPv4-mapped IPv6 form
    (`::ffff:203.0.113.7`, as dual-stack sockets report IPv4 callers) are one address."""
    forms: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        forms.append(ip.ipv4_mapped)
    elif isinstance(ip, ipaddress.IPv4Address):
        forms.append(ipaddress.IPv6Address(f"::ffff:{ip}"))
    return any(form in network for network in networks for form in forms)


def audience_of(verifier: VerifierRow) -> Audience:
    """What a verifier may check: everything (instance), an organization with its
    systems, or one system."""
    organization_id = verifier.organization_id
    return Audience(
        counter=f"verifier:{verifier.id}",
        organization_ids=frozenset({organization_id}) if organization_id is not None else None,
        system_id=verifier.system_id,
        verifier_id=verifier.id,
    )


async def audience_of_member(*, user_id: int | None, address: str | None) -> Audience:
    """GraphQL `verifyKey`'s audience: the organizations the caller is a member of (none
    for an anonymous caller, whose unknown keys count against their address)."""
    if user_id is None:
        return Audience(
            counter=f"address:{limit_key(address) if address else None}",
            organization_ids=frozenset(),
        )
    organization_ids = await Membership.filter(user_id=user_id).values_list(
        "organization_id", flat=True
    )
    return Audience(
        counter=f"user:{user_id}",
        organization_ids=frozenset(int(pk) for pk in organization_ids),  # type: ignore[call-overload]
    )


async def _with_credits(
    found: Lookup, verdict: Verdict, spending: credits.Credits, cost: int
) -> Verdict:
    """A valid verdict spends `cost` (or turns USAGE_EXCEEDED); any other reads what is left."""
    key_set_id = found.key_set.id
    if not verdict.valid:
        return verdict.with_remaining(await spending.left(key_set_id))
    spent = await spending.spend(key_set_id, cost, found.key_set.credits_epoch)
    if spent.covered:
        return verdict.with_remaining(spent.remaining)
    return _verdict(found, VerifyCode.USAGE_EXCEEDED).with_remaining(spent.remaining)


@lru_cache(maxsize=1024)
def _rate_limited(retry_after: int) -> Verdict:
    """RATE_LIMITED with `retry_after`: one verdict, and one encoded answer, per value."""
    return Verdict(VerifyCode.RATE_LIMITED, retry_after=retry_after)


class Verifier:
    """The verification pipeline: limits, shape, cached lookup, verdict, usage."""

    def __init__(
        self,
        *,
        keys: KeyMaterial,
        cache: VerificationCache,
        usage: UsageRecorder,
        limits: VerifyRateLimits,
        verifiers: VerifierCache | None = None,
        count_usage: bool = True,
        reuse: ReuseDetector | None = None,
    ) -> None:
        self.keys = keys
        self.count_usage = count_usage
        self.reuse = reuse
        self.cache = cache
        self.usage = usage
        self.limits = limits
        self.verifiers = verifiers or VerifierCache(ttl_seconds=cache.ttl)
        # Credits this process spends, and holds on lease where there are many.
        self.credits = credits.Credits()

    async def authenticate(self, token: str) -> Audience | None:
        """The audience of a live verifier token, else None (no database work for a
        token of the wrong shape)."""
        if len(token) != keyformat.KEY_LENGTH or not token.startswith(keyformat.VERIFIER_PREFIX):
            return None
        cache_key = self.verifiers.key_of(token)
        hit, audience = self.verifiers.get(cache_key)
        if not hit:
            # The checksum only on a miss: a cached token was well formed when it was stored.
            if not keyformat.is_well_formed_verifier_token(token):
                return None
            epoch = self.verifiers.epoch
            lookup_hash = self.keys.lookup_hash(token)
            row = await VerifierRow.get_or_none(lookup_hash=lookup_hash, revoked_at=None)
            if row is None and self.keys.previous:
                row = await self._rehash_verifier(token, lookup_hash)
            audience = audience_of(row) if row is not None else None
            self.verifiers.put(cache_key, audience, epoch=epoch)
        if audience is not None and audience.verifier_id is not None:
            self.usage.record_verifier(verifier_id=audience.verifier_id, at=clock.time())
        return audience

    async def _rehash_verifier(self, token: str, lookup_hash: str) -> VerifierRow | None:
        """A verifier stored under a previous secret (KEYRACK_PREVIOUS_SECRET_KEYS), moved
        to the current one now that its plaintext is here, as keys are."""
        older = self.keys.previous_lookup_hashes(token)
        row = await VerifierRow.filter(lookup_hash__in=older, revoked_at=None).first()
        if row is not None:
            await VerifierRow.filter(id=row.id, lookup_hash=row.lookup_hash).update(
                lookup_hash=lookup_hash
            )
        return row

    async def _lookup(self, cache_key: CacheKey, key: str) -> Lookup | None:
        hit, found = self.cache.get(cache_key)
        if hit:
            return found
        self.cache.misses += 1  # counted here: a malformed key read no further is neither
        pending = self.cache.inflight.get(cache_key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Lookup | None] = asyncio.get_running_loop().create_future()
        self.cache.inflight[cache_key] = future
        epoch = self.cache.epoch
        try:
            if self.keys.previous:
                hit_row = await find_by_lookup_hash(
                    ApiKey, keys=self.keys, plaintext=key, related=("key_set",)
                )
                api_key = hit_row.row if hit_row else None
            else:  # the common case: one exact match on the unique index
                lookup_hash = self.keys.lookup_hash(key)
                api_key = (
                    await ApiKey.filter(lookup_hash=lookup_hash).select_related("key_set").first()
                )
            if api_key is not None and api_key.current is None:
                # A replaced key's idle window counts this process's unflushed uses too.
                api_key.last_used_at = self.usage.latest_use(
                    api_key.id, api_key.key_set_id, api_key.last_used_at
                )
            # A second, small query only on a cache miss: the key set's groups.
            group_permissions = (
                await groups.group_permissions_of(api_key.key_set_id) if api_key else []
            )
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marks it retrieved when nobody was waiting
            raise
        finally:
            if self.cache.inflight.get(cache_key) is future:
                del self.cache.inflight[cache_key]
        found = Lookup.of(api_key, group_permissions) if api_key else None
        future.set_result(found)
        self.cache.put(cache_key, found, epoch=epoch)
        return found

    async def _not_found(self, audience: Audience) -> Verdict:
        """NOT_FOUND, or RATE_LIMITED for a caller that keeps presenting keys we don't
        know (or may not check): that is what guessing looks like. Keys that are found
        count against their key set's limit instead, which keeps the common path to one
        limiter hit."""
        retry_after = await self.limits.hit_unknown(audience.counter)
        if retry_after is not None:
            return _rate_limited(retry_after)
        return NOT_FOUND

    async def verify(
        self,
        *,
        key: str,
        audience: Audience,
        permission: str | None = None,
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None,
        organization_id: int | None = None,
        system_id: int | None = None,
        cost: int = 1,
        query: PermissionQuery | None = None,
    ) -> Verdict:
        """The cache first, then shape and checksum (no database work for a malformed
        key), then the database.

        A key outside the audience, or outside the organization or system the caller
        names, is answered exactly as an unknown key, limits included. A key set with
        credits spends `cost` of them on a valid verification (USAGE_EXCEEDED, nothing
        spent, when they do not cover it); its answers all carry what is left.
        """
        if audience.organization_ids == frozenset():
            # No database work, and nothing cached, for a caller who may check no key
            # at all (GraphQL's verifyKey from someone in no organization, or anonymous).
            return await self._not_found(audience)
        # A Keyrack-shaped key is looked up in the cache first: one there, found or
        # unknown, was well formed when it was stored (no other stored text has its
        # prefix), so its checksum is read on a miss only, as `authenticate` does for tokens.
        cache_key = self.cache.key_of(key) if keyformat.has_key_shape(key) else None
        hit, found = (False, None) if cache_key is None else self.cache.get(cache_key)
        if not hit or cache_key is None:
            # A key of another format may be an imported one, known by its digest (app.
            # keysets.imports); a malformed Keyrack-shaped key gets no database work.
            material = key if keyformat.is_well_formed(key) else presented_material(key)
            if material is None:
                return await self._not_found(audience)
            if material is not key or cache_key is None:
                key = material  # what the lookup hash is of, under every honoured secret
                cache_key = self.cache.key_of(key)
            found = await self._lookup(cache_key, key)
        if found is None:
            verdict = await self._not_found(audience)
            if verdict is NOT_FOUND and self.reuse is not None:
                await self.reuse.unknown_key(
                    lookup_hash=self.keys.lookup_hash(key),
                    older=lambda: self.keys.previous_lookup_hashes(key),
                    audience=audience,
                    ip=ip,
                )
            return verdict
        key_set = found.key_set
        owner_id, key_system_id = key_set.organization_id, key_set.system_id
        if (
            not audience.covers(owner_id, key_system_id)
            or (organization_id is not None and organization_id != owner_id)
            or (system_id is not None and system_id != key_system_id)
        ):
            return await self._not_found(audience)
        now = clock.now()
        if gone(found, now):
            # As an unknown key, limits included: a replaced key past its grace must not
            # use up its set's limit (and so lock out the live key), nor answer otherwise.
            verdict = await self._not_found(audience)
            if verdict is NOT_FOUND and self.reuse is not None and audience.verifier_id:
                self.reuse.presented(
                    key_id=found.key.id,
                    key_set_id=key_set.id,
                    verifier_id=audience.verifier_id,
                    ip=ip,
                    at=now,
                )
            return verdict
        retry_after = (
            None
            if self.limits.key_set_within_batch(key_set.id)
            else await self.limits.hit_key_set(key_set.id)
        )
        verifier_id = audience.verifier_id if self.count_usage else None
        if retry_after is not None:
            if verifier_id is not None:
                self.usage.counts.count(
                    key_id=found.key.id,
                    key_set_id=key_set.id,
                    verifier_id=verifier_id,
                    code=VerifyCode.RATE_LIMITED,
                    ip=ip,
                )
            return _rate_limited(retry_after)
        verdict = judge(found, permission=permission, ip=ip, now=now, query=query)
        if key_set.remaining is not None:  # as cached: every change of it evicts the set
            # The common case awaits nothing: a valid verdict paid from this process's lease.
            left = (
                self.credits.spend_held(key_set.id, cost, key_set.credits_epoch)
                if verdict.valid
                else None
            )
            verdict = (
                verdict.with_remaining(left)
                if left is not None
                else await _with_credits(found, verdict, self.credits, cost)
            )
        # Services' traffic only: GraphQL's verifyKey is a member trying a key out.
        if verifier_id is not None and verdict.key_set_id is not None:
            self.usage.counts.count(
                key_id=found.key.id,
                key_set_id=key_set.id,
                verifier_id=verifier_id,
                code=verdict.code,
                ip=ip,
            )
        if verdict.valid:
            self.usage.record(key_id=found.key.id, key_set_id=found.key_set.id, at=now)
            if found.key.first_used_at is None and audience.verifier_id is not None:
                # A service's use, not a member trying the key out with GraphQL's verifyKey:
                # it starts the idle window of the keys this one replaced.
                self.usage.record_first(key_id=found.key.id, at=now)
                found.key.first_used_at = now  # this process records it once
            if verdict.deprecated:  # a retiring key's idle window restarts here, at once
                found.key.last_used_at = now
            if self.keys.previous and found.key.lookup_hash != self.keys.lookup_hash(key):
                # Verified under a previous secret: the plaintext is here, so move it on.
                await move_lookup_hash(ApiKey, pk=found.key.id, keys=self.keys, plaintext=key)
                found.key.lookup_hash = self.keys.lookup_hash(key)
        return verdict
