"""Text that can be stored, sent and shown: valid Unicode only.

Python strings may hold lone UTF-16 surrogates (U+D800..U+DFFF): ``json.loads``
turns a ``"\\udcff"`` escape into one, and ``sys.argv`` carries undecodable bytes
as them. Such a string cannot be encoded as UTF-8, so one of them in a chat
message or a display name used to break every frame and every list that carried
it. Every edge refuses them (:func:`has_surrogate`); every reader of text that
may predate that rule repairs it (:func:`scrub`, :func:`scrub_json`), so one bad
value can never break a room or a list.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "REPLACEMENT",
    "has_surrogate",
    "json_has_surrogate",
    "maybe_escaped_surrogate",
    "scrub",
    "scrub_json",
]

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
#: In JSON text: a ``\\uD800``..``\\uDFFF`` escape (a valid pair is fine once
#: decoded; a lone one is not).
_ESCAPED = re.compile(r"\\u[dD][89a-fA-F]")


def has_surrogate(value: str) -> bool:
    """True when ``value`` holds a surrogate code point (it is not valid Unicode).
    ``isascii`` is a flag of the string (no scan), so ASCII text costs nothing."""
    return not value.isascii() and _SURROGATE.search(value) is not None


def maybe_escaped_surrogate(json_text: str) -> bool:
    """Cheap pre-check on JSON text: could decoding it yield a surrogate (an
    escaped one, or a surrogate code point itself)?"""
    if "\\u" in json_text and _ESCAPED.search(json_text) is not None:
        return True
    return has_surrogate(json_text)


def json_has_surrogate(value: Any) -> bool:
    """True when any string (key or value) of a decoded JSON value holds a surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item) is not None:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def scrub(value: str) -> str:
    """``value`` with every surrogate replaced by U+FFFD."""
    return _SURROGATE.sub(REPLACEMENT, value)


def scrub_json(value: Any) -> Any:
    """A decoded JSON value with every string repaired by :func:`scrub`."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k): scrub_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v) for v in value]
    return value
