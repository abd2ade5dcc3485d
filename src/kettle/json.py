"""JSON encoding through msgspec, with a clear error for values it cannot encode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

__all__ = ["encode_json"]


def _enc_hook(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic v2 models, without importing pydantic
    if dump is not None and callable(dump):
        return dump(mode="json")
    raise TypeError(
        f"cannot encode a {type(value).__module__}.{type(value).__qualname__} as JSON: return "
        "dicts, lists, dataclasses, msgspec Structs or pydantic models of JSON-able values"
    )


# Decimals as strings: exact, and NaN/Infinity stay valid JSON (as numbers they would not).
_encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="string")

#: ``encode_json(value) -> bytes``: compact UTF-8 JSON (datetimes ISO 8601, UUIDs and
#: Decimals as text); an unsupported type raises ``TypeError`` naming it.
# PERF: the encoder's bound method itself, not a wrapper function around it.
encode_json: Callable[[Any], bytes] = _encoder.encode
