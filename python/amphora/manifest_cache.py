"""The manifests of committed versions, kept on disk next to the blob cache.

Why: downloading a version whose blobs are all cached still asked the server for the whole manifest
(10,000 files: a server query, about 1 MB of JSON and its validation) although the manifest of a
committed version never changes. The client now keeps each manifest it has accepted and reads it
back instead of asking again.

The format is shared with the TypeScript SDK, so either client reads what the other wrote:

- File: <cache dir>/manifests/<key[:2]>/<key>, where key is the lowercase hex SHA-256 of the UTF-8
  string "amphora-manifest-v1\\n" + base_url + "\\n" + version_id + "\\n" + version_digest
  (base_url without trailing slashes; version_id and version_digest: the version's `id` and `digest`).
- Bytes: the header line "amphora-manifest-v1 <SHA-256 hex of the body>\\n", then the body, the UTF-8
  JSON object {"digest", "fileCount", "size", "entries"} with entries in the wire shape
  (path -> {"digest", "size", "ref"?, "extra"?}). Readers check the body's hash, not its formatting.

A file is used only when it is a regular file (not a link) of at most 256 MiB whose header matches,
whose body hashes to the header's hash, whose digest, file count and size are the ones the
server gives for the version, and whose entries add up to that size and hash to that digest. Anything else is a miss: the file is removed (best-effort) and the
manifest is fetched as before. The cache is an optimisation, so nothing here ever raises: a cache
folder that cannot be read or written only means the server is asked.
"""
import hashlib
import json
import os
import re
import stat
import uuid

from .manifest import artifact_digest

MAGIC = "amphora-manifest-v1"
MAX_BYTES = 256 << 20
_HEADER = re.compile(rb"amphora-manifest-v1 ([0-9a-f]{64})\n")
_HEADER_LEN = len(MAGIC) + 1 + 64 + 1


def cache_key(base_url, version_id, version_digest):
    """The file name of a version's manifest (see the module docstring for the rule)."""
    text = f"{MAGIC}\n{base_url.rstrip('/')}\n{version_id}\n{version_digest}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def cache_path(cache_dir, key):
    return os.path.join(cache_dir, "manifests", key[:2], key)


def encode(digest, file_count, size, entries):
    """The bytes of a cache file: header line, then the JSON body."""
    body = json.dumps({"digest": digest, "fileCount": file_count, "size": size, "entries": entries},
                      separators=(",", ":"), allow_nan=False).encode("ascii")
    return f"{MAGIC} {hashlib.sha256(body).hexdigest()}\n".encode("ascii") + body


def _cacheable(version):
    """Only a committed version's manifest is fixed for good (a pending one still grows)."""
    return isinstance(version, dict) and version.get("state") == "committed" and isinstance(version.get("id"), str) \
        and isinstance(version.get("digest"), str)


def _same_count(value, expected):
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value == expected


def load(cache_dir, base_url, version):
    """The entries of `version` (an ArtifactVersion the server sent) from the cache, or None."""
    try:
        if not _cacheable(version):
            return None
        path = cache_path(cache_dir, cache_key(base_url, version["id"], version["digest"]))
        data = _read_regular(path)
        if data is None:
            return None
        entries = _decode(data, version)
        if entries is None:
            _remove_quietly(path)
        return entries
    except Exception:  # noqa: BLE001 - never let the cache break a download
        return None


def _read_regular(path):
    """The file's bytes when it is a regular file of at most MAX_BYTES; None when absent. A link,
    folder or over-large file is removed (best-effort) and gives None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
        _remove_quietly(path)
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None  # replaced by something else since the lstat
        data = f.read(MAX_BYTES + 1)
    return data if len(data) <= MAX_BYTES else None


def _decode(data, version):
    """The entries when `data` is a valid cache file for `version`, else None."""
    header = _HEADER.match(data, 0, _HEADER_LEN)
    if header is None:
        return None
    body = memoryview(data)[_HEADER_LEN:]
    if hashlib.sha256(body).hexdigest() != header.group(1).decode("ascii"):
        return None
    try:
        doc = json.loads(bytes(body).decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), dict):
        return None
    if doc.get("digest") != version["digest"] or not _same_count(doc.get("fileCount"), version.get("fileCount")) \
            or not _same_count(doc.get("size"), version.get("size")):
        return None
    entries = doc["entries"]
    # The body must agree with itself too (a writer's bug must not become a broken download).
    if len(entries) != doc["fileCount"] or not all(isinstance(e, dict) and isinstance(e.get("digest"), str)
                                                   and _is_size(e.get("size")) for e in entries.values()):
        return None
    if sum(e["size"] for e in entries.values()) != doc["size"]:
        return None
    # Paths and digests must be the version's own (4 ms for 10,000 files): a file planted in a
    # shared or writable cache can then name no other content than the server's manifest would.
    if artifact_digest(entries) != version["digest"]:
        return None
    return entries


def _is_size(v):
    return not isinstance(v, bool) and isinstance(v, int) and v >= 0


def store(cache_dir, base_url, version, entries):
    """Keeps `entries` (the validated manifest of `version`) for later reads; best-effort."""
    try:
        if not _cacheable(version):
            return
        path = cache_path(cache_dir, cache_key(base_url, version["id"], version["digest"]))
        data = encode(version["digest"], version["fileCount"], version["size"], entries)
        if len(data) > MAX_BYTES:
            return  # a reader would refuse it
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.amphora-tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            with open(tmp, "xb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            _remove_quietly(tmp)
            raise
    except Exception:  # noqa: BLE001 - read-only or full cache folders: the server is simply asked next time
        pass


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass
