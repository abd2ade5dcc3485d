"""The apps the side-by-side suite serves: kettle, the raw ceilings and the Python peers.

Each module exposes ``app`` and implements the eight scenarios of BENCHMARKS.md; the
suite imports them in its own environment (``bench/.venv-peers``), where the peers are
installed. ``BENCH_TRACK`` (``bare`` or ``secure``) is read at import.
"""
