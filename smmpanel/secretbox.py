"""Secrets at rest: provider API keys and webhook secrets, encrypted with the owner's key.

A stored value is ``enc1:`` followed by a Fernet token (AES-128-CBC and
HMAC-SHA256, from `cryptography`) made with SMMPANEL_SECRET_KEY.  A value
without the prefix was written before encryption existed: it is read as it is,
and `smmpanel secrets rotate` encrypts it (a migration cannot: it has no key).
Former keys (SMMPANEL_SECRET_KEY_OLD) are tried when reading, never used to
write; `secrets rotate` re-encrypts their values with the current key.

Domain code calls `seal_secret` before storing and `reveal_secret` after
reading; both use the current settings (see `smmpanel.config.current_settings`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from smmpanel.config import Settings, current_settings

PREFIX = "enc1:"
NEW_KEY_HINT = (
    "make one with `smmpanel secrets new-key` and set it as SMMPANEL_SECRET_KEY "
    "(see docs/operations.md)"
)

PLAIN = "plain"  # written before encryption: readable without a key
OLD_KEY = "old key"  # encrypted with a key of SMMPANEL_SECRET_KEY_OLD
CURRENT_KEY = "current key"


class SecretKeyError(Exception):
    """The secret key is missing, malformed, or does not open a stored value:
    configuration the owner must fix (the command line exits with code 2)."""


def new_key() -> str:
    """A new random key for SMMPANEL_SECRET_KEY (32 bytes, url-safe base64)."""
    return Fernet.generate_key().decode("ascii")


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


class SecretBox:
    """Encrypts with the current key; decrypts with it or any old key."""

    def __init__(self, current: str, old: Sequence[str] = ()) -> None:
        self._current = _fernet(current, "SMMPANEL_SECRET_KEY")
        olds = [_fernet(key, "SMMPANEL_SECRET_KEY_OLD") for key in old]
        self._any = MultiFernet([self._current, *olds])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        """The box of SMMPANEL_SECRET_KEY (and _OLD); SecretKeyError without one."""
        current = settings.secret_key.get_secret_value().strip() if settings.secret_key else ""
        if not current:
            raise SecretKeyError(
                "SMMPANEL_SECRET_KEY is not set: provider keys and webhook secrets are "
                f"encrypted with it; {NEW_KEY_HINT}"
            )
        old = settings.secret_key_old.get_secret_value() if settings.secret_key_old else ""
        return _box(current, tuple(re.split(r"[\s,]+", old.strip())) if old.strip() else ())

    def seal(self, plain: str) -> str:
        return PREFIX + self._current.encrypt(plain.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        """The plain value of a stored one (a value never encrypted is returned as is)."""
        if not is_sealed(stored):
            return stored
        try:
            return self._any.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise SecretKeyError(
                "a stored secret cannot be decrypted with SMMPANEL_SECRET_KEY or "
                "SMMPANEL_SECRET_KEY_OLD: set the key it was encrypted with (a former "
                "key goes in SMMPANEL_SECRET_KEY_OLD)"
            ) from None

    def state(self, stored: str) -> str:
        """PLAIN, OLD_KEY or CURRENT_KEY; SecretKeyError when no key opens it."""
        if not is_sealed(stored):
            return PLAIN
        try:
            self._current.decrypt(stored[len(PREFIX) :].encode("ascii"))
            return CURRENT_KEY
        except InvalidToken:
            self.open(stored)  # raises when no old key opens it either
            return OLD_KEY


def _fernet(key: str, name: str) -> Fernet:
    try:
        return Fernet(key.strip().encode("ascii"))
    except (ValueError, UnicodeError):
        # The message names the variable, never the value.
        raise SecretKeyError(
            f"{name} is not a valid key (32 bytes in url-safe base64); {NEW_KEY_HINT}"
        ) from None


@lru_cache(maxsize=8)
def _box(current: str, old: tuple[str, ...]) -> SecretBox:
    """Boxes by key, so that a read does not rebuild the ciphers each time."""
    return SecretBox(current, old)


def current_box() -> SecretBox:
    """The box of the current settings; SecretKeyError without a key."""
    return SecretBox.from_settings(current_settings())


def seal_secret(plain: str) -> str:
    """`plain` encrypted for storing, with the current key."""
    return current_box().seal(plain)


def reveal_secret(stored: str) -> str:
    """A stored value in plain text: decrypted, or as it is when it was stored
    before encryption existed (no key is needed for those)."""
    return current_box().open(stored) if is_sealed(stored) else stored
