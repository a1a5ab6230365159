"""Manifests and the artifact digest rule (mirrors src/core/node/manifest.ts).

A manifest maps logical path -> {"digest", "size", "ref"?, "extra"?}; `digest` is SHA-256 hex of
the bytes (or the URI when checksum=False).
"""
import hashlib
import re

from ._js import js_slice, js_string
from .errors import AmphoraError
from .paths import check_path_collisions, validate_manifest_path

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MANIFEST_DIGEST_PREFIX = "amphora-manifest-v1\n"
_REF_SCHEME = re.compile(r"(https?|file|s3|gs)://")
_MAX_SAFE_INTEGER = 2**53 - 1


def is_sha256(s):
    return isinstance(s, str) and SHA256_HEX.fullmatch(s) is not None


def sorted_paths(manifest):
    # Python compares str by code point, which is exactly what the digest rule specifies.
    return sorted(manifest)


def artifact_digest(manifest):
    """SHA-256 over "amphora-manifest-v1\\n" + "{path}:{digest}\\n" per entry sorted by path."""
    h = hashlib.sha256()
    h.update(MANIFEST_DIGEST_PREFIX.encode("utf-8"))
    for p in sorted_paths(manifest):
        h.update(f'{p}:{manifest[p]["digest"]}\n'.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def _is_byte_count(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if isinstance(v, float) and not v.is_integer():
        return False
    return 0 <= v <= _MAX_SAFE_INTEGER


def validate_manifest(manifest):
    """Validates every path, collision, digest and size. Returns the total size in bytes."""
    total = 0
    for p, e in manifest.items():
        validate_manifest_path(p)
        size = e.get("size")
        if not _is_byte_count(size):
            raise AmphoraError(
                "invalid_manifest",
                f'Manifest entry "{p}" has an invalid size {js_string(size)}; sizes are whole numbers of bytes \u2265 0.',
            )
        ref = e.get("ref")
        if not ref and not is_sha256(e.get("digest")):
            raise AmphoraError(
                "invalid_manifest",
                f'Manifest entry "{p}" has digest "{js_slice(js_string(e.get("digest")), 80)}", which is not 64 lowercase hex characters of SHA-256.',
            )
        if ref is not None and not _REF_SCHEME.match(ref):
            raise AmphoraError(
                "invalid_manifest",
                f'Manifest entry "{p}" references "{js_slice(ref, 80)}"; only http(s)://, file://, s3:// and gs:// references are supported.',
            )
        total += int(size)
    check_path_collisions(manifest.keys())
    return total


def stored_blobs(manifest):
    """Digests of the entries whose bytes live in the blob store (everything but references)."""
    seen = {}
    for e in manifest.values():
        if not e.get("ref"):
            seen[e["digest"]] = e["size"]
    return [{"digest": d, "size": s} for d, s in seen.items()]
