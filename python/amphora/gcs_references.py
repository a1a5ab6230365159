"""gs:// references (mirrors src/client/references/gcs.ts), read with the user's own Google
credentials through google-cloud-storage when it is importable (else a clear error naming the
package, as W&B does): Application Default Credentials, or STORAGE_EMULATOR_HOST for an emulator.

An object records its generation plus md5Hash (crc32c for composite objects, which have no MD5); a
prefix expands to its objects. A download fetches the recorded generation, so a bucket with Object
Versioning serves the logged bytes even after an overwrite; without it, an overwritten object is a
clear "changed" error. The bytes are checked against the recorded MD5 / CRC32C.
"""
import base64
import hashlib
import os
import threading

from .cloud_references import (cloud_uri, is_folder_marker, max_objects_of, missing_package, parse_cloud_uri, prefixed_path, resolve_bucket_uri,
                               too_many_objects)
from .errors import AmphoraError

_clients = {}
_lock = threading.Lock()


def _sdk():
    try:
        from google.cloud import storage
    except ImportError:
        raise missing_package("google-cloud-storage", "gs", "pip install google-cloud-storage") from None
    return storage


def _client():
    storage = _sdk()
    env = os.environ
    key = (env.get("STORAGE_EMULATOR_HOST"), env.get("GOOGLE_APPLICATION_CREDENTIALS"), env.get("GOOGLE_CLOUD_PROJECT"))
    with _lock:
        client = _clients.get(key)
        if client is None:
            if env.get("STORAGE_EMULATOR_HOST"):
                from google.auth.credentials import AnonymousCredentials

                # The library sends requests to the emulator; it needs no credentials and no project.
                client = storage.Client(project=env.get("GOOGLE_CLOUD_PROJECT") or "amphora", credentials=AnonymousCredentials())
            else:
                try:
                    client = storage.Client()
                except Exception as e:  # noqa: BLE001 - google.auth's DefaultCredentialsError and friends
                    raise gcs_error(e, "gs://") from None
            _clients[key] = client
    return client


def gcs_error(e, uri):
    if isinstance(e, AmphoraError):
        return e
    name = type(e).__name__
    message = str(e)
    status = getattr(e, "code", None)
    _, bucket, _ = parse_cloud_uri(uri) if uri != "gs://" else ("gs", "", "")
    if name in ("DefaultCredentialsError", "RefreshError") or "Could not automatically determine credentials" in message:
        return AmphoraError("unauthorized", f"No usable Google credentials to read {uri}: references are read with your own "
                            "credentials. Run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS "
                            "to a service-account key file.")
    if status == 404 and "bucket" in message.lower():
        return AmphoraError("not_found", f'Bucket "{bucket}" does not exist ({uri}); check the bucket name.')
    if status == 404:
        return AmphoraError("not_found", f"{uri} does not exist; check the object name.")
    if status in (401, 403):
        return AmphoraError("unauthorized", f"Google Cloud Storage refused to let your credentials read {uri} ({status}: {message}); check "
                            "GOOGLE_APPLICATION_CREDENTIALS and that the account may read this bucket.")
    if name in ("ConnectionError", "ConnectTimeout", "ReadTimeout", "TransportError", "ServiceUnavailable"):
        host = os.environ.get("STORAGE_EMULATOR_HOST")
        return AmphoraError("server_unreachable", f'Cannot reach Google Cloud Storage{" at " + host if host else ""} for {uri} ({message}); check the network{" and STORAGE_EMULATOR_HOST" if host else ""}.')
    return AmphoraError("internal", f"Google Cloud Storage failed on {uri} ({status or name}: {message}).")


def _entry(bucket, blob_name, blob, checksum):
    ref = cloud_uri("gs", bucket, blob_name)
    size = int(getattr(blob, "size", None) or 0) if blob is not None else 0
    if not checksum:
        return {"digest": ref, "size": size, "ref": ref, "extra": {"checksum": False}}
    digest = blob.md5_hash or blob.crc32c
    if not digest or blob.generation is None:
        raise AmphoraError("invalid_reference", f"{ref} reports no generation or checksum, so changes could not be detected; pass "
                           "checksum=False to track it by URI only.")
    extra = {"generation": str(blob.generation)}
    if blob.md5_hash:
        extra["md5Hash"] = blob.md5_hash
    if blob.crc32c:
        extra["crc32c"] = blob.crc32c
    if blob.etag:
        extra["etag"] = blob.etag
    return {"digest": digest, "size": size, "ref": ref, "extra": extra}


