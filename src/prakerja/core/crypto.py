"""Personal data at rest: AES-GCM encryption and an HMAC blind index for lookup and uniqueness."""

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import models

_VERSION = "v1"


@cache
def _key(setting_value: str) -> bytes:
    key = base64.b64decode(setting_value)
    if len(key) != 32:
        raise ValueError("PII keys must be 32 bytes, base64-encoded")
    return key


@cache
def _cipher(setting_value: str) -> AESGCM:
    return AESGCM(_key(setting_value))


def encrypt(plaintext: str) -> str:
    """A self-describing token 'v1:<nonce+ciphertext, base64>'; a fresh nonce every time."""
    return encrypt_many([plaintext])[0]


def encrypt_many(plaintexts: Sequence[str]) -> list[str]:
    """`encrypt` of each value, a fresh nonce for every one: for a batch, the key is looked up once and the
    nonces are drawn from the system's generator in one call."""
    seal = _cipher(settings.PII_KEY).encrypt
    aad, prefix = _VERSION.encode(), f"{_VERSION}:"
    nonces = os.urandom(12 * len(plaintexts))
    tokens = []
    for start, plaintext in zip(range(0, len(nonces), 12), plaintexts, strict=True):
        nonce = nonces[start : start + 12]
        sealed = seal(nonce, plaintext.encode(), aad)
        tokens.append(prefix + binascii.b2a_base64(nonce + sealed, newline=False).decode())
    return tokens


def decrypt(token: str) -> str:
    version, _, payload = token.partition(":")
    if version != _VERSION:
        raise ValueError("unknown encryption version")
    raw = base64.b64decode(payload)
    return _cipher(settings.PII_KEY).decrypt(raw[:12], raw[12:], _VERSION.encode()).decode()


@cache
def _keyed_hmac(setting_value: str) -> "hmac.HMAC":
    return hmac.new(_key(setting_value), digestmod=hashlib.sha256)


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed, deterministic digest: equal values give equal indexes, yet the value cannot be read back."""
    return blind_indexes([value], purpose=purpose)[0]


def blind_indexes(values: Iterable[str], *, purpose: str) -> list[str]:
    """`blind_index` of each value: for a batch, the key is looked up once."""
    keyed = _keyed_hmac(settings.BLIND_INDEX_KEY)
    indexes = []
    for value in values:
        digest = keyed.copy()  # the keyed state is set up once, then copied
        digest.update(f"{purpose}:{value.strip()}".encode())
        indexes.append(digest.hexdigest())
    return indexes


def mask(value: str, visible: int = 4) -> str:
    """'3276014501990003' -> '************0003'."""
    return "*" * max(len(value) - visible, 0) + value[-visible:]


class EncryptedTextField(models.TextField):
    """Text encrypted at rest; it cannot be filtered on: look it up through a blind index column."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        return value if value in (None, "") else decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)
