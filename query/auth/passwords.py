"""Password hashing with argon2id (argon2-cffi's recommended parameters).

Hashing is deliberately slow (tens of milliseconds of CPU), so it runs in a
worker thread and never blocks the event loop.
"""

import asyncio
import functools
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 10
# Beyond this the password is a denial-of-service attempt rather than a password.
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()


class WeakPasswordError(ValueError):
    """The password does not meet the policy."""


def check_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


@dataclass(frozen=True)
class Verification:
    ok: bool
    # A fresh hash when the stored one uses outdated parameters (only when ok).
    new_hash: str | None = None


def verify_password_sync(password_hash: str, password: str) -> Verification:
    try:
        _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verification(ok=False)
    if _hasher.check_needs_rehash(password_hash):
        return Verification(ok=True, new_hash=_hasher.hash(password))
    return Verification(ok=True)


async def verify_password(password_hash: str, password: str) -> Verification:
    return await asyncio.to_thread(verify_password_sync, password_hash, password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


async def burn_verification(password: str) -> None:
    """Spend the time of one verification, so an unknown email answers as slowly as a wrong password."""
    dummy = await asyncio.to_thread(_dummy_hash)
    await verify_password(dummy, password)
