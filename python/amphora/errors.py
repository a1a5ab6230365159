"""The error types every surface speaks (mirrors src/core/errors.ts), shaped like W&B's.

`AmphoraError.code` is stable and machine-readable (the `error.code` of the HTTP error body); the
message says what was wrong and what to do about it. So that code written for `wandb` catches what
it expects, each error is also the built-in or W&B type W&B raises in that place:

- bad input (names, paths, references, type mismatches): `ValueError`;
- a file name an artifact does not hold (`get_entry`, `get_path`): `KeyError`; `remove`: `FileNotFoundError`;
- an operation that needs a logged artifact on a draft: `ArtifactNotLoggedError` (an `AttributeError`);
- anything the server answered with an error, or a server that cannot be reached: `CommError`
  (W&B's `wandb.errors.CommError`), which is a `ValueError` too when the server refused the input,
  and a `PermissionError` too when a team server refused the key's role (`forbidden`, HTTP 403).
"""
from __future__ import annotations

from typing import Any, Callable


STATUS = {
    "invalid_name": 400,
    "invalid_type": 400,
    "invalid_alias": 400,
    "invalid_reference": 400,
    "invalid_path": 400,
    "invalid_manifest": 400,
    "invalid_request": 400,
    "type_mismatch": 409,
    "not_found": 404,
    "conflict": 409,
    "aliased_version": 409,
    "digest_mismatch": 422,
    "missing_blobs": 409,
    "unauthorized": 401,
    "forbidden": 403,
    "payload_too_large": 413,
    "unsupported": 400,
    "server_unreachable": 503,
    "reference_changed": 409,
    "internal": 500,
}

# Codes that mean "the input was wrong": W&B raises ValueError for these.
INPUT_CODES = frozenset(("invalid_name", "invalid_type", "invalid_alias", "invalid_reference", "invalid_path",
                         "invalid_manifest", "invalid_request", "type_mismatch", "unsupported", "digest_mismatch",
                         "reference_changed"))


class AmphoraError(Exception):
    """Base of every Amphora error. `AmphoraError(code, message)` raised locally becomes the subclass
    whose built-in base W&B raises for that kind of problem (ValueError for bad input)."""

    def __new__(cls, code=None, message=None, details=None, *args, **kwargs):
        if cls is AmphoraError and code in INPUT_CODES:
            cls = InputError
        return super().__new__(cls)

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 500)

    def __str__(self):
        return self.message

    def __repr__(self):
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"

    def __reduce__(self):
        return (type(self), (self.code, self.message, self.details))


Error = AmphoraError  # W&B's `wandb.Error`


class InputError(AmphoraError, ValueError):
    """Bad input found by the client (W&B raises ValueError)."""


class _FixedCodeError(AmphoraError):
    """An error whose kind fixes its code: built, and pickled, from (message, details) alone."""

    fixed_code = "internal"

    def __init__(self, message: str, details: Any = None) -> None:
        AmphoraError.__init__(self, self.fixed_code, message, details)

    def __reduce__(self):
        return (type(self), (self.message, self.details))


class EntryNotFoundError(_FixedCodeError, KeyError):
    """`get_entry` / `get_path` of a name the artifact does not hold (W&B raises KeyError)."""

    fixed_code = "not_found"


class PathNotInArtifactError(_FixedCodeError, FileNotFoundError):
    """`Artifact.remove` of a path the draft does not hold (W&B raises FileNotFoundError)."""

    fixed_code = "not_found"


class ArtifactNotLoggedError(_FixedCodeError, AttributeError):
    """An operation that needs a logged version, on a draft (W&B's ArtifactNotLoggedError)."""

    fixed_code = "invalid_request"


class CommError(AmphoraError):
    """The server answered with an error, or could not be reached (W&B's `wandb.errors.CommError`).
    `exc` holds the underlying exception, if any, as in W&B."""

    def __new__(cls, code=None, message=None, details=None, exc=None):
        if cls is CommError and code in INPUT_CODES:
            cls = CommInputError
        elif cls is CommError and code == "forbidden":
            cls = CommPermissionError
        # The base after AmphoraError in cls's MRO: OSError for CommPermissionError, else Exception.
        return super(AmphoraError, cls).__new__(cls)

    def __init__(self, code: str, message: str, details: Any = None, exc: BaseException | None = None) -> None:
        AmphoraError.__init__(self, code, message, details)
        self.exc = exc


class CommInputError(CommError, ValueError):
    """The server refused the input (for example a type mismatch): a CommError and a ValueError."""


class CommPermissionError(CommError, PermissionError):
    """A team server refused the action for the key's role (`forbidden`, HTTP 403): a CommError and
    a PermissionError. The message names the role needed and the one held; ask an admin of the
    project for a higher role. (A project the key has no role on answers `not_found` instead.)"""


def found(fetch: Callable[[], object]) -> bool:
    """Whether `fetch()` finds what it asks the server for: False when it answers not_found; any other error is raised."""
    try:
        fetch()
        return True
    except AmphoraError as e:
        if e.code == "not_found":
            return False
        raise
