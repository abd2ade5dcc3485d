"""Password hashing with Argon2id (argon2-cffi): hash, verify, and rehash when the
parameters change.

Hashes are self-describing strings (``$argon2id$v=19$m=65536,t=3,p=4$salt$hash``): they
carry the parameters they were made with, so raising the cost later needs no migration —
:func:`verify_and_update` hands back a new hash the next time each user logs in::

    ok, new_hash = verify_and_update(user.password_hash, form["password"])
    if ok and new_hash:
        user.password_hash = new_hash

Hashing is deliberately slow (tens of milliseconds of CPU). In ``async def`` handlers use
the ``*_async`` variants, which run in a worker thread so the event loop keeps serving
other requests meanwhile; plain ``def`` handlers already run in a thread and can call the
plain functions.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "configure_passwords",
    "get_password_hasher",
    "hash_password",
    "hash_password_async",
    "needs_rehash",
    "verify_and_update",
    "verify_and_update_async",
    "verify_password",
    "verify_password_async",
]

Secret = str | bytes

# argon2-cffi's defaults are RFC 9106's low-memory profile: Argon2id, t=3, m=64 MiB, p=4.
_hasher = PasswordHasher()


def get_password_hasher() -> PasswordHasher:
    """The hasher the module functions use when they are not given one."""
    return _hasher


def configure_passwords(
    hasher: PasswordHasher | None = None,
    *,
    time_cost: int | None = None,
    memory_cost: int | None = None,
    parallelism: int | None = None,
    hash_len: int | None = None,
    salt_len: int | None = None,
) -> PasswordHasher:
    """Set the default hasher's parameters (or the hasher itself) and return it.

    Unnamed parameters keep their current value; ``memory_cost`` is in KiB. Call it once
    at startup: hashes made before keep verifying, and :func:`needs_rehash` /
    :func:`verify_and_update` report them as due for an upgrade::

        configure_passwords(time_cost=4, memory_cost=128 * 1024)
        configure_passwords(PasswordHasher.from_parameters(argon2.profiles.RFC_9106_HIGH_MEMORY))
    """
    global _hasher
    base = hasher if hasher is not None else _hasher
    _hasher = PasswordHasher(
        time_cost=base.time_cost if time_cost is None else time_cost,
        memory_cost=base.memory_cost if memory_cost is None else memory_cost,
        parallelism=base.parallelism if parallelism is None else parallelism,
        hash_len=base.hash_len if hash_len is None else hash_len,
        salt_len=base.salt_len if salt_len is None else salt_len,
        type=base.type,
    )
    return _hasher


def hash_password(password: Secret, *, hasher: PasswordHasher | None = None) -> str:
    """A new salted Argon2id hash of ``password``, to store instead of the password.

    Blocks for the whole computation: use :func:`hash_password_async` in async code.
    """
    return (hasher or _hasher).hash(password)


def verify_password(
    password_hash: str | bytes | None, password: Secret, *, hasher: PasswordHasher | None = None
) -> bool:
    """Whether ``password`` matches ``password_hash``.

    Never raises for a bad stored value: a malformed hash, a hash of another algorithm,
    ``None`` or an empty string all give ``False``. The comparison is constant-time.
    """
    if not password_hash or not isinstance(password_hash, str | bytes):
        return False
    try:
        return (hasher or _hasher).verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        # VerifyMismatchError is a VerificationError; InvalidHashError covers strings
        # that are not an Argon2 hash at all.
        return False
    except (ValueError, TypeError, UnicodeError):
        return False


def needs_rehash(password_hash: str | bytes, *, hasher: PasswordHasher | None = None) -> bool:
    """Whether ``password_hash`` was made with other parameters than the current ones.

    A malformed hash also needs replacing, so it gives ``True``.
    """
    try:
        return (hasher or _hasher).check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError, TypeError):
        return True


def verify_and_update(
    password_hash: str | bytes | None, password: Secret, *, hasher: PasswordHasher | None = None
) -> tuple[bool, str | None]:
    """Verify ``password`` and, when it matches a hash made with outdated parameters,
    return a fresh hash to store: ``(True, new_hash)``; otherwise ``(ok, None)``.
    """
    hasher = hasher or _hasher
    if not verify_password(password_hash, password, hasher=hasher):
        return False, None
    assert password_hash is not None  # verify_password refused None above
    if needs_rehash(password_hash, hasher=hasher):
        return True, hasher.hash(password)
    return True, None


async def hash_password_async(password: Secret, *, hasher: PasswordHasher | None = None) -> str:
    """:func:`hash_password` in a worker thread, so the event loop is not held up."""
    # argon2-cffi releases the GIL while it hashes, so other requests really do run.
    return await asyncio.to_thread(hash_password, password, hasher=hasher)


async def verify_password_async(
    password_hash: str | bytes | None, password: Secret, *, hasher: PasswordHasher | None = None
) -> bool:
    """:func:`verify_password` in a worker thread, so the event loop is not held up."""
    return await asyncio.to_thread(verify_password, password_hash, password, hasher=hasher)


async def verify_and_update_async(
    password_hash: str | bytes | None, password: Secret, *, hasher: PasswordHasher | None = None
) -> tuple[bool, str | None]:
    """:func:`verify_and_update` in a worker thread, so the event loop is not held up."""
    return await asyncio.to_thread(verify_and_update, password_hash, password, hasher=hasher)
