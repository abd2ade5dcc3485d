"""Password hashing; mirrors kettle/passwords.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from kettle.passwords import (
    configure_passwords,
    get_password_hasher,
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_and_update,
    verify_and_update_async,
    verify_password,
    verify_password_async,
)

# Cheap parameters keep the suite fast; the behaviour does not depend on the cost.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
STRONGER = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def fast_default() -> Iterator[None]:
    """Run each test with cheap default parameters, and restore the real default."""
    saved = get_password_hasher()
    configure_passwords(FAST)
    yield
    configure_passwords(saved)


def test_hash_then_verify() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "correct horsE")
    assert not verify_password(stored, "")


def test_each_hash_is_salted() -> None:
    assert hash_password("same") != hash_password("same")


def test_bytes_and_str_passwords_agree() -> None:
    stored = hash_password("pässword")
    assert verify_password(stored, "pässword".encode())
    assert verify_password(stored.encode(), "pässword")


def _malformed() -> list[object]:
    good = FAST.hash("pw")
    return [
        None,
        "",
        "plain-text-password",
        "$argon2id$",
        good[:-6],  # truncated
        good.replace("$argon2id$", "$argon2x$"),
        good.replace("v=19", "v=99"),
        good.replace("m=1024", "m=0"),
        good.replace("t=1", "t=0"),
        good.replace("m=1024", "m=99999999999999999999"),
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "x" * 10_000,
        "$argon2id$v=19$m=1024,t=1,p=1$\udcff$\udcff",  # lone surrogates
        12345,
    ]


@pytest.mark.parametrize("stored", _malformed())
def test_a_malformed_hash_is_false_never_an_error(stored: object) -> None:
    assert verify_password(stored, "pw") is False  # type: ignore[arg-type]
    assert verify_and_update(stored, "pw") == (False, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("stored", ["", "garbage", "$argon2id$", "$2b$12$abc"])
def test_a_malformed_hash_needs_rehash(stored: str) -> None:
    assert needs_rehash(stored)


def test_rehash_when_parameters_change() -> None:
    old = hash_password("pw")
    assert not needs_rehash(old)
    assert verify_and_update(old, "pw") == (True, None)

    configure_passwords(time_cost=2, memory_cost=2048)
    assert get_password_hasher().time_cost == 2
    assert get_password_hasher().parallelism == FAST.parallelism  # unnamed: kept
    assert needs_rehash(old)
    # The old hash still verifies, and the caller gets a replacement to store.
    ok, new = verify_and_update(old, "pw")
    assert ok and new is not None and new != old
    assert "m=2048,t=2" in new
    assert not needs_rehash(new)
    assert verify_and_update(new, "pw") == (True, None)
    # A wrong password never produces a new hash.
    assert verify_and_update(old, "wrong") == (False, None)


def test_an_explicit_hasher_wins_over_the_default() -> None:
    stored = hash_password("pw", hasher=STRONGER)
    assert "m=2048,t=2" in stored
    assert needs_rehash(stored)  # against the default (FAST)
    assert not needs_rehash(stored, hasher=STRONGER)
    assert verify_password(stored, "pw", hasher=FAST)  # parameters come from the hash
    assert verify_and_update(stored, "pw", hasher=STRONGER) == (True, None)


@pytest.mark.anyio
async def test_async_variants_give_the_same_answers() -> None:
    stored = await hash_password_async("pw")
    assert await verify_password_async(stored, "pw")
    assert not await verify_password_async(stored, "nope")
    assert not await verify_password_async("garbage", "pw")
    configure_passwords(STRONGER)
    ok, new = await verify_and_update_async(stored, "pw")
    assert ok and new is not None and "t=2" in new


@pytest.mark.anyio
async def test_async_hashing_leaves_the_loop_free() -> None:
    # Hash with the real (expensive) default while another task counts loop turns: the
    # counter advances before the hash is done, so the hash did not hold the loop.
    configure_passwords(PasswordHasher())
    done = asyncio.Event()
    turns = 0
    turns_before_done = 0

    async def tick() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    async def work() -> str:
        nonlocal turns_before_done
        stored = await hash_password_async("pw")
        turns_before_done = turns
        done.set()
        return stored

    stored, _ = await asyncio.gather(work(), tick())
    assert turns_before_done > 1
    assert verify_password(stored, "pw")
