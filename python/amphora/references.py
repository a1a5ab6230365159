"""External references: entries whose bytes stay where they are (mirrors src/client/references.ts).

`http(s)://` records the ETag as digest and Content-Length as size (HEAD request); `file://` records
the SHA-256 of the content (a folder expands to its files); `s3://` and `gs://` live in
s3_references.py and gcs_references.py (boto3 / google-cloud-storage, imported only when used);
`checksum=False` records the URI itself as the digest. Downloading a reference fetches it again and
checks that it did not change.
"""
import hashlib
import json
import os
import pathlib
import re
import urllib.parse
import urllib.request

from .errors import AmphoraError
from .hashing import chunks, parallel, sha256_file
from .paths import validate_manifest_path
from .reference_policy import check_file_reference, check_http_reference
from .transport import Http

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_SCHEMES = "http(s)://, file://, s3:// or gs://"


def strip_etag(etag):
    if etag.startswith("W/"):
        etag = etag[2:]
    m = re.fullmatch(r'"(.*)"', etag, re.S)
    return m.group(1) if m else etag


def _last_segment(split):
    segs = [s for s in split.path.split("/") if s]
    return urllib.parse.unquote(segs[-1]) if segs else split.hostname or ""


def _file_path(split):
    return urllib.request.url2pathname(split.path)


def _posix_join(a, b):
    return b if b.startswith("/") else (a.rstrip("/") + "/" + b if a else b)


def resolve_reference(uri, name=None, checksum=True, max_objects=None):
    """Manifest entries [(path, entry)] for a reference URI; `max_objects` caps an s3:// or gs:// prefix."""
    scheme = uri.split("://", 1)[0].lower() if isinstance(uri, str) and "://" in uri else None
    if scheme == "s3":
        from .s3_references import resolve_s3_reference

        return resolve_s3_reference(uri, name=name, checksum=checksum, max_objects=max_objects)
    if scheme == "gs":
        from .gcs_references import resolve_gcs_reference

        return resolve_gcs_reference(uri, name=name, checksum=checksum, max_objects=max_objects)
    split = urllib.parse.urlsplit(uri) if isinstance(uri, str) else None
    if split is None or not _SCHEME.match(uri) or (split.scheme in ("http", "https") and not split.netloc):
        raise AmphoraError("invalid_reference", f'"{uri}" is not a URI; references look like https://host/path/file.csv or file:///abs/path.')
    if split.scheme in ("http", "https"):
        path = validate_manifest_path(name if name is not None else _last_segment(split))
        if not checksum:
            return [(path, {"digest": uri, "size": 0, "ref": uri, "extra": {"checksum": False}})]
        http = Http(uri, "", timeout=30.0)
        try:
            try:
                resp = http.open("HEAD", uri, auth=False, headers={"accept": "*/*"})
                resp.read()
            except AmphoraError as e:
                raise AmphoraError("invalid_reference", f"Cannot reach reference {uri} ({e.message}); check the URL or pass checksum=False "
                                   "to track it without checking.") from None
        finally:
            http.close()
        if resp.status >= 400:
            raise AmphoraError("invalid_reference", f"Reference {uri} answered HTTP {resp.status} to HEAD; check the URL.")
        etag = resp.getheader("ETag")
        length = resp.getheader("Content-Length") or "0"
        size = int(length) if length.isdigit() else 0
        if not etag:
            raise AmphoraError("invalid_reference", f"Reference {uri} has no ETag, so changes could not be detected; pass "
                               "checksum=False to track it by URI only.")
        return [(path, {"digest": strip_etag(etag), "size": size, "ref": uri, "extra": {"etag": etag}})]
    if split.scheme == "file":
        local = _file_path(split)
        if not os.path.exists(local):
            raise AmphoraError("invalid_reference", f"Reference {uri} points at {local}, which does not exist; check the path.")
        if os.path.isdir(local):
            files = []
            for dirpath, dirnames, filenames in os.walk(local):
                dirnames.sort()
                files.extend(os.path.join(dirpath, f) for f in sorted(filenames) if os.path.isfile(os.path.join(dirpath, f)))
            out = []
            hashes = parallel(sha256_file, files) if checksum else [None] * len(files)
            for f, h in zip(files, hashes):
                rel = os.path.relpath(f, local).replace(os.sep, "/")
                p = validate_manifest_path(_posix_join(name, rel) if name else rel)
                file_uri = pathlib.Path(f).as_uri()
                if not checksum:
                    out.append((p, {"digest": file_uri, "size": os.path.getsize(f), "ref": file_uri, "extra": {"checksum": False}}))
                else:
                    out.append((p, {"digest": h[0], "size": h[1], "ref": file_uri}))
            return out
        p = validate_manifest_path(name if name is not None else _last_segment(split))
        if not checksum:
            return [(p, {"digest": uri, "size": os.path.getsize(local), "ref": uri, "extra": {"checksum": False}})]
        digest, size = sha256_file(local)
        return [(p, {"digest": digest, "size": size, "ref": uri})]
    raise AmphoraError("unsupported", f'Reference scheme "{split.scheme}" (in {uri}) is not supported; use {_SCHEMES}.')


