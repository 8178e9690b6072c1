"""Input rules shared by every domain: trimmed names, emails, passwords, ids."""

from __future__ import annotations

import re
import unicodedata

from app.errors import InvalidInput

MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
MIN_PASSWORD_LENGTH = 10
# Long enough for any passphrase, short enough that hashing it is not a lever for abuse.
MAX_PASSWORD_LENGTH = 256

# One mailbox, as a mail server reads it: no character that RFC 5321/5322 would read as a
# separator, a quote, a comment, a route or a display name (a comma made
# `root,postmaster,victim@example.net` three recipients), no whitespace or control.
_NOT_IN_EMAIL = r"@\s,;:\"<>()\[\]\\\x00-\x1f\x7f"
_EMAIL = re.compile(rf"^[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}.]+(\.[^{_NOT_IN_EMAIL}.]+)+$")
# Control characters (NUL cannot even be stored in PostgreSQL text) and lone surrogates
# (not encodable as UTF-8) have no place in names, labels, emails or passwords.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


# Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties): zero-width spaces and
# joiners, soft hyphens, bidirectional marks, variation selectors, tags... Invisible, so
# two names that differ only by them look the same to whoever reads or types them.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def canonical_text(value: str) -> str:
    """One spelling for text that reads the same: NFKC (full-width letters, ligatures and
    other compatibility forms become plain ones), then invisible characters removed."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", value))


def storable(value: str) -> bool:
    """Whether every database can store (and compare) `value` faithfully."""
    return not _UNSTORABLE.search(value)


def check_text(value: str, *, field: str) -> str:
    """Refuses text that no database can store faithfully."""
    if not storable(value):
        raise InvalidInput(f"{field} contains characters that are not allowed.", field=field)
    return value


def clean_name(value: str, *, field: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """Trimmed name or label in its canonical spelling (so lookalikes collide as the
    duplicates they are); blank or too long is invalid."""
    cleaned = check_text(canonical_text(check_text(value, field=field)), field=field).strip()
    if not cleaned:
        raise InvalidInput(f"{field} must not be blank.", field=field)
    if len(cleaned) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters.", field=field)
    return cleaned


def clean_email(value: str, *, field: str = "email") -> str:
    cleaned = value.strip().lower()
    if (
        len(cleaned) > MAX_EMAIL_LENGTH
        or _UNSTORABLE.search(cleaned)
        or not _EMAIL.match(cleaned)
        # An RFC 2047 encoded word: a mail header decodes it, so the To line of a mail to
        # `=?utf-8?q?boss=40victim.example=2c_x?=@attacker.example` named someone else.
        or "=?" in cleaned
    ):
        raise InvalidInput("Enter a valid email address.", field=field)
    return cleaned


def check_password(value: str, *, field: str = "password") -> str:
    check_text(value, field=field)
    if len(value) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters.", field=field
        )
    if len(value) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Password must be at most {MAX_PASSWORD_LENGTH} characters.", field=field
        )
    return value


class Unchanged:
    """Marks an update field the caller left out (as opposed to setting it to None)."""

    _instance: Unchanged | None = None

    def __new__(cls) -> Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"

    def __bool__(self) -> bool:
        return False


UNCHANGED = Unchanged()
