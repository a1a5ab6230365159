"""The artifact reference grammar `[entity/][project/]name[:alias | :vN]` (mirrors src/core/reference.ts).

No suffix means `latest`.
"""
from dataclasses import dataclass
from typing import Optional

from ._js import js_slice
from .errors import AmphoraError
from .names import NAME_PATTERN, VERSION_PATTERN, validate_alias

_GRAMMAR = '[entity/][project/]name[:alias|:vN]'


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    selector: str = "latest"
    entity: Optional[str] = None
    project: Optional[str] = None
    is_version: bool = False
    explicit_selector: bool = False


def _js_trim(s):
    return s.strip()


def parse_reference(value: str) -> ArtifactRef:
    if not isinstance(value, str) or _js_trim(value) == "":
        raise AmphoraError(
            "invalid_reference",
            f'Empty artifact reference: write it as {_GRAMMAR}, for example "mnist-raw:latest".',
        )
    ref = _js_trim(value)

    def bad(why):
        raise AmphoraError(
            "invalid_reference",
            f'Invalid artifact reference "{ref}": {why}. Write it as {_GRAMMAR}, for example "mnist-raw:latest" '
            'or "my-team/artifacts-example/mnist-raw:v1".',
        )

    colon = ref.find(":")
    path = ref if colon == -1 else ref[:colon]
    selector = "latest" if colon == -1 else ref[colon + 1 :]
    if colon != -1 and selector == "":
        bad('nothing follows ":"')
    if ":" in selector:
        bad('it has more than one ":"')
    parts = path.split("/")
    if len(parts) > 3:
        bad('it has more than two "/" (at most entity/project/name)')
    for p in parts:
        if p == "":
            bad('it has an empty part between "/"')
        if NAME_PATTERN.fullmatch(p) is None or p in (".", ".."):
            bad(f'"{js_slice(p, 40)}" is not a valid name (letters, digits, "_", "-", "." only, at most 128)')
    is_version = VERSION_PATTERN.fullmatch(selector) is not None
    if not is_version:
        try:
            validate_alias(selector)
        except AmphoraError:
            bad(f'"{js_slice(selector, 40)}" is neither a version (v0, v1, \u2026) nor a valid alias')
    return ArtifactRef(
        name=parts[-1],
        selector=selector,
        project=parts[-2] if len(parts) >= 2 else None,
        entity=parts[0] if len(parts) == 3 else None,
        is_version=is_version,
        explicit_selector=colon != -1,
    )


def format_reference(ref: ArtifactRef) -> str:
    """Canonical text of a reference; omits parts that are None."""
    prefix = "/".join(x for x in (ref.entity, ref.project) if x)
    return f'{prefix + "/" if prefix else ""}{ref.name}:{ref.selector}'


def version_index(selector):
    """Index of a `vN` selector, or None for an alias."""
    return int(selector[1:]) if VERSION_PATTERN.fullmatch(selector) else None
