"""JSON for the change log: orjson when the platform has it, the standard library otherwise.

The Lambda zip carries orjson's compiled module for the Lambda runtimes and
architectures the module supports (CPython 3.11 to 3.13, x86_64 and arm64);
anywhere else (another Python, the emulator's workers) the standard library
takes over. Both produce and read the same bytes: compact separators, UTF-8,
no float conversion anywhere (DynamoDB numbers travel as strings).
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson

    BACKEND = "orjson"

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(data: bytes | str) -> Any:
        return orjson.loads(data)

except ImportError:  # pragma: no cover - depends on the platform
    BACKEND = "json"
    _encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode

    def dumps(value: Any) -> bytes:
        return _encode(value).encode("utf-8")

    def loads(data: bytes | str) -> Any:
        return json.loads(data)
