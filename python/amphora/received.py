"""What the client accepts from a server (mirrors src/core/node/received.ts).

A server may be broken or hostile (a team server the user does not run), and the client turns
what it sends into file paths, cache keys and request targets; so every version and manifest is
held to the rules the server applies to uploads, plus the consistency the client can check
itself, before anything touches the disk.
"""
import re
import urllib.parse

from .errors import AmphoraError
from .manifest import _is_byte_count, artifact_digest, is_sha256, validate_manifest
from .names import VERSION_PATTERN, is_name

MAX_REF_DIGEST = 2048
_CONTROL = re.compile("[\u0000-\u001f\u007f]")
_ADVICE = "The server is broken or not trustworthy: ask its administrator, or check AMPHORA_BASE_URL."


def _refuse(what, why):
    raise AmphoraError("invalid_manifest", f"The server sent a manifest for {what} that {why}; nothing was written. {_ADVICE}")


def check_received_manifest(entries, what, digest=None, file_count=None, size=None):
    """Checks a manifest a server sent: its shape, paths, sizes, digests (64 lowercase hex for
    stored bytes; a bounded printable string for references), one size per digest, and — when
    given — the artifact digest, file count and total size of the version asked for."""
    if not isinstance(entries, dict):
        _refuse(what, "is not an object of path -> entry")
    for p, e in entries.items():
        if not isinstance(e, dict):
            _refuse(what, f'gives "{p[:200]}" an entry that is not an object')
        d = e.get("digest")
        if not isinstance(d, str) or not d or len(d) > MAX_REF_DIGEST or _CONTROL.search(d):
            _refuse(what, f'gives "{p[:200]}" an empty, over-long or non-printable digest')
        ref = e.get("ref")
        if ref is not None and not isinstance(ref, str):
            _refuse(what, f'gives "{p[:200]}" a reference that is not a string')
        extra = e.get("extra")
        if extra is not None and not isinstance(extra, dict):
            _refuse(what, f'gives "{p[:200]}" extra facts that are not an object')
    try:
        total = validate_manifest(entries)
    except AmphoraError as err:
        _refuse(what, f"breaks the artifact rules ({err.message})")
    sizes = {}
    for e in entries.values():
        if e.get("ref"):
            continue
        seen = sizes.setdefault(e["digest"], e["size"])
        if seen != e["size"]:
            _refuse(what, f'lists the same content ({e["digest"][:12]}…) with two sizes, {seen} and {e["size"]} bytes')
    if not _is_byte_count(total):
        _refuse(what, "adds up to more bytes than a client can count")
    if file_count is not None and file_count != len(entries):
        _refuse(what, f"has {len(entries)} files where the version says {file_count}")
    if size is not None and size != total:
        _refuse(what, f"adds up to {int(total)} bytes where the version says {size}")
    if digest is not None:
        got = artifact_digest(entries)
        if got != digest:
            _refuse(what, f"hashes to artifact digest {got}, not the version's {digest}")
    return total


def check_received_version(v):
    """An ArtifactVersion from the server: names the client may turn into folders and requests,
    a vN label, a SHA-256 digest and whole-number counts. Returns it."""

    def bad(field):
        raise AmphoraError(
            "internal",
            f"The server's answer does not match the API contract (an artifact version with an invalid {field}); client and "
            f"server versions may differ, or the server is not trustworthy. {_ADVICE}",
        )

    if not isinstance(v, dict):
        bad("shape")
    for field in ("entity", "project", "name", "type"):
        if not is_name(v.get(field)):
            bad(field)
    label = v.get("version")
    if not isinstance(label, str) or not (VERSION_PATTERN.fullmatch(label) or label == "pending"):
        bad("version label")
    if not is_sha256(v.get("digest")):
        bad("digest")
    for field in ("size", "fileCount"):
        if not _is_byte_count(v.get(field)):
            bad(field)
    aliases = v.get("aliases")
    if not isinstance(aliases, list) or not all(is_name(a) for a in aliases):
        bad("aliases")
    if not isinstance(v.get("id"), str):
        bad("id")
    if not isinstance(v.get("metadata", {}), dict):
        bad("metadata")
    return v


def require_blob_digest(digest, what="a blob"):
    """Refuses anything but 64 lowercase hex as a blob name (a cache file, a blob route)."""
    if is_sha256(digest):
        return digest
    shown = repr(digest[:80]) if isinstance(digest, str) else repr(digest)
    raise AmphoraError(
        "invalid_manifest",
        f"Refusing {what} named {shown}: blobs are named by their SHA-256 (64 lowercase hex characters). The server sent a "
        "malformed digest; ask its administrator.",
    )


def _origin(split):
    port = split.port
    default = {"http": 80, "https": 443}.get(split.scheme)
    host = split.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f'{split.scheme}://{host}{"" if port in (None, default) else f":{port}"}'


def storage_origins_from(env):
    """AMPHORA_STORAGE_ORIGINS ("https://a, https://b:9000") -> a set of origins."""
    out = set()
    for part in (env.get("AMPHORA_STORAGE_ORIGINS") or "").split(","):
        s = part.strip()
        if not s:
            continue
        split = urllib.parse.urlsplit(s)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise AmphoraError("invalid_request", f'AMPHORA_STORAGE_ORIGINS holds "{s}", which is not an http(s) URL; write origins '
                               "such as https://bucket.example.com, separated by commas.")
        out.add(_origin(split))
    return out


def check_transfer_url(url, server_base, storage_origins=frozenset(), handed_out=False):
    """Where blob bytes may go or come from: the server's own origin, or a storage URL the server
    handed out for that very blob (a presigned bucket URL), which must be on one of the origins the
    user named in AMPHORA_STORAGE_ORIGINS when that is set. Returns the absolute URL."""
    if not isinstance(url, str) or not url:
        raise AmphoraError("invalid_request", f"The server handed out an empty or non-text transfer URL; refusing it. {_ADVICE}")
    absolute = urllib.parse.urljoin(server_base.rstrip("/") + "/", url)
    split = urllib.parse.urlsplit(absolute)
    server = _origin(urllib.parse.urlsplit(server_base))

    def bad(why):
        raise AmphoraError(
            "invalid_request",
            f'The server handed out transfer URL {split.scheme}://{split.netloc.rsplit("@", 1)[-1]}{split.path[:120]}, which {why}; refusing to send requests there. If that is your '
            "team's storage, add its origin to AMPHORA_STORAGE_ORIGINS (comma-separated, e.g. "
            "https://bucket.s3.amazonaws.com).",
        )

    if split.scheme not in ("http", "https"):
        bad(f'uses {split.scheme or "no scheme"}: instead of http(s)')
    if split.username is not None or split.password is not None:
        bad("carries credentials")
    try:
        origin = _origin(split)
    except ValueError:
        bad("has an invalid port")
    if origin == server or origin in storage_origins:
        return absolute
    if not handed_out:
        bad(f"is neither the server ({server}) nor a storage URL handed out for this blob")
    if storage_origins:
        bad("is not one of the storage origins you allowed (AMPHORA_STORAGE_ORIGINS)")
    return absolute
