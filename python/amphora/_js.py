"""Tiny helpers so messages match the TypeScript core character for character.

JavaScript measures and slices strings in UTF-16 code units and prints strings with
JSON.stringify; these reproduce both.
"""
import json


def js_len(s):
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def js_slice(s, end):
    """`s.slice(0, end)` in UTF-16 units (a split surrogate pair keeps its lone first half)."""
    if js_len(s) <= end:
        return s
    units = s.encode("utf-16-le", "surrogatepass")[: 2 * end]
    return units.decode("utf-16-le", "surrogatepass")


def js_stringify(s):
    return json.dumps(s, ensure_ascii=False, separators=(",", ":"))  # JSON.stringify: no spaces


def js_string(value):
    """`String(value)` for the values Python callers may pass."""
    if value is None:
        return "undefined"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def js_typeof(value):
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if callable(value):
        return "function"
    return "object"
