"""s3:// references (mirrors src/client/references/s3.ts), read with the user's own AWS credentials
through boto3 when it is importable (else a clear error naming the package, as W&B does).

Endpoint, region and credentials come from the standard AWS environment and config files
(AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_PROFILE, ...); path-style
addressing when an endpoint is set. An object records its ETag as digest plus its VersionId when the
bucket is versioned; a prefix expands to its objects. A download fetches the recorded VersionId when
there is one, else the current object, which must still have the recorded ETag; size and (for plain
MD5 ETags) the MD5 of the bytes are checked on the way.
"""
import hashlib
import os
import re
import threading

from .cloud_references import (cloud_uri, is_folder_marker, max_objects_of, missing_package, parse_cloud_uri, prefixed_path, resolve_bucket_uri,
                               strip_etag, too_many_objects)
from .errors import AmphoraError
from .transport import CHUNK

_clients = {}
_lock = threading.Lock()


def _endpoint():
    # Older botocore does not read the endpoint variables itself; newer reads the same ones.
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def _sdk():
    try:
        import boto3
        import botocore.config
        import botocore.exceptions
    except ImportError:
        raise missing_package("boto3", "s3", "pip install boto3") from None
    return boto3, botocore


def _client():
    """One client per AWS configuration (a long-lived process may change the environment)."""
    boto3, botocore = _sdk()
    env = os.environ
    key = (_endpoint(), env.get("AWS_REGION"), env.get("AWS_DEFAULT_REGION"), env.get("AWS_PROFILE"),
           env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY"), env.get("AWS_SESSION_TOKEN"))
    with _lock:
        client = _clients.get(key)
        if client is None:
            endpoint = _endpoint()
            config = botocore.config.Config(s3={"addressing_style": "path"} if endpoint else {},
                                            retries={"max_attempts": 3, "mode": "standard"})
            client = boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)
            _clients[key] = client
    return client


def _facts(e):
    """(error code, HTTP status, message) of a botocore ClientError."""
    resp = getattr(e, "response", None) or {}
    err = resp.get("Error") or {}
    status = (resp.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return str(err.get("Code") or ""), status, str(err.get("Message") or e)


def s3_error(e, uri):
    """Turns a boto3 failure into an error that says what was wrong and what to do."""
    if isinstance(e, AmphoraError):
        return e
    _, botocore = _sdk()
    exc = botocore.exceptions
    _, bucket, _ = parse_cloud_uri(uri)
    endpoint = _endpoint()
    if isinstance(e, (exc.NoCredentialsError, exc.PartialCredentialsError)):
        return AmphoraError("unauthorized", f"No AWS credentials to read {uri}: references are read with your own credentials. Set "
                            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (a profile in ~/.aws/config), as for "
                            "the aws CLI.")
    if isinstance(e, exc.EndpointConnectionError) or isinstance(e, (exc.ConnectionError, exc.HTTPClientError)):
        return AmphoraError("server_unreachable", f'Cannot reach S3{" at " + endpoint if endpoint else ""} for {uri} ({e}); check the network{" and AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL" if endpoint else ""}.')
    if isinstance(e, exc.ClientError):
        code, status, message = _facts(e)
        on = " and the endpoint " + endpoint if endpoint else ""
        if code == "NoSuchBucket":
            return AmphoraError("not_found", f'Bucket "{bucket}" does not exist ({uri}); check the bucket name{on}.')
        if code == "NoSuchVersion":
            return AmphoraError("not_found", f"The recorded version of {uri} no longer exists in the bucket (deleted or expired by a "
                                "lifecycle rule); it cannot be downloaded any more.")
        if code in ("NoSuchKey", "NotFound", "404") or status == 404:
            return AmphoraError("not_found", f'{uri} does not exist; check the key (and the bucket{" on " + endpoint if endpoint else ""}).')
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden", "ExpiredToken", "InvalidToken",
                    "403", "401") or status in (401, 403):
            what = code if code and not code.isdigit() else f"HTTP {status}"
            return AmphoraError("unauthorized", f"S3 refused to let your AWS credentials read {uri} ({what}: {message}); check AWS_ACCESS_KEY_ID / "
                                "AWS_PROFILE and that they may read this bucket.")
        return AmphoraError("internal", f"S3 failed on {uri} ({code or status}: {message}).")
    return AmphoraError("internal", f"S3 failed on {uri} ({type(e).__name__}: {e}).")


def _pinned(version_id):
    """A real VersionId; "null" is what unversioned objects report in a versioned listing."""
    return version_id if isinstance(version_id, str) and version_id not in ("", "null") else None


def _entry(bucket, key, etag, size, version_id, checksum):
    ref = cloud_uri("s3", bucket, key)
    if not checksum:
        return {"digest": ref, "size": size or 0, "ref": ref, "extra": {"checksum": False}}
    if not etag:
        raise AmphoraError("invalid_reference", f"{ref} has no ETag, so changes could not be detected; pass checksum=False to track "
                           "it by URI only.")
    extra = {"etag": etag}
    if _pinned(version_id):
        extra["versionId"] = version_id
    return {"digest": strip_etag(etag), "size": size or 0, "ref": ref, "extra": extra}


