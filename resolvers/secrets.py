"""Automation secrets at rest. With `CAIRN_SECRET_KEY` (a Fernet key, made by
`cairn secret-key`) they are encrypted, so a database dump alone does not reveal them; without it
they are stored as they are, marked so that setting a key later still reads them."""

from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken

SECRET_KEY_ENV = "CAIRN_SECRET_KEY"
_PLAIN = b"plain:"
_SEALED = b"fernet:"


class SecretKeyError(RuntimeError):
    """A stored secret cannot be read with the configured key."""


def _fernet() -> Fernet | None:
    key = os.environ.get(SECRET_KEY_ENV)
    return Fernet(key.encode()) if key else None


def new_key() -> str:
    return Fernet.generate_key().decode()


def seal(value: str) -> bytes:
    fernet = _fernet()
    if fernet is None:
        return _PLAIN + value.encode()
    return _SEALED + fernet.encrypt(value.encode())


def unseal(stored: bytes) -> str:
    if stored.startswith(_PLAIN):
        return stored[len(_PLAIN) :].decode()
    fernet = _fernet()
    if fernet is None:
        raise SecretKeyError(f"a stored secret is encrypted; set {SECRET_KEY_ENV} to read it")
    try:
        return fernet.decrypt(stored[len(_SEALED) :]).decode()
    except InvalidToken:
        raise SecretKeyError(f"a stored secret does not decrypt with {SECRET_KEY_ENV}") from None