def _list_prefix(bucket, prefix, name, checksum, max_objects, shown):
    client = _client()
    limit = max_objects_of(max_objects)
    out = []
    try:
        for blob in client.list_blobs(bucket, prefix=prefix, page_size=1000):
            if is_folder_marker(blob.name):
                continue
            if len(out) >= limit:
                raise too_many_objects(shown, limit)
            out.append((prefixed_path(prefix, blob.name, name), _entry(bucket, blob.name, blob, checksum)))
    except AmphoraError:
        raise
    except Exception as e:  # noqa: BLE001 - every library failure becomes a clear AmphoraError
        raise gcs_error(e, shown) from None
    return out


def resolve_gcs_reference(uri, name=None, checksum=True, max_objects=None):
    """Manifest entries [(path, entry)] for `gs://bucket/object` (one object) or `gs://bucket/prefix/`."""

    def one_object(bucket, key, path):
        if not checksum:
            return path, _entry(bucket, key, None, False)
        try:
            blob = _client().bucket(bucket).get_blob(key)  # None when there is no such object
        except Exception as e:  # noqa: BLE001
            raise gcs_error(e, uri) from None
        return None if blob is None else (path, _entry(bucket, key, blob, True))

    def list_prefix(bucket, prefix):
        return _list_prefix(bucket, prefix, name, checksum, max_objects, uri)

    return resolve_bucket_uri(uri, name, list_prefix, one_object, "name")


class _VerifyingWriter:
    """A file object that counts and hashes what the library writes into it."""

    def __init__(self, out, md5, crc):
        self.out, self.md5, self.crc, self.bytes = out, md5, crc, 0

    def write(self, data):
        self.bytes += len(data)
        if self.md5 is not None:
            self.md5.update(data)
        if self.crc is not None:
            self.crc.update(data)
        return self.out.write(data)

    def tell(self):
        return self.bytes

    def flush(self):
        self.out.flush()


def download_gcs_reference(path, entry, tmp):
    """Fetches a gs:// entry into `tmp`: the recorded generation, verified; returns the bytes read."""
    uri = entry["ref"]
    _, bucket, key = parse_cloud_uri(uri)
    extra = entry.get("extra") or {}
    checksum = extra.get("checksum") is not False
    generation = extra.get("generation") if checksum and isinstance(extra.get("generation"), str) else None
    md5_want = extra.get("md5Hash") if checksum and isinstance(extra.get("md5Hash"), str) else None
    crc_want = extra.get("crc32c") if checksum and not md5_want and isinstance(extra.get("crc32c"), str) else None
    crc = None
    if crc_want:
        import google_crc32c  # a dependency of google-cloud-storage

        crc = google_crc32c.Checksum()
    client = _client()
    blob = client.bucket(bucket).blob(key, generation=int(generation) if generation else None)
    with open(tmp, "wb") as out:
        writer = _VerifyingWriter(out, hashlib.md5() if md5_want else None, crc)
        try:
            # Our own checks below; raw_download keeps the stored bytes the checksums describe.
            blob.download_to_file(writer, raw_download=True, checksum=None)
        except Exception as e:  # noqa: BLE001
            err = gcs_error(e, uri)
            if err.code == "not_found" and generation:
                raise _generation_gone(path, generation, client, bucket, key, uri) from None
            raise err from None
    if checksum and writer.bytes != entry["size"]:
        raise AmphoraError("digest_mismatch", f'Reference "{path}" from {uri} arrived with {writer.bytes} bytes, but {int(entry["size"])} were recorded; retry the '
                           "download.")
    want = md5_want or crc_want
    if want:
        got = base64.b64encode(writer.md5.digest() if md5_want else crc.digest()).decode()
        if got != want:
            raise AmphoraError("reference_changed", f'Reference "{path}" at {uri} does not match what was logged: {"MD5" if md5_want else "CRC32C"} was {want}, now {got}. Log a '
                               "new artifact version to track the new content.")
    return writer.bytes


def _generation_gone(path, generation, client, bucket, key, uri):
    """The recorded generation is gone: say whether the object changed or was deleted."""
    try:
        now = client.bucket(bucket).get_blob(key)
    except Exception as e:  # noqa: BLE001
        return gcs_error(e, uri)
    if now is None:
        return AmphoraError("not_found", f'Reference "{path}" at {uri} was deleted since it was logged (generation {generation}); it cannot be '
                            "downloaded any more.")
    return AmphoraError("reference_changed", f'Reference "{path}" at {uri} changed since it was logged: generation was {generation}, now {now.generation}, and the '
                        "bucket keeps no old generations (enable Object Versioning to keep them). Log a new artifact version to "
                        "track the new content.")
