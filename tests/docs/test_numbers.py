"""Numbers the pages state that the code knows: each one is held to the code here.

The configuration page's table is checked whole (every setting, its default); numbers in
prose are found by the words around them, so a page that rewords one fails here and is
looked at again rather than left to go stale.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from datetime import timedelta

import pytest
from pydantic import SecretStr

from app.accounts.service import LoginThrottle
from app.accounts.step_up import FAILURE_WINDOW, MAX_FAILURES
from app.edges.verify import MAX_BODY_BYTES
from app.graphql.keysets.filters import MAX_LABEL_CONTAINS
from app.keysets.hygiene import IDLE_SLOT_AFTER, UNUSED_AFTER
from app.keysets.policy import MAX_LIFETIME_SECONDS, MAX_MEMBER_KEY_SET_LIMIT, MIN_LIFETIME_SECONDS
from app.keysets.rules import MAX_GRACE_SECONDS
from app.organizations.invitations import INVITATION_TTL
from app.settings import Settings
from app.storage.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from app.validation import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from app.verify.cache import VerificationCache
from app.webhooks.rules import MAX_URL_LENGTH
from app.webhooks.service import MAX_WEBHOOKS_PER_ORGANIZATION
from tests.docs.pages import ROOT, page_path
from tests.graphql.test_authorization_matrix import MATRIX, ROLES, ROWS

DEFAULTS = Settings.model_construct()
# The coverage floor that the tests page states.
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# Defaults the table describes in words rather than as a value.
DESCRIBED = {
    "database_url": "`sqlite://<cwd>/keyrack.db`",
    "secret_key": "generated into `keyrack.secret` (SQLite only)",
}


def _text(page: str) -> str:
    """The page with every run of white space one space, so line breaks do not matter."""
    return re.sub(r"\s+", " ", page_path(page).read_text(encoding="utf-8"))


def _number(text: str) -> float:
    return float(re.sub(r"[ ,]", "", text))


def _table_rows() -> list[tuple[list[str], str]]:
    rows = []
    for line in page_path("operating/configuration.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        names = re.findall(r"`KEYRACK_([A-Z_]+)`", cells[0]) if len(cells) == 3 else []
        if names:
            rows.append(([name.lower() for name in names], cells[1]))
    return rows


def test_the_configuration_table_lists_every_setting_once() -> None:
    # given
    documented = [name for names, _ in _table_rows() for name in names]

    # then
    assert sorted(documented) == sorted(Settings.model_fields)


@pytest.mark.parametrize(
    ("names", "default"),
    _table_rows(),
    ids=[",".join(f"KEYRACK_{name.upper()}" for name in names) for names, _ in _table_rows()],
)
def test_the_configuration_table_gives_each_settings_default(
    names: list[str], default: str
) -> None:
    for name in names:
        # given
        value = getattr(DEFAULTS, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()

        # then
        if name in DESCRIBED:
            assert default == DESCRIBED[name]
        elif default == "(none)":
            assert value in (None, ""), f"KEYRACK_{name.upper()} has a default: {value!r}"
        elif isinstance(value, bool):
            assert default == f"`{str(value).lower()}`"
        elif isinstance(value, int | float):
            assert _number(default.strip("`")) == value, f"KEYRACK_{name.upper()}"
        else:
            assert default == f"`{value}`", f"KEYRACK_{name.upper()}"


def _hours(seconds: float) -> float:
    return seconds / 3600


def _days(span: timedelta) -> float:
    return span.total_seconds() / 86400


_CACHE = inspect.signature(VerificationCache).parameters

# (page, words around one or more numbers (each a group), what the code says they are)
CLAIMS: list[tuple[str, str, tuple[float, ...]]] = [
    ("README.md", r"Sessions last (\d+) hours", (_hours(DEFAULTS.session_ttl_seconds),)),
    (
        "getting-started.md",
        r"Sessions last (\d+) hours",
        (_hours(DEFAULTS.session_ttl_seconds),),
    ),
    (
        "using/accounts.md",
        r"Sessions last (\d+) hours \(`KEYRACK_SESSION_TTL_SECONDS`\)",
        (_hours(DEFAULTS.session_ttl_seconds),),
    ),
    (
        "using/accounts.md",
        r"After (\d+) failures for one email, or (\d+) from one address, within (\d+) minutes",
        (
            DEFAULTS.login_failures_per_account,
            DEFAULTS.login_failures_per_address,
            DEFAULTS.login_throttle_window_seconds / 60,
        ),
    ),
    (
        "using/accounts.md",
        r"after (\d+) in (\d+) minutes further attempts get `TOO_MANY_ATTEMPTS`",
        (MAX_FAILURES, FAILURE_WINDOW.total_seconds() / 60),
    ),
    (
        "using/accounts.md",
        r"the sign-up rule \((\d+) to (\d+) characters\)",
        (MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH),
    ),
    (
        "using/accounts.md",
        r"at most (\d+) are mailed per account and hour",
        (DEFAULTS.mail_resets_per_account_per_hour,),
    ),
    (
        "using/organizations.md",
        r"`first` (\d+)–(\d+), default (\d+)",
        (1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
    ),
    (
        "using/organizations.md",
        r"The token is good once and for (\d+) days",
        (_days(INVITATION_TTL),),
    ),
    (
        "using/step-up.md",
        r"without codes for (\d+) minutes \(`KEYRACK_STEP_UP_TTL_SECONDS`\)",
        (DEFAULTS.step_up_ttl_seconds / 60,),
    ),
    (
        "using/step-up.md",
        r"`TOO_MANY_ATTEMPTS` \| (\d+) wrong or reused codes .{0,60} within (\d+) minutes",
        (MAX_FAILURES, FAILURE_WINDOW.total_seconds() / 60),
    ),
    (
        "using/key-policy.md",
        r"`maxLifetimeSeconds` \| none \| (\d+) – (\d+) \((\d+) years\)",
        (MIN_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS / 86400 / 365),
    ),
    (
        "using/key-policy.md",
        r"`maxGracePeriodSeconds` \| (\d+) \((\d+) days\) \| 0 – (\d+)",
        (MAX_GRACE_SECONDS, MAX_GRACE_SECONDS / 86400, MAX_GRACE_SECONDS),
    ),
    (
        "using/key-policy.md",
        r"`memberKeySetLimit` \| 0 \| 0 – (\d+)",
        (MAX_MEMBER_KEY_SET_LIMIT,),
    ),
    (
        "using/usage.md",
        r"`KEYRACK_USAGE_FLUSH_SECONDS` \((\d+) s\)",
        (DEFAULTS.usage_flush_seconds,),
    ),
    (
        "using/usage.md",
        r"`KEYRACK_RECENT_USE_SECONDS` \(default (\d+);",
        (DEFAULTS.recent_use_seconds,),
    ),
    (
        "using/usage.md",
        r"`KEYRACK_USAGE_MAX_ADDRESSES` \(default (\d+)\)",
        (DEFAULTS.usage_max_addresses,),
    ),
    (
        "using/usage.md",
        r"`KEYRACK_USAGE_RETENTION_DAYS` \(default (\d+)\)",
        (DEFAULTS.usage_retention_days,),
    ),
    (
        "using/verification.md",
        r"`KEYRACK_VERIFY_CACHE_TTL_SECONDS` \(default (\d+) s\)",
        (DEFAULTS.verify_cache_ttl_seconds,),
    ),
    (
        "using/verification.md",
        r"`KEYRACK_VERIFY_RATE_LIMIT` \(default ([\d ]+), i\.e\. ([\d ]+)/s\)",
        (DEFAULTS.verify_rate_limit, DEFAULTS.verify_rate_limit / 60),
    ),
    (
        "using/verification.md",
        r"`KEYRACK_VERIFY_UNKNOWN_RATE_LIMIT` \(default ([\d ]+);",
        (DEFAULTS.verify_unknown_rate_limit,),
    ),
    (
        "using/verification.md",
        r"`KEYRACK_VERIFY_ADDRESS_RATE_LIMIT` \(default ([\d ]+)\)",
        (DEFAULTS.verify_address_rate_limit,),
    ),
    ("using/verification.md", r"over (\d+) KiB, a 413", (MAX_BODY_BYTES / 1024,)),
    (
        "using/verification.md",
        r"two tables of ([\d,]+) entries each",
        (_CACHE["max_entries"].default,),
    ),
    (
        "using/verification.md",
        r"two tables of ([\d,]+) entries each",
        (_CACHE["max_unknown"].default,),
    ),
    (
        "using/webhooks.md",
        r"Up to (\d+) webhooks per organization",
        (MAX_WEBHOOKS_PER_ORGANIZATION,),
    ),
    ("using/webhooks.md", r"at most ([\d,]+) characters", (MAX_URL_LENGTH,)),
    (
        "using/key-sets.md",
        r"themselves, not any text \(at most (\d+) characters\)",
        (MAX_LABEL_CONTAINS,),
    ),
    (
        "using/webhooks.md",
        r"`KEYRACK_WEBHOOK_TIMEOUT_SECONDS`, (\d+) s",
        (DEFAULTS.webhook_timeout_seconds,),
    ),
    (
        "using/webhooks.md",
        r"`KEYRACK_WEBHOOK_CONCURRENCY` \((\d+)\) POSTs in flight, at most "
        r"`KEYRACK_WEBHOOK_ORGANIZATION_CONCURRENCY` \((\d+)\) for one organization and "
        r"`KEYRACK_WEBHOOK_ENDPOINT_CONCURRENCY` \((\d+)\)",
        (
            DEFAULTS.webhook_concurrency,
            DEFAULTS.webhook_organization_concurrency,
            DEFAULTS.webhook_endpoint_concurrency,
        ),
    ),
    (
        "using/webhooks.md",
        r"`KEYRACK_WEBHOOK_INTERVAL_SECONDS`, (\d+) s",
        (DEFAULTS.webhook_interval_seconds,),
    ),
    (
        "using/rotation.md",
        r"`KEYRACK_RETIREMENT_INTERVAL_SECONDS`, default (\d+)",
        (DEFAULTS.retirement_interval_seconds,),
    ),
    (
        "using/audit-proof.md",
        r"`KEYRACK_AUDIT_FULL_CHECK_HOURS` \(default (\d+)\)",
        (DEFAULTS.audit_full_check_hours,),
    ),
    (
        "operating/security.md",
        r"is one table with (\d+) operations .{0,80} It lists (\d+) roles .{0,140} "
        r"another one: ([\d,]+) cells",
        (len(MATRIX), len(ROLES), len(ROWS)),
    ),
    (
        "operating/security.md",
        r"An address may try `signUp` (\d+) times an hour",
        (DEFAULTS.signups_per_address,),
    ),
    (
        "operating/security.md",
        r"past its failures \((\d+) in (\d+) minutes\), .{0,140} within the last (\d+) "
        r"days\*\*; for those, only the account's own limit \((\d+)\) applies",
        (
            DEFAULTS.login_failures_per_address,
            DEFAULTS.login_throttle_window_seconds / 60,
            _days(LoginThrottle().known_address_for),
            DEFAULTS.login_failures_per_account,
        ),
    ),
    (
        "using/leaks.md",
        r"`KEYRACK_LEAK_REPORT_RATE_LIMIT` keys an hour \(default (\d+), per process",
        (DEFAULTS.leak_report_rate_limit,),
    ),
    (
        "using/leaks.md",
        r"`UNUSED` \| no successful verification for (\d+) days, or never and created more "
        r"than (\d+) days ago",
        (_days(UNUSED_AFTER), _days(UNUSED_AFTER)),
    ),
    (
        "using/leaks.md",
        r"`SLOT_NEVER_USED` \| one key was never used in its (\d+) days",
        (_days(IDLE_SLOT_AFTER),),
    ),
    (
        "developing/tests.md",
        r"fails below the floor, `coverage-floor = ([\d.]+)`",
        (PYPROJECT["tool"]["keyrack"]["coverage-floor"],),
    ),
]


@pytest.mark.parametrize(
    ("page", "words", "numbers"),
    CLAIMS,
    ids=[f"{page}: {words[:40]}" for page, words, _ in CLAIMS],
)
def test_a_number_in_the_prose_is_the_codes(
    page: str, words: str, numbers: tuple[float, ...]
) -> None:
    # given
    found = re.search(words, _text(page))

    # then
    assert found, f"{page} no longer says {words!r}: reword the claim here too"
    assert tuple(_number(group) for group in found.groups()) == tuple(map(float, numbers))
