"""Hypothesis profiles for the fuzz tests, and the harness's clean-up.

``fuzz`` (the default) keeps CI quick: ~150 examples per property, no deadline (no
wall-clock assertions), no example database written into the tree, and derandomized when
``CI`` is set so a CI failure reproduces exactly. ``long`` is what ``bench/fuzz_long.py``
runs, in chunks, for a time budget per target. Pick one with ``KETTLE_FUZZ_PROFILE``.

The profile is loaded when this file is imported, before the test modules are: a test's
settings are fixed when ``@given`` decorates it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from .harness import close_all

_COMMON = settings(
    deadline=None,
    database=None,
    print_blob=False,
    # Inputs are built to be large on purpose (over-limit bodies, long paths).
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

settings.register_profile("fuzz", _COMMON, max_examples=150, derandomize=bool(os.environ.get("CI")))
settings.register_profile("long", _COMMON, max_examples=1000, derandomize=False)
settings.load_profile(os.environ.get("KETTLE_FUZZ_PROFILE", "fuzz"))


@pytest.fixture(scope="module", autouse=True)
def _close_harnesses() -> Iterator[None]:
    yield
    close_all()
