"""Name, type and alias validation (mirrors src/core/names.ts)."""
import re

from ._js import js_len, js_stringify, js_typeof
from .errors import AmphoraError

# Letters, digits, `_`, `-`, `.`; 1-128 characters.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,128}")
# `v0`, `v12`: the shape reserved for version numbers, never a valid alias.
VERSION_PATTERN = re.compile(r"v(0|[1-9][0-9]*)")
# Aliases may not look like versions at all (`v01` would read as `v1` to a person).
_VERSION_LIKE = re.compile(r"v[0-9]+")


def is_name(value):
    return isinstance(value, str) and NAME_PATTERN.fullmatch(value) is not None and value not in (".", "..")


def _describe(value):
    if not isinstance(value, str):
        return f"a {js_typeof(value)}"
    if value == "":
        return "an empty string"
    if js_len(value) > 128:
        return f"a {js_len(value)}-character string"
    return js_stringify(value)


# A valid example per kind (same as src/core/names.ts), so a type is never shown an artifact name.
_EXAMPLE = {"artifact name": "mnist-raw", "artifact type": "dataset", "project": "artifacts-example",
            "entity": "my-team", "job type": "train", "alias": "best"}


def _check(kind, value, code):
    if is_name(value):
        return value
    raise AmphoraError(
        code,
        f'Invalid {kind} {_describe(value)}: use 1\u2013128 letters, digits, "_", "-" or "." (for example "{_EXAMPLE[kind]}").',
    )


def validate_artifact_name(name):
    return _check("artifact name", name, "invalid_name")


def validate_artifact_type(type_):
    return _check("artifact type", type_, "invalid_type")


def validate_project(project):
    return _check("project", project, "invalid_name")


def validate_entity(entity):
    return _check("entity", entity, "invalid_name")


def validate_job_type(job_type):
    return _check("job type", job_type, "invalid_name")


def validate_alias(alias):
    """Custom aliases: a name, but never `vN` (that would shadow a version number)."""
    _check("alias", alias, "invalid_alias")
    if _VERSION_LIKE.fullmatch(alias):
        raise AmphoraError(
            "invalid_alias",
            f'Invalid alias "{alias}": names shaped like a version number (v0, v1, \u2026) are reserved; '
            'pick another alias such as "best".',
        )
    return alias


def is_version_string(s):
    return isinstance(s, str) and VERSION_PATTERN.fullmatch(s) is not None


def validate_run_tags(value):
    if isinstance(value, str) or not all(isinstance(t, str) for t in value):
        raise AmphoraError("invalid_request", f"Run tags must be a list or tuple of strings such as (\"baseline\",), got {value!r}.")
    out = []
    for t in value:
        if not t or len(t) > 128 or any(ord(c) < 32 for c in t):
            raise AmphoraError("invalid_request", f"Run tag {t!r} is not valid: use 1\u2013128 printable characters.")
        if t not in out:
            out.append(t)
    return out