def _versioned(client, bucket):
    try:
        return client.get_bucket_versioning(Bucket=bucket).get("Status") in ("Enabled", "Suspended")
    except Exception as e:  # noqa: BLE001 - classified below
        err = s3_error(e, cloud_uri("s3", bucket, ""))
        if err.code == "server_unreachable" or err.message.startswith(("Bucket ", "No AWS credentials")):
            raise err from None
        # Stores without versioning (or a caller not allowed to ask) list plainly; ETags still guard.
        return False


def _list_prefix(bucket, prefix, name, checksum, max_objects, shown):
    client = _client()
    limit = max_objects_of(max_objects)
    out = []

    def add(key, etag, size, version_id=None):
        if not key or is_folder_marker(key):
            return
        if len(out) >= limit:
            raise too_many_objects(shown, limit)
        out.append((prefixed_path(prefix, key, name), _entry(bucket, key, etag, size, version_id, checksum)))

    try:
        if checksum and _versioned(client, bucket):
            for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
                for v in page.get("Versions") or []:
                    if v.get("IsLatest"):
                        add(v.get("Key"), v.get("ETag"), v.get("Size"), v.get("VersionId"))
        else:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for o in page.get("Contents") or []:
                    add(o.get("Key"), o.get("ETag"), o.get("Size"))
    except AmphoraError:
        raise
    except Exception as e:  # noqa: BLE001 - every boto3 failure becomes a clear AmphoraError
        raise s3_error(e, shown) from None
    return out


def resolve_s3_reference(uri, name=None, checksum=True, max_objects=None):
    """Manifest entries [(path, entry)] for `s3://bucket/key` (one object) or `s3://bucket/prefix/`."""

    def one_object(bucket, key, path):
        if not checksum:
            return path, _entry(bucket, key, None, 0, None, False)
        try:
            head = _client().head_object(Bucket=bucket, Key=key)
        except Exception as e:  # noqa: BLE001
            err = s3_error(e, uri)
            if err.code != "not_found":
                raise err from None
            return None
        return path, _entry(bucket, key, head.get("ETag"), head.get("ContentLength"), head.get("VersionId"), True)

    def list_prefix(bucket, prefix):
        return _list_prefix(bucket, prefix, name, checksum, max_objects, uri)

    return resolve_bucket_uri(uri, name, list_prefix, one_object, "key")


def _changed(path, entry, now):
    was = (entry.get("extra") or {}).get("etag") or entry["digest"]
    return AmphoraError("reference_changed", f'Reference "{path}" at {entry["ref"]} changed since it was logged: ETag was {was}, now {now}. No VersionId '
                        "was recorded to fetch the old content (enable versioning on the bucket to pin versions); log a new "
                        "artifact version to track the new content.")


def download_s3_reference(path, entry, tmp):
    """Fetches an s3:// entry into `tmp`, verifying what was recorded; returns the bytes read."""
    uri = entry["ref"]
    _, bucket, key = parse_cloud_uri(uri)
    extra = entry.get("extra") or {}
    checksum = extra.get("checksum") is not False
    version_id = _pinned(extra.get("versionId")) if checksum else None
    etag = extra.get("etag") if isinstance(extra.get("etag"), str) else f'"{entry["digest"]}"'
    client = _client()
    kwargs = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    elif checksum:
        # S3 refuses a changed object before sending it; stores that ignore If-Match are caught below.
        kwargs["IfMatch"] = etag
    try:
        res = client.get_object(**kwargs)
    except Exception as e:  # noqa: BLE001
        code, status, _ = _facts(e)
        if code == "PreconditionFailed" or status == 412:
            raise _changed(path, entry, "a different one") from None
        raise s3_error(e, uri) from None
    body = res["Body"]
    got_etag = res.get("ETag")
    if checksum and (not got_etag or strip_etag(got_etag) != entry["digest"]):
        body.close()
        raise _changed(path, entry, got_etag or "missing")
    # A single-part upload's ETag is the MD5 of its bytes, except under SSE-KMS or SSE-C.
    use_md5 = (checksum and re.fullmatch(r"[0-9a-f]{32}", entry["digest"]) is not None
               and not str(res.get("ServerSideEncryption") or "").startswith("aws:kms") and not res.get("SSECustomerAlgorithm"))
    md5 = hashlib.md5() if use_md5 else None
    got = 0
    try:
        with open(tmp, "wb") as out:
            while True:
                chunk = body.read(CHUNK)
                if not chunk:
                    break
                if md5:
                    md5.update(chunk)
                out.write(chunk)
                got += len(chunk)
    except OSError:
        raise
    except Exception as e:  # noqa: BLE001 - a broken connection mid-body
        raise s3_error(e, uri) from None
    finally:
        body.close()
    if checksum and got != entry["size"]:
        raise AmphoraError("digest_mismatch", f'Reference "{path}" from {uri} arrived with {got} bytes, but {int(entry["size"])} were recorded; retry the '
                           "download.")
    if md5 and md5.hexdigest() != entry["digest"]:
        raise AmphoraError("digest_mismatch", f'Reference "{path}" from {uri} arrived with MD5 {md5.hexdigest()}, but its ETag says {entry["digest"]}; the transfer was '
                           "corrupted, retry the download.")
    return got