def download_reference(path, entry, dest, tmp):
    """Fetches a reference entry into `tmp` after checking it is unchanged; returns bytes read.
    The caller renames `tmp` onto `dest`."""
    uri = entry["ref"]
    checksum = (entry.get("extra") or {}).get("checksum") is not False
    split = urllib.parse.urlsplit(uri)
    got = 0
    if split.scheme == "s3":
        from .s3_references import download_s3_reference

        return download_s3_reference(path, entry, tmp)
    if split.scheme == "gs":
        from .gcs_references import download_gcs_reference

        return download_gcs_reference(path, entry, tmp)
    if split.scheme in ("http", "https"):
        check_http_reference(path, uri, split)
        http = Http(uri, "", timeout=60.0)
        try:
            try:
                resp = http.open("GET", uri, auth=False, headers={"accept": "*/*"})
            except AmphoraError as e:
                raise AmphoraError("server_unreachable", f'Cannot fetch reference "{path}" from {uri} ({e.message}); check that the host is '
                                   "reachable.") from None
            if resp.status >= 400:
                resp.read()
                raise AmphoraError("not_found", f'Reference "{path}" at {uri} answered HTTP {resp.status}; the object may have moved or been '
                                   "deleted.")
            etag = resp.getheader("ETag")
            if checksum and (not etag or strip_etag(etag) != entry["digest"]):
                resp.read()
                was = (entry.get("extra") or {}).get("etag") or entry["digest"]
                raise AmphoraError("reference_changed", f'Reference "{path}" at {uri} changed since it was logged: ETag was {json.dumps(was, ensure_ascii=False)}, now {json.dumps(etag, ensure_ascii=False) if etag else "missing"}. '
                                   "Log a new artifact version to track the new content.")
            with open(tmp, "wb") as out:
                for chunk in chunks(resp):
                    out.write(chunk)
                    got += len(chunk)
        finally:
            http.close()
        return got
    if split.scheme == "file":
        local = check_file_reference(path, _file_path(split), checksum)
        h = hashlib.sha256()
        try:
            src = open(local, "rb")
        except OSError as e:
            raise AmphoraError("not_found", f'Reference "{path}" points at {local}, which cannot be read ({_errno_name(e)}); it may have moved or been '
                               "deleted.") from None
        with src, open(tmp, "wb") as out:
            for chunk in chunks(src):
                h.update(chunk)
                out.write(chunk)
                got += len(chunk)
        if checksum and h.hexdigest() != entry["digest"]:
            raise AmphoraError("reference_changed", f'Reference "{path}" at {local} changed since it was logged: SHA-256 was {entry["digest"]}, now {h.hexdigest()}. '
                               "Log a new artifact version to track the new content.")
        return got
    raise AmphoraError("unsupported", f'Reference "{path}" uses the scheme "{split.scheme}" ({uri}), which this client cannot download; it downloads '
                       f"{_SCHEMES}.")


def _errno_name(e):
    import errno

    return errno.errorcode.get(e.errno, str(e)) if e.errno else str(e)
