"""Manifest path rules and safe joins (mirrors src/core/paths.ts)."""
import os
import re

from ._js import js_slice, js_string, js_stringify
from .errors import AmphoraError

_CONTROL = re.compile("[\u0000-\u001f\u007f]")
_DRIVE = re.compile(r"[A-Za-z]:")


def validate_manifest_path(p):
    """A logical path: POSIX, relative, no `..`/`.` segments, no leading `/`, no `\\`,
    no NUL or other control characters, no empty segments, at most 1024 bytes."""

    def bad(why):
        shown = js_stringify(js_slice(p, 200)) if isinstance(p, str) else js_string(p)
        raise AmphoraError(
            "invalid_path",
            f'Invalid artifact path {shown}: {why}. Paths inside an artifact are relative POSIX paths such as "data/train.csv".',
        )

    if not isinstance(p, str) or p == "":
        bad("it is empty")
    if len(p.encode("utf-8", "surrogatepass")) > 1024:
        bad("it is longer than 1024 bytes")
    if _CONTROL.search(p):
        bad("it contains a NUL or control character")
    if "\\" in p:
        bad('it contains "\\" (use "/" to separate folders)')
    if p.startswith("/"):
        bad('it is absolute (starts with "/")')
    if _DRIVE.match(p):
        bad("it starts with a drive letter")
    for seg in p.split("/"):
        if seg == "":
            bad('it has an empty segment ("//" or a trailing "/")')
        if seg == "..":
            bad('it contains ".." (it would escape the artifact)')
        if seg == ".":
            bad('it contains a "." segment')
    return p


def check_path_collisions(paths):
    """Raises when a path is both a file and a folder (`a` and `a/b`), or is listed twice."""
    files = set()
    ordered = []
    for p in paths:
        if p in files:
            raise AmphoraError("invalid_path", f'Artifact path "{p}" is listed twice; each path may appear once.')
        files.add(p)
        ordered.append(p)
    for p in ordered:
        i = p.find("/")
        while i != -1:
            folder = p[:i]
            if folder in files:
                raise AmphoraError(
                    "invalid_path",
                    f'Artifact path "{folder}" is both a file and a folder (because of "{p}"); rename one of them.',
                )
            i = p.find("/", i + 1)


def join_inside(root, logical):
    """Joins a validated logical path onto `root` and proves the result stays inside it."""
    validate_manifest_path(logical)
    base = os.path.abspath(root)
    full = os.path.abspath(os.path.join(base, *logical.split("/")))
    prefix = base if base.endswith(os.sep) else base + os.sep
    if full != base and not full.startswith(prefix):
        raise AmphoraError("invalid_path", f'Artifact path "{logical}" would be written outside "{base}"; refusing.')
    return full


def _inside(real, real_root):
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def make_parent_inside(root, full, logical):
    """Creates the folders of `full` under `root`, refusing when a symbolic link already in `root`
    would carry the folders or the file outside it (checked before anything is created)."""
    real_root = os.path.realpath(root)
    refuse = AmphoraError(
        "invalid_path", f'Artifact path "{logical}" would be written outside "{os.path.abspath(root)}"; refusing.'
    )
    parent = os.path.dirname(full)
    existing = parent
    while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not _inside(os.path.realpath(existing), real_root):
        raise refuse
    os.makedirs(parent, exist_ok=True)
    if not _inside(os.path.realpath(parent), real_root):
        raise refuse
