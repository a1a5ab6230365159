"""W&B's MongoDB-style run filters (`Api().runs(path, filters={...})`), evaluated on the client.
Mirrors src/core/runFilters.ts rule for rule and message for message (python/tests compares them).

Keys: "config.<key>" (also W&B's "config.<key>.value"), "summary_metrics.<key>" (also "summary.<key>"),
"state", "tags", "display_name" (also "name"), "jobType", "group", "createdAt", "id"; nested keys
with dots. Operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $regex, and $and $or $nor $not.
A plain value means $eq; for "tags" (a list) $eq/$in mean "has the tag", as in MongoDB.
"""
import re

from ._js import js_stringify
from .errors import AmphoraError

_MISSING = object()
_COMPARE = {"$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b, "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b}


def run_matches(run_data, filters):
    return matches(run_data, filters, _lookup)


def matches(data, filters, lookup):
    """The same operators on any record; `lookup(data, key)` reads a field (or returns _MISSING)."""
    if not filters:
        return True
    if not isinstance(filters, dict):
        raise AmphoraError("invalid_request", f"filters must be a dict such as {{\"config.lr\": {{\"$gt\": 0.01}}}}, got {filters!r}.")
    for key, cond in filters.items():
        if key == "$and":
            ok = all(matches(data, f, lookup) for f in _list(key, cond))
        elif key == "$or":
            ok = any(matches(data, f, lookup) for f in _list(key, cond))
        elif key == "$nor":
            ok = not any(matches(data, f, lookup) for f in _list(key, cond))
        elif key.startswith("$"):
            raise AmphoraError("invalid_request", f"Unknown filter operator {js_stringify(key)} at the top level; use $and, $or or $nor.")
        else:
            ok = _field_matches(lookup(data, key), cond, key)
        if not ok:
            return False
    return True


def field_lookup(fields):
    """A lookup over plain fields: {filter key: record key}; other keys are an error naming the known ones."""
    def lookup(data, key):
        if key not in fields:
            raise AmphoraError("invalid_request", f'Unknown filter key {key!r}; use {", ".join(sorted(fields))}.')
        return data.get(fields[key], _MISSING)
    return lookup


def _list(op, value):
    if not isinstance(value, list):
        raise AmphoraError("invalid_request", f"{op} takes a list of filters, got {js_stringify(value)}.")
    return value


def _lookup(run, key):
    parts = key.split(".")
    head = parts[0]
    if head == "config":
        value = run.get("config") or {}
        rest = parts[1:]
        if len(rest) >= 2 and rest[-1] == "value":  # W&B stores config as {"lr": {"value": 0.1}}
            found = _walk(value, rest)
            return found if found is not _MISSING else _walk(value, rest[:-1])
        return _walk(value, rest)
    if head in ("summary_metrics", "summary"):
        return _walk(run.get("summary") or {}, parts[1:])
    field = {"display_name": "name", "name": "name", "state": "state", "tags": "tags", "jobType": "jobType",
             "job_type": "jobType", "group": "group", "createdAt": "createdAt", "created_at": "createdAt", "id": "id"}.get(head)
    if field is None or len(parts) > 1:
        raise AmphoraError("invalid_request", f"Unknown run filter key {js_stringify(key)}; use config.<key>, summary_metrics.<key>, state, "
                           "tags, display_name, jobType, group, createdAt or id.")
    return run.get(field, _MISSING)


def _walk(value, parts):
    for p in parts:
        if not isinstance(value, dict) or p not in value:
            return _MISSING
        value = value[p]
    return value


def _field_matches(value, cond, key):
    if not (isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond)):
        return _equals(value, cond)
    for op, arg in cond.items():
        if op == "$eq":
            ok = _equals(value, arg)
        elif op == "$ne":
            ok = not _equals(value, arg)
        elif op in _COMPARE:
            try:
                ok = value is not _MISSING and value is not None and _COMPARE[op](value, arg)
            except TypeError:
                ok = False
        elif op == "$in":
            ok = any(_equals(value, a) for a in _list(op, arg))
        elif op == "$nin":
            ok = not any(_equals(value, a) for a in _list(op, arg))
        elif op == "$exists":
            ok = (value is not _MISSING) == bool(arg)
        elif op == "$regex":
            ok = isinstance(value, str) and re.search(arg, value) is not None
        elif op == "$not":
            ok = not _field_matches(value, arg, key)
        else:
            raise AmphoraError("invalid_request", f"Unknown filter operator {js_stringify(op)} on {js_stringify(key)}; use $eq $ne $gt $gte $lt $lte $in "
                               "$nin $exists $regex or $not.")
        if not ok:
            return False
    return True


def _equals(value, wanted):
    if isinstance(value, list) and not isinstance(wanted, list):
        return wanted in value
    return value is not _MISSING and value == wanted
