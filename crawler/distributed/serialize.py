"""Requests in Redis as JSON, not pickle (scrapy-redis's default serializer).

scrapy-redis stores ``Request.to_dict()`` with pickle, so whoever can write to the Redis can run
code in every worker. A request's dict holds only strings, numbers, lists, dicts, bytes (headers,
body) and, in zhengwen's meta, datetimes: JSON with two tagged types carries all of them, and a
value of any other type is refused when the request is queued, where the caller sees it, rather
than failing in another worker.

The module has scrapy-redis's serializer shape (module-level ``loads`` and ``dumps``), so it is
named by ``SCHEDULER_SERIALIZER = "crawler.distributed.serialize"``.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

_BYTES = "__zw_bytes__"
_DATETIME = "__zw_datetime__"


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, bytes):
                key = key.decode("latin-1")
            if not isinstance(key, str):
                raise TypeError(f"a queued request's dict key must be a string, not {key!r}")
            out[key] = _encode(item)
        return out
    raise TypeError(f"a queued request cannot carry a {type(value).__name__}: {value!r}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and _BYTES in value:
            return base64.b64decode(value[_BYTES])
        if len(value) == 1 and _DATETIME in value:
            return datetime.fromisoformat(value[_DATETIME])
        return {k: _decode(v) for k, v in value.items()}
    return value


def dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(_encode(obj), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads(data: bytes | str) -> dict[str, Any]:
    value = _decode(json.loads(data))
    if not isinstance(value, dict):
        raise ValueError("a queued request must be a JSON object")
    return value
