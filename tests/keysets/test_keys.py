"""Tests for the key format, lookup hashing and key encryption in app.keysets.keys.

Expected values are computed here independently (own base62, zlib, stdlib HKDF) rather
than through the module's private helpers, so an encoding change cannot pass unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.keysets.keys import (
    KEY_LENGTH,
    ORG_PREFIX,
    SYSTEM_PREFIX,
    KeyDecryptionError,
    KeyMaterial,
    Scope,
    generate_key,
    hint,
    is_well_formed,
    scope_of,
)

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SCOPES: list[tuple[Scope, str]] = [("ORGANIZATION", "kro_"), ("SYSTEM", "krs_")]

# Built by hand: prefix + "AbCd" + 39 * "x", checksum = base62(crc32) computed offline.
GOLDEN_KEY = "kro_AbCdxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx3cw7dM"

SECRET_A = "correct horse battery staple, but longer and random"
SECRET_B = "a completely different master secret for keyrack"


def reference_base62(value: int, width: int) -> str:
    text = ""
    while value:
        value, remainder = divmod(value, 62)
        text = ALPHABET[remainder] + text
    assert len(text) <= width
    return text.rjust(width, "0")


def reference_key(prefix: str, random_part: str) -> str:
    body = prefix + random_part
    return body + reference_base62(zlib.crc32(body.encode("ascii")), 6)


def reference_hkdf_sha256(master: bytes, info: bytes) -> bytes:
    # RFC 5869 with a single output block (32 bytes), stdlib only.
    prk = hmac.digest(b"keyrack", master, hashlib.sha256)
    return hmac.digest(prk, info + b"\x01", hashlib.sha256)


# --- format -------------------------------------------------------------------------


def test_key_length_is_prefix_plus_43_plus_6() -> None:
    assert KEY_LENGTH == 53
    assert (ORG_PREFIX, SYSTEM_PREFIX) == ("kro_", "krs_")


@pytest.mark.parametrize(("scope", "prefix"), SCOPES)
def test_generated_key_has_prefix_length_and_alphabet(scope: Scope, prefix: str) -> None:
    # when
    key = generate_key(scope)

    # then
    assert key.startswith(prefix)
    assert len(key) == KEY_LENGTH
    assert re.fullmatch(r"[0-9A-Za-z]{49}", key[4:])


@pytest.mark.parametrize(("scope", "prefix"), SCOPES)
def test_generated_key_checksum_is_crc32_of_prefix_and_random_part(
    scope: Scope, prefix: str
) -> None:
    key = generate_key(scope)

    assert key == reference_key(prefix, key[4:47])


@given(random_part=st.text(alphabet=ALPHABET, min_size=43, max_size=43))
def test_any_key_with_the_reference_checksum_is_well_formed_and_one_change_is_not(
    random_part: str,
) -> None:
    # given: a random part below 2**256 (the greatest 43 digits are above it)
    random_part = "0" + random_part[1:]
    key = reference_key("kro_", random_part)
    # when / then: the checksum is read the same way the reference writes it
    assert is_well_formed(key)
    last = key[-1]
    assert not is_well_formed(key[:-1] + ("0" if last != "0" else "1"))


@pytest.mark.parametrize(
    ("random_bytes", "expected_random_part"),
    [
        (b"\x00" * 32, "0" * 43),
        (b"\x00" * 31 + b"\x3d", "0" * 42 + "z"),
        (b"\xff" * 32, reference_base62(2**256 - 1, 43)),
    ],
)
def test_random_part_is_fixed_width_base62_of_the_random_bytes(
    monkeypatch: pytest.MonkeyPatch, random_bytes: bytes, expected_random_part: str
) -> None:
    # given: only the random source is fixed, to pin the encoding of its output
    monkeypatch.setattr(secrets, "token_bytes", lambda n: random_bytes[:n])

    # when
    key = generate_key("SYSTEM")

    # then
    assert key == reference_key("krs_", expected_random_part)
    assert is_well_formed(key)


def test_generate_key_rejects_unknown_scope() -> None:
    with pytest.raises(ValueError, match="scope"):
        generate_key("USER")  # type: ignore[arg-type]


def test_thousand_generated_keys_are_unique_and_well_formed() -> None:
    generated = [generate_key("ORGANIZATION") for _ in range(500)]
    generated += [generate_key("SYSTEM") for _ in range(500)]

    assert len(set(generated)) == 1000
    assert all(is_well_formed(key) for key in generated)


def test_golden_key_is_well_formed() -> None:
    assert is_well_formed(GOLDEN_KEY)
    assert reference_key("kro_", "AbCd" + "x" * 39) == GOLDEN_KEY


@pytest.mark.parametrize(("scope", "prefix"), SCOPES)
def test_every_single_character_substitution_is_rejected(scope: Scope, prefix: str) -> None:
    # given
    key = generate_key(scope)

    # when: every position replaced by every other alphabet character
    accepted = [
        (position, char)
        for position in range(len(key))
        for char in ALPHABET
        if char != key[position] and is_well_formed(key[:position] + char + key[position + 1 :])
    ]

    # then
    assert accepted == []


def test_adjacent_transpositions_are_rejected() -> None:
    key = generate_key("ORGANIZATION")

    accepted = [
        position
        for position in range(len(key) - 1)
        if key[position] != key[position + 1]
        and is_well_formed(key[:position] + key[position + 1] + key[position] + key[position + 2 :])
    ]

    assert accepted == []


def test_switching_prefix_without_new_checksum_is_rejected() -> None:
    # The checksum covers the prefix, so a system key cannot be relabelled.
    key = generate_key("ORGANIZATION")

    assert not is_well_formed(SYSTEM_PREFIX + key[4:])


@pytest.mark.parametrize(
    "candidate",
    [
        None,
        53,
        3.5,
        b"kro_AbCdxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx3cw7dM",
        ["kro_"],
        object(),
        "",
        "kro_",
        "x" * 10_000,
        "kro_" + "A" * 10_000,
        GOLDEN_KEY[:-1],
        GOLDEN_KEY + "0",
        GOLDEN_KEY + "\n",
        " " + GOLDEN_KEY[1:],
        GOLDEN_KEY.upper(),
        "krx_" + GOLDEN_KEY[4:],
        "KRO_" + GOLDEN_KEY[4:],
        "kro-" + GOLDEN_KEY[4:],
        GOLDEN_KEY[:-6] + "000000",
        GOLDEN_KEY[:10] + "-" + GOLDEN_KEY[11:],
        "\x00" * 53,
        "\ud800" * 53,
    ],
)
def test_is_well_formed_rejects_without_raising(candidate: object) -> None:
    assert is_well_formed(candidate) is False


def test_is_well_formed_rejects_right_length_with_bad_checksum() -> None:
    # given: a valid key whose checksum is replaced by a different valid-looking one
    key = generate_key("ORGANIZATION")
    correct = key[-6:]
    wrong = "zzzzzz" if correct != "zzzzzz" else "000000"

    # then
    assert len(key[:-6] + wrong) == KEY_LENGTH
    assert not is_well_formed(key[:-6] + wrong)


def test_is_well_formed_rejects_non_ascii_alphanumerics_with_matching_checksum() -> None:
    # given: Arabic-Indic digit three, alphanumeric for str.isalnum but not base62
    body = "kro_" + "A" * 10 + "\u0663" + "A" * 32
    candidate = body + reference_base62(zlib.crc32(body.encode("utf-8")), 6)

    assert len(candidate) == KEY_LENGTH
    assert not is_well_formed(candidate)


@pytest.mark.parametrize("prefix", ["krx_", "kro-", "KRO_", "kr0_", "sk__"])
def test_is_well_formed_rejects_unknown_prefix_even_with_matching_checksum(prefix: str) -> None:
    candidate = reference_key(prefix, "AbCd" + "x" * 39)

    assert len(candidate) == KEY_LENGTH
    assert not is_well_formed(candidate)


@pytest.mark.parametrize("char", ["-", "_", "+", "/", "=", " ", "."])
def test_is_well_formed_rejects_non_base62_ascii_with_matching_checksum(char: str) -> None:
    # given: a checksum that matches, so only the alphabet check can reject it
    candidate = reference_key("kro_", "A" * 20 + char + "A" * 22)

    assert len(candidate) == KEY_LENGTH
    assert not is_well_formed(candidate)


def test_is_well_formed_rejects_random_part_above_256_bits() -> None:
    # given: 43 base62 digits can hold slightly more than 32 bytes
    too_large = reference_key("kro_", "z" * 43)
    largest = reference_key("kro_", reference_base62(2**256 - 1, 43))
    one_more = reference_key("kro_", reference_base62(2**256, 43))

    # then
    assert is_well_formed(largest)
    assert not is_well_formed(one_more)
    assert not is_well_formed(too_large)


# --- scope and hint -----------------------------------------------------------------


@pytest.mark.parametrize(("scope", "prefix"), SCOPES)
def test_scope_of_reads_the_prefix(scope: Scope, prefix: str) -> None:
    assert scope_of(generate_key(scope)) == scope


def test_hint_of_golden_key_is_exact() -> None:
    assert hint(GOLDEN_KEY) == "kro_AbCd…w7dM"


@pytest.mark.parametrize(("scope", "prefix"), SCOPES)
def test_hint_is_prefix_four_first_and_four_last_characters(scope: Scope, prefix: str) -> None:
    key = generate_key(scope)

    result = hint(key)

    assert result == f"{prefix}{key[4:8]}\u2026{key[-4:]}"
    assert len(result) == 13


@pytest.mark.parametrize("function", [hint, scope_of])
def test_hint_and_scope_of_reject_malformed_keys_without_echoing_them(
    function: Callable[[str], object],
) -> None:
    # given: a real key with one typo
    key = generate_key("ORGANIZATION")
    typo = key[:20] + ("A" if key[20] != "A" else "B") + key[21:]

    # when
    with pytest.raises(ValueError, match="not a well-formed") as raised:
        function(typo)

    # then
    assert typo not in str(raised.value)
    assert key[4:47] not in str(raised.value)


# --- key material -------------------------------------------------------------------


def test_derive_matches_hkdf_sha256_with_documented_parameters() -> None:
    # The derivation is a storage contract: changing it orphans every stored hash.
    material = KeyMaterial.derive(SECRET_A)

    assert material.pepper == reference_hkdf_sha256(SECRET_A.encode(), b"keyrack/lookup-pepper/v1")
    assert material.encryption_key == reference_hkdf_sha256(
        SECRET_A.encode(), b"keyrack/key-encryption/v1"
    )


def test_derive_is_deterministic_and_separates_pepper_from_encryption_key() -> None:
    first = KeyMaterial.derive(SECRET_A)
    second = KeyMaterial.derive(SECRET_A)

    assert first == second
    assert len(first.pepper) == len(first.encryption_key) == 32
    assert first.pepper != first.encryption_key


def test_derive_of_different_secrets_gives_different_material() -> None:
    a = KeyMaterial.derive(SECRET_A)
    b = KeyMaterial.derive(SECRET_B)

    assert a.pepper != b.pepper
    assert a.encryption_key != b.encryption_key


def test_derive_rejects_empty_secret() -> None:
    with pytest.raises(ValueError, match="empty"):
        KeyMaterial.derive("")


@pytest.mark.parametrize(("pepper", "encryption_key"), [(b"", b"k" * 32), (b"p" * 32, b"k" * 16)])
def test_key_material_requires_32_byte_secrets(pepper: bytes, encryption_key: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        KeyMaterial(pepper=pepper, encryption_key=encryption_key)


def test_repr_and_str_reveal_no_secret() -> None:
    material = KeyMaterial.derive(SECRET_A)

    for text in (repr(material), str(material), f"{material!r}", f"{[material]}"):
        assert "<redacted>" in text
        for secret in (material.pepper, material.encryption_key):
            assert secret.hex() not in text
            assert repr(secret) not in text
            assert secret.hex()[:8] not in text


# --- lookup hash --------------------------------------------------------------------


def test_lookup_hash_is_hex_hmac_sha256_of_the_key_under_the_pepper() -> None:
    material = KeyMaterial.derive(SECRET_A)

    result = material.lookup_hash(GOLDEN_KEY)

    assert re.fullmatch(r"[0-9a-f]{64}", result)
    assert result == hmac.new(material.pepper, GOLDEN_KEY.encode(), hashlib.sha256).hexdigest()
    assert result != hashlib.sha256(GOLDEN_KEY.encode()).hexdigest()


@given(key=st.text(max_size=300), secret=st.text(min_size=1, max_size=80))
def test_lookup_hash_is_the_standard_hmac_for_any_text_and_secret(key: str, secret: str) -> None:
    # given: any master secret, and any text (keys of other formats are hashed as given)
    material = KeyMaterial.derive(secret.encode("utf-8", "surrogatepass").decode("latin-1"))
    key = key.encode("utf-8", "surrogatepass").decode("utf-8", "replace")

    assert (
        material.lookup_hash(key)
        == hmac.new(material.pepper, key.encode(), hashlib.sha256).hexdigest()
    )


def test_lookup_hash_is_deterministic() -> None:
    key = generate_key("ORGANIZATION")

    first = KeyMaterial.derive(SECRET_A).lookup_hash(key)
    second = KeyMaterial.derive(SECRET_A).lookup_hash(key)

    assert first == second


def test_lookup_hash_differs_per_key() -> None:
    material = KeyMaterial.derive(SECRET_A)
    key_a, key_b = generate_key("ORGANIZATION"), generate_key("ORGANIZATION")

    assert material.lookup_hash(key_a) != material.lookup_hash(key_b)


def test_lookup_hash_differs_per_master_secret() -> None:
    key = generate_key("SYSTEM")

    assert KeyMaterial.derive(SECRET_A).lookup_hash(key) != KeyMaterial.derive(
        SECRET_B
    ).lookup_hash(key)


# --- encryption ---------------------------------------------------------------------


def test_encrypt_decrypt_round_trip() -> None:
    # given
    material = KeyMaterial.derive(SECRET_A)
    key = generate_key("ORGANIZATION")

    # when
    blob = material.encrypt(key, key_set_id=7, slot="primary")

    # then
    assert material.decrypt(blob, key_set_id=7, slot="primary") == key
    assert KeyMaterial.derive(SECRET_A).decrypt(blob, key_set_id=7, slot="primary") == key


def test_encrypt_uses_fresh_nonce_and_hides_plaintext() -> None:
    material = KeyMaterial.derive(SECRET_A)
    key = generate_key("SYSTEM")

    first = material.encrypt(key, key_set_id=1, slot="a")
    second = material.encrypt(key, key_set_id=1, slot="a")

    assert first != second
    assert first[:12] != second[:12]
    assert len(first) == 12 + KEY_LENGTH + 16
    assert key.encode() not in first
    assert key[4:47].encode() not in first


@pytest.mark.parametrize(
    ("master_secret", "key_set_id", "slot"),
    [
        (SECRET_A, 8, "primary"),
        (SECRET_A, 7, "secondary"),
        (SECRET_A, 7, "Primary"),
        (SECRET_A, 7, "primary/"),
        (SECRET_B, 7, "primary"),
    ],
    ids=["wrong-key-set", "wrong-slot", "slot-case", "slot-suffix", "wrong-master-secret"],
)
def test_decrypt_with_wrong_binding_or_secret_fails(
    master_secret: str, key_set_id: int, slot: str
) -> None:
    # given
    key = generate_key("ORGANIZATION")
    blob = KeyMaterial.derive(SECRET_A).encrypt(key, key_set_id=7, slot="primary")

    # when
    with pytest.raises(KeyDecryptionError) as raised:
        KeyMaterial.derive(master_secret).decrypt(blob, key_set_id=key_set_id, slot=slot)

    # then
    assert key not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_decrypt_rejects_every_single_flipped_bit_position() -> None:
    # given
    material = KeyMaterial.derive(SECRET_A)
    blob = material.encrypt(generate_key("SYSTEM"), key_set_id=3, slot="s")

    # when: one bit flipped in each byte in turn (nonce, ciphertext and tag)
    survived = []
    for index in range(len(blob)):
        tampered = blob[:index] + bytes([blob[index] ^ 0x01]) + blob[index + 1 :]
        try:
            material.decrypt(tampered, key_set_id=3, slot="s")
        except KeyDecryptionError:
            continue
        survived.append(index)

    # then
    assert survived == []


@pytest.mark.parametrize("length", [0, 5, 12, 27])
def test_decrypt_rejects_truncated_blobs(length: int) -> None:
    material = KeyMaterial.derive(SECRET_A)
    blob = material.encrypt(generate_key("SYSTEM"), key_set_id=3, slot="s")

    with pytest.raises(KeyDecryptionError):
        material.decrypt(blob[:length], key_set_id=3, slot="s")


def test_associated_data_separates_key_set_id_from_slot() -> None:
    # Without a separator, (1, "2x") and (12, "x") would bind to the same data.
    material = KeyMaterial.derive(SECRET_A)
    blob = material.encrypt(GOLDEN_KEY, key_set_id=1, slot="2x")

    with pytest.raises(KeyDecryptionError):
        material.decrypt(blob, key_set_id=12, slot="x")
